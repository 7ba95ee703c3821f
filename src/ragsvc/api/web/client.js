// ragsvc reference client: the two ways a browser reads ragsvc's Server-Sent Events, and an
// upload that reports the bytes sent. No dependencies, no build step. docs/clients.md walks
// through them.
//
//   askWithEventSource(question, handlers)  GET /ask with EventSource: the session cookie
//       authenticates, and the browser reconnects with Last-Event-ID by itself, so a
//       dropped connection resumes the same answer. Returns { close }.
//   askWithFetch(question, handlers, opts)  POST /ask with fetch(): any headers (a bearer
//       token), a JSON body (top_k, document_ids), an AbortSignal; parsed here.
//   uploadFiles(files, opts)                POST /upload with XMLHttpRequest, the one browser
//       API that reports upload progress.
//
// handlers: { sources(list), token(text), done(data), error(problem) }; every refusal
// reaches error() as the server's problem+json, whichever transport.
//
// From a page on another origin (RAGSVC_CORS_ORIGINS), pass `base`, the server's URL, and
// either a bearer `token` to askWithFetch, or `withCredentials: true` where the session
// cookie is meant to cross sites (RAGSVC_COOKIE_SAMESITE=none).

export function askWithEventSource(question, handlers, { topK, base = "", withCredentials = false } = {}) {
  const params = new URLSearchParams({ q: question });
  if (topK) params.set("top_k", String(topK));
  const url = `${base}/ask?${params}`;
  const source = new EventSource(url, { withCredentials });
  const explaining = new AbortController();
  let opened = false;
  let finished = false;
  const finish = () => { finished = true; source.close(); };
  source.addEventListener("open", () => { opened = true; });
  source.addEventListener("sources", (e) => handlers.sources(JSON.parse(e.data).sources));
  source.addEventListener("token", (e) => handlers.token(JSON.parse(e.data).text));
  source.addEventListener("done", (e) => { finish(); handlers.done(JSON.parse(e.data)); });
  // An `error` event from the server carries problem+json; a bare error is the network,
  // after which EventSource reconnects (with Last-Event-ID) unless the answer is over.
  source.addEventListener("error", (e) => {
    if (e.data) { finish(); handlers.error(JSON.parse(e.data)); return; }
    if (source.readyState !== EventSource.CLOSED || finished) return;
    finish();
    if (opened) handlers.error({ title: "Connection closed", detail: "the answer stream ended early" });
    // Refused before streaming: EventSource hides the status and the body, so ask again
    // with fetch, which shows the problem (or, if the refusal has passed, the answer).
    else askAgainWithFetch(url, handlers, { withCredentials, signal: explaining.signal });
  });
  return { close() { finish(); explaining.abort(); } };
}

async function askAgainWithFetch(url, handlers, { withCredentials, signal }) {
  const credentials = withCredentials ? "include" : "same-origin";
  try {
    const reply = await fetch(url, { headers: { Accept: "text/event-stream" }, credentials, signal });
    await readAnswer(reply, handlers);
  } catch (error) {
    if (error.name !== "AbortError") handlers.error({ title: "Connection failed", detail: error.message });
  }
}

export async function askWithFetch(
  question, handlers, { token, topK, documentIds, base = "", withCredentials = false, signal } = {},
) {
  const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const body = { question };
  if (topK) body.top_k = topK;
  if (documentIds) body.document_ids = documentIds;
  const credentials = withCredentials ? "include" : "same-origin";
  const init = { method: "POST", headers, body: JSON.stringify(body), credentials, signal };
  await readAnswer(await fetch(`${base}/ask`, init), handlers);
}

// An /ask reply to the handlers: its events, or the problem+json that refused it.
async function readAnswer(reply, handlers) {
  if (!reply.ok) { handlers.error(await problemOf(reply)); return; }
  for await (const { event, data } of readEvents(reply.body)) {
    const payload = JSON.parse(data);
    if (event === "sources") handlers.sources(payload.sources);
    else if (event === "token") handlers.token(payload.text);
    else if (event === "done") handlers.done(payload);
    else if (event === "error") handlers.error(payload);
  }
}

// The problem+json of a refused reply; a stand-in when something in between (a proxy)
// answered with something else.
export async function problemOf(reply) {
  const problem = await reply.json().catch(() => null);
  if (problem && problem.title) return problem;
  return { status: reply.status, title: reply.statusText || `HTTP ${reply.status}`, detail: "" };
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

// Upload PDFs with POST /upload (?wait=false by default: the documents come back at once as
// `processing`; follow each with followIngest). onProgress(sent, total) as the bytes go out.
// Resolves to the reply's JSON; rejects with an Error carrying the problem+json.
export function uploadFiles(files, { base = "", headers = {}, wait = false, withCredentials = false, onProgress } = {}) {
  const form = new FormData();
  for (const file of files) form.append("files", file);
  const request = new XMLHttpRequest();
  request.open("POST", `${base}/upload?wait=${wait}`);
  request.withCredentials = withCredentials;
  for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
  if (onProgress) request.upload.addEventListener("progress", (e) => onProgress(e.loaded, e.total));
  return new Promise((resolve, reject) => {
    request.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(request.responseText); } catch { /* not JSON: a proxy's page */ }
      if (request.status < 300) { resolve(body); return; }
      const problem = body?.title ? body : { status: request.status, title: request.statusText || `HTTP ${request.status}`, detail: "" };
      reject(Object.assign(new Error(problem.detail || problem.title), { problem }));
    });
    request.addEventListener("error", () => reject(new Error("the upload did not reach the server")));
    request.send(form);
  });
}
