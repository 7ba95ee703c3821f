// The ragsvc web page: upload with progress, ask with streamed, cited answers.
import { askWithEventSource, askWithFetch, followIngest } from "./client.js";

// Where the server is mounted: "" at the root, "/rag" when a proxy serves it under /rag
// (RAGSVC_ROOT_PATH). This module is <base>/static/app.js.
const BASE = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  const key = $("api-key").value.trim();
  if (key) headers["X-API-Key"] = key;
  const reply = await fetch(BASE + path, { ...options, headers });
  const body = reply.status === 204 ? null : await reply.json().catch(() => null);
  if (!reply.ok) throw Object.assign(new Error(body?.detail || reply.statusText), { status: reply.status, body });
  return body;
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

// documents -----------------------------------------------------------------------

const rows = new Map();

function renderDocument(doc) {
  const row = rows.get(doc.id) || el("li", { id: `doc-${doc.id}` });
  rows.set(doc.id, row);
  const remove = el("button", { type: "button", textContent: "Delete", title: "Delete this document" });
  remove.addEventListener("click", async () => {
    await api(`/documents/${doc.id}`, { method: "DELETE" });
    row.remove();
    rows.delete(doc.id);
  });
  const label = doc.status === "ready" ? `${doc.pages} p.` : doc.status.replace("_", " ");
  row.replaceChildren(
    el("span", { className: "name", textContent: doc.title || doc.filename, title: doc.filename }),
    el("span", { className: `status ${doc.status}`, textContent: label }),
    remove,
  );
  if (doc.detail) row.append(el("small", { className: "error", textContent: doc.detail }));
  if (doc.status === "processing") row.append(el("progress", { max: 1, value: 0 }));
  if (!row.isConnected) $("documents").append(row);
  return row;
}

async function upload(files) {
  $("upload-error").hidden = true;
  const form = new FormData();
  for (const file of files) form.append("files", file);
  try {
    const reply = await api("/upload?wait=false", { method: "POST", body: form });
    for (const doc of reply.documents) {
      const row = renderDocument(doc);
      if (doc.status !== "processing") continue;
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
  } catch (error) {
    $("upload-error").textContent = error.message;
    $("upload-error").hidden = false;
  }
}

// conversation --------------------------------------------------------------------

function showSource(source) {
  $("source-title").textContent = `[${source.n}] ${source.filename}, page ${source.page}`;
  $("source-text").textContent = source.text;
  $("source").hidden = false;
}

// Answer text with each [n] turned into a button that shows source n.
function renderAnswer(container, text, sources) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    parts.push(text.slice(last, match.index));
    const source = sources[Number(match[1]) - 1];
    if (source) {
      const button = el("button", { type: "button", className: "cite", textContent: match[0] });
      button.addEventListener("click", () => showSource(source));
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
  $("turns").append(el("li", {}, el("div", { className: "question", textContent: question }), answer, meta));
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

function ask(question) {
  const { answer, meta } = addTurn(question);
  let sources = [];
  let text = "";
  const handlers = {
    sources(list) {
      sources = list;
      meta.textContent = "Sources: " + list.map((s) => `[${s.n}] ${s.filename} p.${s.page}`).join(" · ");
    },
    token(piece) { text += piece; renderAnswer(answer, text, sources); answer.scrollIntoView({ block: "end" }); },
    done(data) { renderAnswer(answer, data.answer, sources); answer.dataset.done = "true"; },
    error(problem) {
      answer.append(el("p", { className: "error", textContent: `${problem.title}: ${problem.detail}` }));
      answer.dataset.done = "error";
    },
  };
  if ($("transport").value === "fetch") askWithFetch(question, handlers, { base: BASE }).catch((e) => handlers.error({ title: "Error", detail: e.message }));
  else askWithEventSource(question, handlers, { base: BASE });
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

$("file-input").addEventListener("change", (e) => upload(e.target.files));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload(e.dataTransfer.files); });
$("ask-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const question = $("question").value.trim();
  if (question) ask(question);
  $("question").value = "";
});
$("source-close").addEventListener("click", () => { $("source").hidden = true; });
$("new-session").addEventListener("click", async () => {
  await api("/sessions/current", { method: "DELETE" }).catch(() => null);
  rows.clear();
  $("documents").replaceChildren();
  $("turns").replaceChildren();
  start();
});
$("api-key").addEventListener("change", start);
start();
