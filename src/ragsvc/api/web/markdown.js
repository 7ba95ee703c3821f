// A small Markdown renderer for answers, safe by construction: it builds DOM nodes with
// createElement and text nodes and never parses HTML, so whatever an answer holds
// (<script>, <img onerror=...>, a javascript: link) shows as text. Chosen over a vendored
// library (marked + DOMPurify: ~60 kB, two projects to keep up to date, HTML parsed then
// cleaned) because answers need only a few constructs:
//   paragraphs and line breaks, **strong**, *em* / _em_, `code`, ``` fenced code ```,
//   bulleted and numbered lists, headings (shown as a strong line), [links](https://...)
//   to http(s) URLs only (anything else shows as its text).
// `[n]` citation markers are handed to `cite(n, inert)`, which returns the node standing
// for them (or null: the marker stays text); inside code they are passed with inert=true,
// so the caller can count them and keep its quotes in step with the server's.

const FENCE = /^\s*(```|~~~)/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;
const HEADING = /^\s*#{1,6}\s+(.*?)\s*#*\s*$/;
const MARKER = /\[(\d+)\]/g;
const INLINE = new RegExp([
  /`([^`\n]+)`/.source, // 1 code
  /\*\*(?=\S)([\s\S]*?\S)\*\*/.source, // 2 strong
  /__(?=\S)([\s\S]*?\S)__/.source, // 3 strong
  /\*(?=[^\s*])([\s\S]*?[^\s*])\*/.source, // 4 em
  /(?<!\w)_(?=[^\s_])([\s\S]*?[^\s_])_(?!\w)/.source, // 5 em
  /\[([^\]\n]+)\]\(([^)\s]+)\)/.source, // 6, 7 link
  /\[(\d+)\]/.source, // 8 citation
].join("|"), "g");

const node = (tag, ...children) => {
  const element = document.createElement(tag);
  element.append(...children);
  return element;
};

/** The Markdown `text` as a DocumentFragment. */
export function renderMarkdown(text, { cite = () => null } = {}) {
  const out = document.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let at = 0;
  while (at < lines.length) {
    const line = lines[at];
    if (!line.trim()) at += 1;
    else if (FENCE.test(line)) at = codeBlock(lines, at, out, cite);
    else if (HEADING.test(line)) {
      const heading = node("p", node("strong", ...inline(line.match(HEADING)[1], cite)));
      heading.className = "md-heading";
      out.append(heading);
      at += 1;
    } else if (BULLET.test(line) || NUMBERED.test(line)) at = list(lines, at, out, cite);
    else at = paragraph(lines, at, out, cite);
  }
  return out;
}

const startsBlock = (line) => !line.trim() || FENCE.test(line) || HEADING.test(line)
  || BULLET.test(line) || NUMBERED.test(line);

function paragraph(lines, at, out, cite) {
  const p = node("p");
  let first = true;
  for (; at < lines.length && (first || !startsBlock(lines[at])); at += 1) {
    if (!first) p.append(node("br"));
    p.append(...inline(lines[at].trim(), cite));
    first = false;
  }
  out.append(p);
  return at;
}

// A fenced block runs to its closing fence, or to the end (an answer still streaming).
function codeBlock(lines, at, out, cite) {
  const fence = lines[at].trim().slice(0, 3);
  const body = [];
  for (at += 1; at < lines.length && !lines[at].trim().startsWith(fence); at += 1) body.push(lines[at]);
  const text = body.join("\n");
  inert(text, cite);
  out.append(node("pre", node("code", text)));
  return at + 1;
}

// Consecutive items of one kind; an indented line that starts no item continues the last.
function list(lines, at, out, cite) {
  const numbered = NUMBERED.test(lines[at]) && !BULLET.test(lines[at]);
  const pattern = numbered ? NUMBERED : BULLET;
  const items = node(numbered ? "ol" : "ul");
  if (numbered) items.start = Number(lines[at].match(NUMBERED)[1]);
  let item = null;
  for (; at < lines.length && lines[at].trim(); at += 1) {
    const match = lines[at].match(pattern);
    if (match) {
      item = node("li", ...inline(numbered ? match[2] : match[1], cite));
      items.append(item);
    } else if (/^\s+\S/.test(lines[at]) && item && !startsBlock(lines[at])) {
      item.append(" ", ...inline(lines[at].trim(), cite));
    } else break;
  }
  out.append(items);
  return at;
}

function inline(text, cite) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    parts.push(text.slice(last, match.index));
    parts.push(inlineNode(match, cite));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts.filter((part) => part !== "");
}

function inlineNode(match, cite) {
  const [whole, code, strong, strong2, em, em2, label, href, marker] = match;
  if (code !== undefined) { inert(code, cite); return node("code", code); }
  if (strong !== undefined || strong2 !== undefined) return node("strong", ...inline(strong ?? strong2, cite));
  if (em !== undefined || em2 !== undefined) return node("em", ...inline(em ?? em2, cite));
  if (label !== undefined) return link(label, href, cite);
  return cite(Number(marker), false) || whole;
}

function link(label, href, cite) {
  const url = safeUrl(href);
  if (!url) return node("span", ...inline(label, cite));
  const anchor = node("a", ...inline(label, cite));
  anchor.href = url;
  anchor.target = "_blank";
  anchor.rel = "noopener noreferrer nofollow";
  return anchor;
}

/** `href` when it is an absolute http(s) URL; null for anything else (javascript:, data:, ...). */
export function safeUrl(href) {
  try {
    const url = new URL(href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function inert(text, cite) {
  for (const match of text.matchAll(MARKER)) cite(Number(match[1]), true);
}
