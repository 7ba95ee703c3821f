// The ragsvc web page: upload with progress, ask with streamed, cited answers.
import { askWithEventSource, askWithFetch, followIngest, problemOf, uploadFiles } from "./client.js";

// Where the server is mounted: "" at the root, "/rag" when a proxy serves it under /rag
// (RAGSVC_ROOT_PATH). This module is <base>/static/app.js.
const BASE = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
// A developer option, not a control: `?transport=fetch` asks with POST and fetch instead
// of EventSource, to try the other way a client can read the stream.
const TRANSPORT = new URLSearchParams(location.search).get("transport") === "fetch" ? "fetch" : "eventsource";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
const say = (problem) => problem.detail || problem.title || "something went wrong";

function apiKeyHeaders() {
  const key = $("api-key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), ...apiKeyHeaders() };
  const reply = await fetch(BASE + path, { ...options, headers });
  if (!reply.ok) {
    const problem = await problemOf(reply);
    throw Object.assign(new Error(say(problem)), { status: reply.status, problem });
  }
  return reply.status === 204 ? null : reply.json();
}

async function ensureSession() {
  try {
    return await api("/sessions/current");
  } catch (error) {
    if (error.status !== 401) throw error;
  }
  try {
    await api("/sessions", { method: "POST" });
  } catch (error) {
    if (error.status === 401) $("api-key-row").hidden = false;  // the server wants an API key
    throw error;
  }
  return api("/sessions/current");
}

function showLibraryError(message) {
  $("upload-error").textContent = message;
  $("upload-error").hidden = !message;
}

// documents -----------------------------------------------------------------------

const rows = new Map();

function renderDocument(doc) {
  const row = rows.get(doc.id) || el("li", { id: `doc-${doc.id}` });
  rows.set(doc.id, row);
  const name = doc.title || doc.filename;
  const remove = el("button", { type: "button", textContent: "Delete", ariaLabel: `Delete ${name}` });
  remove.addEventListener("click", () => deleteDocument(doc.id, row));
  const label = doc.status === "ready" ? `${doc.pages} p.` : doc.status.replace("_", " ");
  row.replaceChildren(
    el("span", { className: "name", textContent: name, title: doc.filename }),
    el("span", { className: `status ${doc.status}`, textContent: label }),
    remove,
  );
  if (doc.detail) row.append(el("small", { className: "error", textContent: doc.detail }));
  if (doc.status === "processing") row.append(el("progress", { max: 1, value: 0, ariaLabel: `Processing ${name}` }));
  if (!row.isConnected) $("documents").append(row);
  return row;
}

async function deleteDocument(id, row) {
  try {
    await api(`/documents/${id}`, { method: "DELETE" });
    row.remove();
    rows.delete(id);
  } catch (error) {
    showLibraryError(error.message);
  }
}

function showUploadProgress(sent, total) {
  const megabytes = (n) => (n / 1e6).toFixed(1);
  $("upload-progress").hidden = false;
  $("upload-bar").value = total ? sent / total : 0;
  $("upload-text").textContent = `Uploading ${megabytes(sent)} of ${megabytes(total)} MB`;
}

async function upload(files) {
  showLibraryError("");
  showUploadProgress(0, [...files].reduce((sum, file) => sum + file.size, 0));
  try {
    const reply = await uploadFiles(files, { base: BASE, headers: apiKeyHeaders(), onProgress: showUploadProgress });
    for (const doc of reply.documents) followDocument(doc);
  } catch (error) {
    showLibraryError(error.message);
  } finally {
    $("upload-progress").hidden = true;
  }
}

function followDocument(doc) {
  const row = renderDocument(doc);
  if (doc.status !== "processing") return;
  followIngest(doc.id, {
    progress(kind, data) {
      const bar = row.querySelector("progress");
      if (!bar) return;
      // Parsing is the first half of the bar, embedding the second.
      bar.value = kind === "page" ? 0.5 * data.page / data.pages : 0.5 + 0.5 * data.embedded / data.chunks;
    },
    settled: renderDocument,
  }, { base: BASE });
}

// conversation --------------------------------------------------------------------

let opener = null;  // the citation that opened the source panel: focus goes back to it

// A source, the passage its [n] rests on marked (done's quotes), with a warning when no
// passage of it supports the sentence.
function showSource(source, button, quote) {
  $("source-title").textContent = `[${source.n}] ${source.filename}, page ${source.page}`;
  const text = source.text;
  const mark = quote?.text ? el("mark", { textContent: text.slice(quote.start, quote.end) }) : null;
  if (mark) $("source-text").replaceChildren(text.slice(0, quote.start), mark, text.slice(quote.end));
  else $("source-text").textContent = text;
  $("source-check").hidden = !quote || quote.verified;
  $("source").hidden = false;
  opener = button;
  $("source").focus();
  mark?.scrollIntoView({ block: "nearest" });
}

function closeSource() {
  $("source").hidden = true;
  opener?.focus();
  opener = null;
}

// Answer text with each [n] turned into a button that shows source n and, once the answer
// is done, the quote that marker rests on (quotes: one per marker naming a source).
function renderAnswer(container, text, sources, quotes = []) {
  const parts = [];
  let last = 0;
  let cited = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    parts.push(text.slice(last, match.index));
    const source = sources[Number(match[1]) - 1];
    if (source) {
      const quote = quotes[cited++];
      const label = `Source ${source.n}: ${source.filename}, page ${source.page}`;
      const button = el("button", { type: "button", className: "cite", textContent: match[0], ariaLabel: label });
      if (quote && !quote.verified) button.classList.add("unverified");
      button.addEventListener("click", () => showSource(source, button, quote));
      parts.push(button);
    } else {
      parts.push(match[0]);
    }
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  container.replaceChildren(...parts);
}

// A turn of the conversation: the question, its answer (filled in as it streams), its sources.
function addTurn(question) {
  const answer = el("div", { className: "answer" });
  const meta = el("div", { className: "sources" });
  $("turns").append(el("article", { className: "turn" }, el("div", { className: "question", textContent: question }), answer, meta));
  return { answer, meta };
}

// The conversation the server keeps (after a reload, say): answers as text, their
// sources not kept with them.
async function showConversation() {
  const { turns } = await api("/sessions/current/turns");
  $("turns").replaceChildren();
  for (const turn of turns) {
    const { answer } = addTurn(turn.question);
    renderAnswer(answer, turn.answer, []);
    answer.dataset.done = "true";
  }
}

// The documents still being ingested when the answer was asked: searched as far as indexed.
function pendingNote(ids) {
  const names = ids.map((id) => rows.get(id)?.querySelector(".name")?.textContent || id);
  return el("div", { className: "pending", textContent: `Still being processed, searched only as far as read: ${names.join(", ")}` });
}

// asking --------------------------------------------------------------------------

let current = null;  // the answer streaming now: { stop() }

function setAsking(asking, status) {
  $("ask").hidden = asking;
  $("stop").hidden = !asking;
  $("ask-status").textContent = status;
  if (!asking && document.activeElement === document.body) $("question").focus();
}

function startAnswer(question, handlers) {
  if (TRANSPORT === "eventsource") return askWithEventSource(question, handlers, { base: BASE });
  const controller = new AbortController();
  askWithFetch(question, handlers, { base: BASE, signal: controller.signal }).catch((error) => {
    if (error.name !== "AbortError") handlers.error({ title: "Connection failed", detail: error.message });
  });
  return { close: () => controller.abort() };
}

function ask(question) {
  const { answer, meta } = addTurn(question);
  answer.setAttribute("aria-busy", "true");  // read out once whole, not token by token
  answer.replaceChildren(el("span", { className: "thinking", textContent: "Thinking" }));
  setAsking(true, "Thinking…");
  let sources = [];
  let text = "";
  const finish = (state, status) => {
    if (answer.dataset.done) return false;
    answer.dataset.done = state;
    answer.removeAttribute("aria-busy");
    current = null;
    setAsking(false, status);
    return true;
  };
  const handlers = {
    sources(list) {
      sources = list;
      meta.textContent = "Sources: " + list.map((s) => `[${s.n}] ${s.filename} p.${s.page}`).join(" · ");
    },
    token(piece) {
      if (answer.dataset.done) return;
      if (!text) $("ask-status").textContent = "Answering…";
      text += piece;
      renderAnswer(answer, text, sources);
      answer.scrollIntoView({ block: "end" });
    },
    done(data) {
      if (!finish("true", "")) return;
      renderAnswer(answer, data.answer, sources, data.quotes);
      if (data.pending?.length) meta.append(pendingNote(data.pending));
    },
    error(problem) {
      if (!finish("error", say(problem))) return;
      if (!text) answer.replaceChildren();
      answer.append(el("p", { className: "error", textContent: say(problem) }));
    },
  };
  const connection = startAnswer(question, handlers);
  current = {
    stop() {
      connection.close();
      if (!finish("stopped", "Stopped.")) return;
      if (!text) answer.replaceChildren();
      answer.append(el("span", { className: "stopped", textContent: " (stopped)" }));
    },
  };
}

// wiring --------------------------------------------------------------------------

async function start() {
  try {
    const session = await ensureSession();
    $("session-status").textContent = `session until ${new Date(session.expires_at).toLocaleString()}`;
    for (const doc of session.documents) renderDocument(doc);
    await showConversation();
  } catch (error) {
    $("session-status").textContent = `no session: ${error.message}`;
  }
}

async function newSession() {
  current?.stop();
  $("session-status").textContent = "starting a new session…";  // the old expiry must not read as the new one
  await api("/sessions/current", { method: "DELETE" }).catch(() => null);
  rows.clear();
  $("documents").replaceChildren();
  $("turns").replaceChildren();
  showLibraryError("");
  start();
}

$("file-input").addEventListener("change", (e) => { upload([...e.target.files]); e.target.value = ""; });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload(e.dataTransfer.files); });
$("ask-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const question = $("question").value.trim();
  if (!question || current) return;  // one answer at a time: the question waits in its box
  ask(question);
  $("question").value = "";
});
$("stop").addEventListener("click", () => current?.stop());
$("question").addEventListener("keydown", (e) => { if (e.key === "Escape") current?.stop(); });
$("source-close").addEventListener("click", closeSource);
$("source").addEventListener("keydown", (e) => { if (e.key === "Escape") closeSource(); });
$("new-session").addEventListener("click", () => {
  $("confirm-new").returnValue = "";  // Escape leaves the last choice in place
  $("confirm-new").showModal();
});
$("confirm-new").addEventListener("close", () => { if ($("confirm-new").returnValue === "delete") newSession(); });
$("api-key").addEventListener("change", start);
start();
