// The ragsvc web page: upload with progress, ask with streamed, cited answers. This module
// starts the session and wires the parts: library.js (documents), conversation.js (turns).
import { $, api, timeLeft } from "./page.js";
import { clearDocuments, renderDocument, showLibraryError, wireLibrary } from "./library.js";
import { clearConversation, showConversation, wireConversation } from "./conversation.js";

let expiresAt = null;

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

// How long the session lasts, in words; the exact time on hover. Its expiry slides
// forward with use, so it is read again after each answer.
function showExpiry(session) {
  expiresAt = new Date(session.expires_at);
  tick();
}

function tick() {
  if (!expiresAt) return;
  const status = $("session-status");
  status.textContent = `Session ends ${timeLeft(expiresAt)}`;
  status.title = `Your documents and conversation are deleted ${expiresAt.toLocaleString()}, unless you use the session before then.`;
}

async function refreshExpiry() {
  try { showExpiry(await api("/sessions/current")); } catch { /* shown again on the next answer */ }
}

async function start() {
  try {
    const session = await ensureSession();
    showExpiry(session);
    for (const doc of session.documents) renderDocument(doc);
    await showConversation();
  } catch (error) {
    expiresAt = null;
    $("session-status").textContent = `No session: ${error.message}`;
  }
}

async function newSession() {
  clearConversation();
  expiresAt = null;
  $("session-status").textContent = "Starting a new session…";  // the old expiry must not read as the new one
  await api("/sessions/current", { method: "DELETE" }).catch(() => null);
  clearDocuments();
  showLibraryError("");
  start();
}

wireLibrary();
wireConversation({ answered: refreshExpiry });
$("new-session").addEventListener("click", () => {
  $("confirm-new").returnValue = "";  // Escape leaves the last choice in place
  $("confirm-new").showModal();
});
$("confirm-new").addEventListener("close", () => { if ($("confirm-new").returnValue === "delete") newSession(); });
$("api-key").addEventListener("change", start);
setInterval(tick, 30_000);
start();
