// @ts-check
// What the dashboard reads from the API, in one place: the zone objects of
// `GET /1.0/zones?recursion=1`, the history of `GET /1.0/zones/<n>/history`, the host of
// `GET /1.0/host`, and the events of `GET /1.0/events`. Each reader turns the API's
// JSON into the few numbers the pages draw, and tolerates a field that is absent (a
// halted zone has no usage).
import { api } from "./util.js";

/**
 * @typedef {{ name: string, state: string, brand: string, ip: string, cpu?: number,
 *   memory?: number, memoryCap?: number, rx?: number, tx?: number, pids?: number,
 *   uptime?: number, raw: Record<string, any> }} Zone
 * @typedef {{ t: number[], cpu: number[], memory: number[], net: number[] }} History
 */

/** @param {unknown} v @returns {number | undefined} */
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** @param {Record<string, any>} z @returns {Zone} */
export function zoneOf(z) {
  const u = z.usage ?? z.state_usage ?? z;
  /** @type {string[]} */
  const ips = [];
  for (const n of Array.isArray(z.net) ? z.net : Array.isArray(z.networks) ? z.networks : []) {
    const a = n?.address ?? n?.allowed_address ?? n?.["allowed-address"];
    if (typeof a === "string" && a) ips.push(a);
  }
  if (typeof z.ip === "string" && z.ip) ips.push(z.ip);
  if (Array.isArray(z.addresses)) for (const a of z.addresses) if (typeof a === "string") ips.push(a);
  return {
    name: String(z.name ?? ""),
    state: String(z.state ?? z.status ?? ""),
    brand: String(z.brand ?? ""),
    ip: [...new Set(ips)].join(", "),
    cpu: num(u.cpuSeconds ?? u.cpu_seconds ?? u.cpu?.usage),
    memory: num(u.memoryBytes ?? u.memory_bytes ?? u.memory?.usage),
    memoryCap: num(u.memoryCapBytes ?? u.memory_cap_bytes ?? u.memory?.cap),
    rx: num(u.rxBytes ?? u.rx_bytes ?? u.network?.rx),
    tx: num(u.txBytes ?? u.tx_bytes ?? u.network?.tx),
    pids: num(u.pids),
    uptime: num(u.uptimeSeconds ?? u.uptime_seconds),
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
 * Samples (oldest first) → rates: CPU as cores used (seconds per second), network as
 * bytes per second; memory as it is. A counter that went down (the zone rebooted)
 * counts from zero.
 * @param {any} m the route's metadata
 * @returns {History}
 */
export function historyOf(m) {
  const samples = Array.isArray(m) ? m : Array.isArray(m?.samples) ? m.samples : [];
  /** @type {History} */
  const out = { t: [], cpu: [], memory: [], net: [] };
  let prev;
  for (const s of samples) {
    const t = Date.parse(s.time ?? s.t ?? s.at) / 1000 || num(s.ts) || num(s.timestamp);
    if (t === undefined) continue;
    const cur = { t, cpu: num(s.cpuSeconds) ?? 0, mem: num(s.memoryBytes) ?? 0, net: (num(s.rxBytes) ?? 0) + (num(s.txBytes) ?? 0) };
    if (prev && cur.t > prev.t) {
      const dt = cur.t - prev.t;
      out.t.push(cur.t);
      out.cpu.push(Math.max(0, cur.cpu >= prev.cpu ? cur.cpu - prev.cpu : cur.cpu) / dt);
      out.net.push(Math.max(0, cur.net >= prev.net ? cur.net - prev.net : cur.net) / dt);
      out.memory.push(cur.mem);
    }
    prev = cur;
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
  const es = new EventSource("/1.0/events", { withCredentials: true });
  /** @param {MessageEvent} m */
  const deliver = (m) => {
    try {
      onEvent(JSON.parse(m.data));
    } catch {
      // A line that is not JSON is no event of ours: ignored.
    }
  };
  es.onmessage = deliver;
  for (const type of ["lifecycle", "operation", "logging"]) es.addEventListener(type, deliver);
  es.onopen = () => onState(true);
  es.onerror = () => onState(false);
  return es;
}
