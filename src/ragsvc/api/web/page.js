// What every part of the page shares: where the server is, DOM helpers, calls to the API.
import { problemOf } from "./client.js";

// Where the server is mounted: "" at the root, "/rag" when a proxy serves it under /rag
// (RAGSVC_ROOT_PATH). This module is <base>/static/page.js.
export const BASE = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export const $ = (id) => document.getElementById(id);
export const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
export const say = (problem) => problem.detail || problem.title || "something went wrong";

export function apiKeyHeaders() {
  const key = $("api-key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

export async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), ...apiKeyHeaders() };
  const reply = await fetch(BASE + path, { ...options, headers });
  if (!reply.ok) {
    const problem = await problemOf(reply);
    throw Object.assign(new Error(say(problem)), { status: reply.status, problem });
  }
  return reply.status === 204 ? null : reply.json();
}

// "in 23 hours", "in 5 minutes": how long until `date`, in the largest unit that fits.
const RELATIVE = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [["day", 86_400_000], ["hour", 3_600_000], ["minute", 60_000]];

export function timeLeft(date, now = Date.now()) {
  const left = date.getTime() - now;
  if (left <= 0) return "now";
  if (left < 60_000) return "in less than a minute";
  for (const [unit, ms] of UNITS) {
    // 36 hours reads "in 2 days" when rounded by days: keep hours up to two days
    if (left >= ms * (unit === "day" ? 2 : 1)) return RELATIVE.format(Math.round(left / ms), unit);
  }
  return RELATIVE.format(Math.round(left / 60_000), "minute");
}
