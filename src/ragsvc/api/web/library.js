// The documents: upload (the file input, or a drop anywhere on the page) with progress, the
// list with each one's ingest, and delete with a few seconds to undo.
import { followIngest, uploadFiles } from "./client.js";
import { $, BASE, api, apiKeyHeaders, el } from "./page.js";

export const rows = new Map();
// A deletion waits this long for an Undo before it is sent: nothing is deleted on the
// server until then, so Undo needs no server support and loses nothing.
const UNDO_MS = 8000;
let pending = null;  // the deletion the toast offers to undo: { id, commit(), undo() }

export function showLibraryError(message) {
  $("upload-error").textContent = message;
  $("upload-error").hidden = !message;
}

export function documentName(id) {
  return rows.get(id)?.querySelector(".name")?.textContent || id;
}

export function renderDocument(doc) {
  const row = rows.get(doc.id) || el("li", { id: `doc-${doc.id}` });
  rows.set(doc.id, row);
  const name = doc.title || doc.filename;
  const remove = el("button", { type: "button", className: "delete", textContent: "Delete", ariaLabel: `Delete ${name}` });
  remove.addEventListener("click", () => deleteDocument(doc.id, row, name));
  const label = doc.status === "ready" ? `${doc.pages} p.` : doc.status.replace("_", " ");
  row.replaceChildren(
    el("span", { className: "name", textContent: name, title: doc.filename }),
    el("span", { className: `status ${doc.status}`, textContent: label }),
    remove,
  );
  if (doc.detail) row.append(el("small", { className: "error", textContent: doc.detail }));
  if (doc.status === "processing") row.append(el("progress", { max: 1, value: 0, ariaLabel: `Processing ${name}` }));
  if (!row.isConnected && pending?.id !== doc.id) $("documents").append(row);
  return row;
}

export function clearDocuments() {
  if (pending) { clearTimeout(pending.timer); hideToast(); pending = null; }
  rows.clear();
  $("documents").replaceChildren();
}

// The row goes at once; the DELETE is sent when the toast times out or is dismissed, or
// before the next question (which must not be answered from it), or as the page is left.
function deleteDocument(id, row, name) {
  pending?.commit();
  const after = row.previousElementSibling;
  row.remove();
  const deletion = {
    id,
    timer: setTimeout(() => deletion.commit(), UNDO_MS),
    commit() {
      if (pending === deletion) { pending = null; hideToast(); }
      clearTimeout(deletion.timer);
      return deletion.sent ??= api(`/documents/${id}`, { method: "DELETE" }).then(
        () => rows.delete(id),
        (error) => { if (error.status !== 404) { putBack(row, after); showLibraryError(error.message); } },
      );
    },
    undo() {
      clearTimeout(deletion.timer);
      pending = null;
      hideToast();
      putBack(row, after);
      row.querySelector(".delete").focus();
    },
    leave() {  // the page is going: keepalive lets the request outlive it
      fetch(`${BASE}/documents/${id}`, { method: "DELETE", keepalive: true, headers: apiKeyHeaders() });
    },
  };
  pending = deletion;
  $("toast-text").textContent = `Deleted ${name}.`;
  $("toast").hidden = false;
  $("toast-undo").focus();
}

function putBack(row, after) {
  if (after?.isConnected) after.after(row);
  else $("documents").prepend(row);
}

function hideToast() {
  $("toast").hidden = true;
  $("toast-text").textContent = "";
}

/** Send the deletion waiting for an Undo, if any (before a question is asked). */
export function flushDeletion() {
  return pending ? pending.commit() : Promise.resolve();
}

function showUploadProgress(sent, total) {
  const megabytes = (n) => (n / 1e6).toFixed(1);
  $("upload-progress").hidden = false;
  $("upload-bar").value = total ? sent / total : 0;
  $("upload-text").textContent = `Uploading ${megabytes(sent)} of ${megabytes(total)} MB`;
}

export async function upload(files) {
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

// The library's controls. Files dropped anywhere on the page are uploaded: without this,
// a PDF dropped outside the drop zone would be opened by the browser in place of the page.
export function wireLibrary() {
  $("file-input").addEventListener("change", (e) => { upload([...e.target.files]); e.target.value = ""; });
  let depth = 0;  // dragenter/dragleave fire for every element crossed
  const carriesFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
  const show = (shown) => { document.body.classList.toggle("dragging", shown); $("drop").classList.toggle("over", shown); };
  window.addEventListener("dragenter", (e) => { if (carriesFiles(e)) { e.preventDefault(); depth += 1; show(true); } });
  window.addEventListener("dragover", (e) => { if (carriesFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; } });
  window.addEventListener("dragleave", (e) => { if (carriesFiles(e) && --depth <= 0) { depth = 0; show(false); } });
  window.addEventListener("drop", (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    depth = 0;
    show(false);
    if (e.dataTransfer.files.length) upload([...e.dataTransfer.files]);
  });
  $("toast-undo").addEventListener("click", () => pending?.undo());
  $("toast-close").addEventListener("click", () => pending?.commit());
  window.addEventListener("pagehide", () => { if (pending) { pending.leave(); pending = null; } });
}
