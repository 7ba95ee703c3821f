"""Other clients' protocols ragsvc speaks: the Vercel AI SDK's (its request body, its UI
message stream) and OpenAI's (chat completions, the Responses API), and the page links
their citations carry."""
