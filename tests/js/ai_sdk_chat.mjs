// Reads one ragsvc answer the way useChat does (the AI SDK's DefaultChatTransport and
// readUIMessageStream), without React: prints the final UI message as JSON.
// Usage: node ai_sdk_chat.mjs BASE TOKEN QUESTION
import { DefaultChatTransport, readUIMessageStream } from "ai";

const [base, token, question] = process.argv.slice(2);
const transport = new DefaultChatTransport({
  api: `${base}/ask?format=ai-sdk`,
  headers: { Authorization: `Bearer ${token}` },
  // useChat sends its messages; ragsvc wants the question (it keeps the conversation).
  prepareSendMessagesRequest: ({ messages }) => ({
    body: { question: messages.at(-1).parts.map((part) => part.text ?? "").join("") },
  }),
});
const stream = await transport.sendMessages({
  chatId: "chat",
  messageId: undefined,
  trigger: "submit-message",
  abortSignal: undefined,
  messages: [{ id: "q1", role: "user", parts: [{ type: "text", text: question }] }],
});
let message;
for await (const state of readUIMessageStream({
  stream,
  onError: (error) => { throw error; },
})) {
  message = state;
}
console.log(JSON.stringify(message));
