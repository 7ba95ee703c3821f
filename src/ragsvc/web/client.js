// ragsvc reference client: the two ways a browser reads ragsvc's Server-Sent Events.
// No dependencies, no build step. docs/clients.md walks through both.
//
//   askWithEventSource(question, handlers)  GET /ask with EventSource: the session cookie
//       authenticates, and the browser reconnects with Last-Event-ID by itself, so a
//       dropped connection resumes the same answer.
//   askWithFetch(question, handlers, body)  POST /ask with fetch(): any headers (a bearer
//       token), a JSON body (top_k, document_ids); the stream is read and parsed here.
//
// handlers: { sources(list), token(text), done(data), error(problem) }
//
// From a page on another origin (RAGSVC_CORS_ORIGINS), pass `base`, the server's URL, and
// either a bearer `token` to askWithFetch, or `withCredentials: true` where the session
// cookie is meant to cross sites (RAGSVC_COOKIE_SAMESITE=none).

export function askWithEventSource(question, handlers, { topK, base = "", withCredentials = false } = {}) {
  const params = new URLSearchParams({ q: question });
  if (topK) params.set("top_k", String(topK));
  const source = new EventSource(`${base}/ask?${params}`, { withCredentials });
  let finished = false;
  const finish = () => { finished = true; source.close(); };
  source.addEventListener("sources", (e) => handlers.sources(JSON.parse(e.data).sources));
  source.addEventListener("token", (e) => handlers.token(JSON.parse(e.data).text));
  source.addEventListener("done", (e) => { finish(); handlers.done(JSON.parse(e.data)); });
  // An `error` event from the server carries problem+json; a bare error is the network,
  // after which EventSource reconnects (with Last-Event-ID) unless the answer is over.
  source.addEventListener("error", (e) => {
    if (e.data) { finish(); handlers.error(JSON.parse(e.data)); }
    else if (source.readyState === EventSource.CLOSED && !finished) {
      handlers.error({ title: "Connection closed", detail: "the stream could not be opened" });
    }
  });
  return { close: finish };
}

export async function askWithFetch(
  question, handlers, { token, topK, documentIds, base = "", withCredentials = false } = {},
) {
  const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const body = { question };
  if (topK) body.top_k = topK;
  if (documentIds) body.document_ids = documentIds;
  const credentials = withCredentials ? "include" : "same-origin";
  const init = { method: "POST", headers, body: JSON.stringify(body), credentials };
  const reply = await fetch(`${base}/ask`, init);
  if (!reply.ok) { handlers.error(await reply.json()); return; }  // problem+json
  for await (const { event, data } of readEvents(reply.body)) {
    const payload = JSON.parse(data);
    if (event === "sources") handlers.sources(payload.sources);
    else if (event === "token") handlers.token(payload.text);
    else if (event === "done") handlers.done(payload);
    else if (event === "error") handlers.error(payload);
  }
}

// Parse an SSE byte stream into {event, data, id} records; comment lines are skipped.
export async function* readEvents(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const record = { event: "message", data: "", id: null };
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const at = line.indexOf(":");
        const field = at < 0 ? line : line.slice(0, at);
        const text = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (field === "data") data.push(text);
        else if (field === "event") record.event = text;
        else if (field === "id") record.id = text;
      }
      if (data.length) { record.data = data.join("\n"); yield record; }
    }
  }
}

// Follow a document's ingestion: page and chunk progress, then its final status.
export function followIngest(documentId, { progress, settled }, { base = "", withCredentials = false } = {}) {
  const url = `${base}/documents/${encodeURIComponent(documentId)}/events`;
  const source = new EventSource(url, { withCredentials });
  source.addEventListener("page", (e) => progress("page", JSON.parse(e.data)));
  source.addEventListener("chunks", (e) => progress("chunks", JSON.parse(e.data)));
  for (const status of ["ready", "no_text", "failed"]) {
    source.addEventListener(status, (e) => { source.close(); settled(JSON.parse(e.data)); });
  }
  return source;
}
