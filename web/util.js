// @ts-check
// The dashboard's helpers: DOM building (text only: every zone-provided string goes
// through textContent or an attribute, never parsed as markup), the API client (Incus
// envelopes, operations), sparklines, formatting.

import { sparkRuns } from "./sparkgeom.js";

/**
 * An element. `attrs`: "class", "text" (textContent), "on<event>" (listener), anything
 * else an attribute (set with setAttribute: a value is never parsed as markup).
 * Children: nodes, or strings (text nodes); null/undefined/false skipped.
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = String(v);
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else e.setAttribute(k === "class" ? "class" : k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export class ApiError extends Error {
  /** @param {string} message @param {number} status */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/**
 * One API call; answers the envelope's metadata. An async answer (an operation) is
 * waited for: its metadata when it succeeds, its error when it fails.
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body] JSON, or a string sent as text/plain
 * @returns {Promise<any>}
 */
export async function api(method, url, body) {
  /** @type {RequestInit} */
  const init = { method, headers: {}, credentials: "same-origin" };
  if (typeof body === "string") init.body = body, init.headers = { "content-type": "text/plain" };
  else if (body !== undefined) init.body = JSON.stringify(body), init.headers = { "content-type": "application/json" };
  const res = await fetch(url, init);
  const text = await res.text();
  let env;
  try {
    env = JSON.parse(text);
  } catch {
    throw new ApiError(`${method} ${url}: HTTP ${res.status} (not JSON)`, res.status);
  }
  // Over TLS the session cookie is the credential: gone (expired, or the daemon restarted) means a new login.
  if (res.status === 401) throw new ApiError(`${String(env.error || "not authenticated")}: run zoneadm web for a new login URL`, 401);
  if (env.type === "error" || !res.ok) throw new ApiError(String(env.error || `${method} ${url}: HTTP ${res.status}`), env.error_code || res.status);
  if (env.type === "async") return waitOperation(env.operation || `/1.0/operations/${env.metadata?.id}`);
  return env.metadata;
}

/**
 * @param {string} op the operation's URL
 * @returns {Promise<any>}
 */
export async function waitOperation(op) {
  for (;;) {
    const res = await fetch(`${op}/wait?timeout=30`, { credentials: "same-origin" });
    const env = await res.json();
    if (env.type === "error") throw new ApiError(String(env.error), env.error_code);
    const m = env.metadata ?? {};
    if (m.status === "Failure" || m.status_code === 400) throw new ApiError(String(m.err || m.error || "the operation failed"), 400);
    if (m.status === "Success" || m.status_code === 200) return m;
    if (m.status === "Cancelled") throw new ApiError("the operation was cancelled", 400);
  }
}

/**
 * An SVG sparkline of `values` (oldest first), placed by `times` when given
 * (sparkgeom.js); empty when fewer than two points.
 * @param {number[]} values
 * @param {{ width?: number, height?: number, max?: number, label?: string, times?: number[], span?: number }} [o]
 * @returns {SVGSVGElement}
 */
export function sparkline(values, o = {}) {
  const w = o.width ?? 96, ht = o.height ?? 22;
  const NS = "http://www.w3.org/2000/svg";
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(NS, "svg"));
  svg.setAttribute("viewBox", `0 0 ${w} ${ht}`);
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(ht));
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", o.label ?? "history");
  for (const points of sparkRuns(values, { width: w, height: ht, max: o.max, times: o.times, span: o.span })) {
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", points);
    svg.append(line);
  }
  return svg;
}

/** @param {number | undefined | null} n */
export function bytes(n) {
  if (n === undefined || n === null || !Number.isFinite(n)) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) (n /= 1024), i++;
  return `${n < 10 && i > 0 ? n.toFixed(1) : Math.round(n)} ${u[i]}`;
}

/** @param {number | undefined | null} s CPU seconds */
export function seconds(s) {
  if (s === undefined || s === null || !Number.isFinite(s)) return "–";
  return s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`;
}

/** @param {number | undefined | null} s */
export function duration(s) {
  if (s === undefined || s === null || !Number.isFinite(s)) return "–";
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${hh}h` : hh ? `${hh}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
}

/** A message for the user, read by screen readers too. @param {string} text @param {boolean} [error] */
export function toast(text, error = false) {
  const t = /** @type {HTMLElement} */ (document.getElementById("toast"));
  t.textContent = text;
  t.className = error ? "toast error" : "toast";
  t.hidden = false;
  clearTimeout(Number(t.dataset.timer));
  t.dataset.timer = String(setTimeout(() => (t.hidden = true), error ? 8000 : 3000));
}

/**
 * Ask for one line of text (a new zone's name) in the page's own dialog, not the
 * browser's prompt: styled as the rest, and its Escape and Enter are the page's.
 * Resolves with the text typed, or undefined when cancelled or left empty.
 * @param {string} title @param {string} label @param {string} verb the OK button's label
 * @returns {Promise<string | undefined>}
 */
export function askText(title, label, verb) {
  const d = /** @type {HTMLDialogElement} */ (document.getElementById("ask"));
  const form = /** @type {HTMLFormElement} */ (document.getElementById("ask-form"));
  const input = /** @type {HTMLInputElement} */ (document.getElementById("ask-input"));
  const cancel = /** @type {HTMLButtonElement} */ (document.getElementById("ask-cancel"));
  /** @type {HTMLElement} */ (document.getElementById("ask-title")).textContent = title;
  /** @type {HTMLElement} */ (document.getElementById("ask-label")).textContent = label;
  /** @type {HTMLElement} */ (document.getElementById("ask-ok")).textContent = verb;
  input.value = "";
  return new Promise((resolve) => {
    /** @param {string | undefined} v */
    const done = (v) => {
      form.onsubmit = cancel.onclick = d.oncancel = null;
      d.close();
      resolve(v);
    };
    form.onsubmit = (e) => {
      e.preventDefault();
      done(input.value.trim() || undefined);
    };
    cancel.onclick = () => done(undefined);
    d.oncancel = () => done(undefined);
    d.showModal();
    input.focus();
  });
}

/**
 * Ask before a destructive action; resolves true when confirmed.
 * @param {string} title @param {string} text @param {string} verb the confirm button's label
 * @returns {Promise<boolean>}
 */
export function confirmAction(title, text, verb) {
  const d = /** @type {HTMLDialogElement} */ (document.getElementById("confirm"));
  /** @type {HTMLElement} */ (document.getElementById("confirm-title")).textContent = title;
  /** @type {HTMLElement} */ (document.getElementById("confirm-text")).textContent = text;
  const ok = /** @type {HTMLButtonElement} */ (document.getElementById("confirm-ok"));
  const cancel = /** @type {HTMLButtonElement} */ (document.getElementById("confirm-cancel"));
  ok.textContent = verb;
  return new Promise((resolve) => {
    /** @param {boolean} v */
    const done = (v) => {
      ok.onclick = cancel.onclick = d.oncancel = null;
      d.close();
      resolve(v);
    };
    ok.onclick = () => done(true);
    cancel.onclick = () => done(false);
    d.oncancel = () => done(false);
    d.showModal();
    cancel.focus();
  });
}
