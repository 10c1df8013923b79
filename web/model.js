// @ts-check
// What the dashboard reads from the API, in one place: the zone objects of
// `GET /1.0/zones?recursion=1`, the history of `GET /1.0/zones/<n>/history`, the host of
// `GET /1.0/host`, and the events of `GET /1.0/events`. Each reader turns the API's
// JSON into the few numbers the pages draw, and tolerates a field that is absent (a
// halted zone has no usage).
import { api } from "./util.js";

/**
 * @typedef {{ name: string, state: string, brand: string, cpu?: number,
 *   memory?: number, memoryCap?: number, rx?: number, tx?: number, pids?: number,
 *   uptime?: number, raw: Record<string, any> }} Zone
 * @typedef {{ t: number[], cpu: number[], memory: number[], net: number[], span?: number }} History
 */

/** @param {unknown} v @returns {number | undefined} */
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** @param {Record<string, any>} z @returns {Zone} */
export function zoneOf(z) {
  const u = z.usage && typeof z.usage === "object" ? z.usage : {};
  return {
    name: String(z.name ?? ""),
    state: String(z.state ?? z.status ?? ""),
    brand: String(z.brand ?? ""),
    cpu: num(u.cpuSeconds ?? u.cpu_seconds),
    memory: num(u.memoryBytes ?? u.memory_bytes),
    memoryCap: num(u.memoryCapBytes ?? u.memory_cap_bytes),
    rx: num(u.rxBytes ?? u.rx_bytes),
    tx: num(u.txBytes ?? u.tx_bytes),
    pids: num(u.pids),
    uptime: num(u.uptimeSeconds ?? u.uptime_s),
    raw: z,
  };
}

/** @returns {Promise<Zone[]>} */
export async function listZones() {
  const m = await api("GET", "/1.0/zones?recursion=1");
  return (Array.isArray(m) ? m : []).filter((z) => z && typeof z === "object").map(zoneOf);
}

/** @param {string} name @returns {Promise<Zone>} */
export async function getZone(name) {
  return zoneOf(await api("GET", `/1.0/zones/${encodeURIComponent(name)}`));
}

/**
 * The history route's samples (oldest first; history.ts documents the shape): CPU as
 * CPUs used, memory in bytes, network as bytes per second in and out together. A null
 * (no value from the kernel, or the first sample of a boot) is a gap, drawn as 0.
 * @param {any} m the route's metadata
 * @returns {History}
 */
export function historyOf(m) {
  const samples = Array.isArray(m?.samples) ? m.samples : [];
  /** @type {History} */
  const out = { t: [], cpu: [], memory: [], net: [], span: num(m?.span_s) };
  for (const s of samples) {
    const t = num(s?.t);
    if (t === undefined) continue;
    out.t.push(t);
    out.cpu.push(num(s.cpu) ?? 0);
    out.memory.push(num(s.memory_bytes) ?? 0);
    out.net.push((num(s.rx_bytes_per_s) ?? 0) + (num(s.tx_bytes_per_s) ?? 0));
  }
  return out;
}

/** @param {string} name @returns {Promise<History>} */
export async function zoneHistory(name) {
  return historyOf(await api("GET", `/1.0/zones/${encodeURIComponent(name)}/history`));
}

/**
 * Every event of the stream, as parsed JSON, to `onEvent`; `onState` learns whether the
 * stream is up. EventSource reconnects by itself after a drop.
 * @param {(e: any) => void} onEvent
 * @param {(up: boolean) => void} onState
 * @returns {EventSource}
 */
export function events(onEvent, onState) {
  const es = new EventSource("/1.0/events?type=lifecycle,operation", { withCredentials: true });
  /** @param {MessageEvent} m */
  const deliver = (m) => {
    try {
      onEvent(JSON.parse(m.data));
    } catch {
      // A line that is not JSON is no event of ours: ignored.
    }
  };
  es.onmessage = deliver;
  for (const type of ["lifecycle", "operation"]) es.addEventListener(type, deliver);
  es.onopen = () => onState(true);
  es.onerror = () => onState(false);
  return es;
}

/**
 * The addresses a zone's configuration gives it (`add net` … `set address=` or
 * `allowed-address=`), read from its export text: zone objects carry no addresses.
 * @param {string} text
 * @returns {string[]}
 */
export function addressesOf(text) {
  const out = [];
  let inNet = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "add net") inNet = true;
    else if (line === "end") inNet = false;
    else if (inNet) {
      const m = /^set (?:allowed-)?address=(.+)$/.exec(line);
      if (m) out.push(m[1].replace(/^"(.*)"$/, "$1"));
    }
  }
  return out;
}

/** @param {string} name @returns {Promise<string>} the zone's export text */
export async function zoneConfig(name) {
  const m = await api("GET", `/1.0/zones/${encodeURIComponent(name)}/config`);
  return typeof m === "string" ? m : String(m?.export ?? "");
}

/** "last hour", "last 4 min": what a history's span covers. @param {number | undefined} s seconds */
export function spanText(s) {
  if (!s) return "last hour";
  return s % 3600 === 0 ? (s === 3600 ? "last hour" : `last ${s / 3600} h`) : `last ${Math.round(s / 60)} min`;
}
