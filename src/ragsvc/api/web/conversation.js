// The conversation: each turn's question, its answer (Markdown, streamed) with [n] citation
// chips, its sources as chips, copy and regenerate; the source panel a chip opens, with
// the cited page drawn by the server and the quoted passage marked.
import { askWithEventSource, askWithFetch } from "./client.js";
import { renderMarkdown } from "./markdown.js";
import { $, BASE, api, el, say } from "./page.js";
import { documentName, flushDeletion } from "./library.js";

// A developer option, not a control: `?transport=fetch` asks with POST and fetch instead
// of EventSource, to try the other way a client can read the stream.
const TRANSPORT = new URLSearchParams(location.search).get("transport") === "fetch" ? "fetch" : "eventsource";
let opener = null;  // the chip that opened the source panel: focus goes back to it
let current = null;  // the answer streaming now: { stop() }
let onAnswered = () => {};

// source panel ----------------------------------------------------------------------

function pageImageUrl(source, quote) {
  const panel = $("source").clientWidth || 400;
  // Whole hundreds of pixels, so the images of one page at one size are cached as one.
  const width = Math.min(1200, Math.max(300, Math.ceil((panel * devicePixelRatio) / 200) * 200));
  const params = new URLSearchParams({ width: String(width) });
  if (quote?.text) params.set("quote", quote.text.slice(0, 2000));
  return `${BASE}/documents/${encodeURIComponent(source.document_id)}/pages/${source.page}?${params}`;
}

// A source: the passage its [n] rests on marked (done's quotes), a warning when no passage
// of it supports the sentence, and its page as the server draws it, the passage highlighted.
function showSource(source, chip, quote) {
  $("source-title").textContent = `[${source.n}] ${source.filename}, page ${source.page}`;
  const text = source.text;
  const mark = quote?.text ? el("mark", { textContent: text.slice(quote.start, quote.end) }) : null;
  if (mark) $("source-text").replaceChildren(text.slice(0, quote.start), mark, text.slice(quote.end));
  else $("source-text").textContent = text;
  $("source-check").hidden = !quote || quote.verified;
  $("source").hidden = false;
  const image = $("source-page");
  image.alt = `Page ${source.page} of ${source.filename}${mark ? ", the quoted passage highlighted" : ""}`;
  $("source-page-note").textContent = "Loading the page…";
  image.hidden = true;
  showPage(pageImageUrl(source, quote));
  opener = chip;
  $("source").focus();
  mark?.scrollIntoView({ block: "nearest" });
}

// The page is fetched first to read where the quote was marked (X-Highlight-Box), then
// shown from the browser's cache (the image is cacheable; the page's policy allows no
// blob: URLs), and the panel scrolls to the mark once the image is in.
let showing = "";

async function showPage(url) {
  showing = url;
  const image = $("source-page");
  image.dataset.box = "";
  try {
    const reply = await fetch(url);
    if (showing !== url) return;  // another source was opened meanwhile
    image.dataset.box = reply.headers.get("X-Highlight-Box") || "";
  } catch { /* the image's own request reports the failure */ }
  image.src = url;
}

function scrollToMark() {
  const image = $("source-page");
  const [, top, , bottom] = (image.dataset.box || "").split(",").map(Number);
  if (!image.dataset.box || !image.height) return;
  const panel = $("source");
  const middle = image.offsetTop + image.height * (top + bottom) / 2;
  panel.scrollTop = Math.max(0, middle - panel.clientHeight / 2);
}

function closeSource() {
  showing = "";
  $("source").hidden = true;
  $("source-page").removeAttribute("src");
  opener?.focus();
  opener = null;
}

// turns -------------------------------------------------------------------------------

function citeChip(source, quote) {
  const label = `Source ${source.n}: ${source.filename}, page ${source.page}`;
  const chip = el("button", { type: "button", className: "cite", textContent: String(source.n), ariaLabel: label, title: label });
  if (quote && !quote.verified) chip.classList.add("unverified");
  chip.addEventListener("click", () => showSource(source, chip, quote));
  return chip;
}

// Answer text as Markdown, each [n] a chip that shows source n and, once the answer is
// done, the quote that marker rests on (quotes: one per marker naming a source, in order).
function renderAnswer(container, text, sources, quotes = []) {
  let cited = 0;
  const cite = (n, inert) => {
    const source = sources[n - 1];
    if (!source) return null;
    const quote = quotes[cited++];
    return inert ? null : citeChip(source, quote);
  };
  container.replaceChildren(renderMarkdown(text, { cite }));
}

function renderSources(list, sources) {
  list.replaceChildren(...sources.map((source) => {
    const label = `${source.filename}, p. ${source.page}`;
    // Read out as "Source 1: keeper.pdf, p. 2"; the words around the number are for the ear.
    const chip = el("button", { type: "button", className: "chip", title: source.section || label },
      el("span", { className: "visually-hidden", textContent: "Source " }),
      el("span", { className: "n", textContent: String(source.n) }),
      el("span", { className: "visually-hidden", textContent: ": " }), label);
    chip.addEventListener("click", () => showSource(source, chip, null));
    return el("li", {}, chip);
  }));
}

// A turn: the question, its answer, its sources, and what can be done with the answer.
function addTurn(question) {
  const answer = el("div", { className: "answer" });
  const sources = el("ul", { className: "sources", ariaLabel: "Sources" });
  const copy = el("button", { type: "button", className: "copy", textContent: "Copy" });
  const again = el("button", { type: "button", className: "regenerate", textContent: "Regenerate" });
  const actions = el("div", { className: "actions" }, copy, again);
  const turn = el("article", { className: "turn" }, el("div", { className: "question", textContent: question }), answer, sources, actions);
  turn.dataset.text = "";
  copy.addEventListener("click", () => copyAnswer(turn.dataset.text));
  again.addEventListener("click", () => { if (!current) ask(question); });
  $("turns").append(turn);
  return { turn, answer, sources };
}

async function copyAnswer(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {  // no clipboard API (a page served over plain http from another host)
    const scratch = el("textarea", { value: text, readOnly: true, className: "visually-hidden" });
    document.body.append(scratch);
    scratch.select();
    document.execCommand("copy");
    scratch.remove();
  }
  $("ask-status").textContent = "Answer copied.";
}

// The conversation the server keeps (after a reload, say), shown as it was when fresh.
export async function showConversation() {
  const { turns } = await api("/sessions/current/turns");
  $("turns").replaceChildren();
  for (const past of turns) {
    const { turn, answer, sources } = addTurn(past.question);
    const cited = past.sources || [];
    renderAnswer(answer, past.answer, cited, past.quotes || []);
    renderSources(sources, cited);
    turn.dataset.text = past.answer;
    answer.dataset.done = "true";
  }
}

// The documents still being ingested when the answer was asked: searched as far as indexed.
function pendingNote(ids) {
  return el("p", { className: "pending", textContent: `Still being processed, searched only as far as read: ${ids.map(documentName).join(", ")}` });
}

// asking ------------------------------------------------------------------------------

function setAsking(asking, status) {
  $("ask").hidden = asking;
  $("stop").hidden = !asking;
  document.body.classList.toggle("asking", asking);
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

export async function ask(question) {
  const { turn, answer, sources: list } = addTurn(question);
  answer.setAttribute("aria-busy", "true");  // read out once whole, not token by token
  answer.replaceChildren(el("span", { className: "thinking", textContent: "Thinking" }));
  setAsking(true, "Thinking…");
  let sources = [];
  let text = "";
  const finish = (state, status) => {
    if (answer.dataset.done) return false;
    answer.dataset.done = state;
    answer.removeAttribute("aria-busy");
    turn.dataset.text = text;
    current = null;
    setAsking(false, status);
    onAnswered();
    return true;
  };
  const handlers = {
    sources(got) { sources = got; renderSources(list, got); },
    token(piece) {
      if (answer.dataset.done) return;
      if (!text) $("ask-status").textContent = "Answering…";
      text += piece;
      renderAnswer(answer, text, sources);
      answer.scrollIntoView({ block: "end" });
    },
    done(data) {
      text = data.answer;
      if (!finish("true", "")) return;
      renderAnswer(answer, data.answer, sources, data.quotes);
      if (data.pending?.length) list.after(pendingNote(data.pending));
    },
    error(problem) {
      if (!finish("error", say(problem))) return;
      if (!text) answer.replaceChildren();
      answer.append(el("p", { className: "error", textContent: say(problem) }));
    },
  };
  let connection = { close() {} };
  current = {
    stop() {
      connection.close();
      if (!finish("stopped", "Stopped.")) return;
      if (!text) answer.replaceChildren();
      answer.append(el("p", { className: "stopped", textContent: "(stopped)" }));
    },
  };
  await flushDeletion();  // a document deleted a moment ago must not answer this
  if (current) connection = startAnswer(question, handlers);
}

export function stopAnswer() {
  current?.stop();
}

export function clearConversation() {
  current?.stop();
  $("turns").replaceChildren();
}

export function wireConversation({ answered }) {
  onAnswered = answered;
  $("ask-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const question = $("question").value.trim();
    if (!question || current) return;  // one answer at a time: the question waits in its box
    ask(question);
    $("question").value = "";
  });
  $("stop").addEventListener("click", stopAnswer);
  $("question").addEventListener("keydown", (e) => { if (e.key === "Escape") stopAnswer(); });
  $("source-close").addEventListener("click", closeSource);
  $("source").addEventListener("keydown", (e) => { if (e.key === "Escape") closeSource(); });
  const image = $("source-page");
  image.addEventListener("load", () => { image.hidden = false; $("source-page-note").textContent = ""; scrollToMark(); });
  image.addEventListener("error", () => {
    if (!image.getAttribute("src")) return;
    image.hidden = true;
    $("source-page-note").textContent = "The page cannot be shown (uploaded before pages were kept?).";
  });
}
