// Talks to ragsvc the way useChat does, without React: the AI SDK's own Chat (AbstractChat,
// which @ai-sdk/react's Chat extends with a React state) over its DefaultChatTransport with
// the default request body (no prepareSendMessagesRequest). Asks each question in turn, as
// one conversation, and prints the chat as JSON: {status, error, messages}.
// Usage: node ai_sdk_chat.mjs BASE TOKEN QUESTION [QUESTION...]
import { AbstractChat, DefaultChatTransport } from "ai";

// What @ai-sdk/react keeps in React state, kept in plain fields.
class PlainState {
  status = "ready";
  error = undefined;
  messages = [];
  pushMessage = (message) => { this.messages = [...this.messages, message]; };
  popMessage = () => { this.messages = this.messages.slice(0, -1); };
  replaceMessage = (index, message) => {
    this.messages = this.messages.map((old, i) => (i === index ? message : old));
  };
  snapshot = (thing) => structuredClone(thing);
}

class Chat extends AbstractChat {
  constructor(options) {
    super({ ...options, state: new PlainState() });
  }
}

const [base, token, ...questions] = process.argv.slice(2);
const chat = new Chat({
  transport: new DefaultChatTransport({
    api: `${base}/ask?format=ai-sdk`,
    headers: { Authorization: `Bearer ${token}` },
  }),
});
for (const text of questions) {
  await chat.sendMessage({ text });
  if (chat.error) break;
}
console.log(JSON.stringify({
  status: chat.status,
  error: chat.error?.message ?? null,
  messages: chat.messages,
}));
