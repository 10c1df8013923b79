/**
 * Usage history for the web console's sparklines: zoneadmd samples every zone's usage
 * (zoneusage.ts) every INTERVAL (15 s; ZONES_HISTORY_INTERVAL_MS overrides it, for
 * tests) and keeps the last hour (240 samples; with another interval, 240 samples of
 * it) in a fixed-size ring per zone and one for the host.
 * Memory is bounded: a ring is CAPACITY samples of FIELDS doubles (about 17 KiB), only
 * zones that were ready or running within the hour have one, a zone no longer
 * configured loses its ring at the next sample, and a halted zone's ring goes once its
 * newest sample is older than the span.
 *
 * JSON served (the API's sync envelope carries it as `metadata`; samples oldest first,
 * `t` in milliseconds since the epoch, null where the kernel had no value):
 *
 * GET /1.0/zones/<name>/history
 *   { "zone": "web", "interval_s": 15, "span_s": 3600,
 *     "samples": [ { "t": 1767225600000, "state": "running",
 *                    "cpu": 0.013,                  CPUs used on average over the interval ending at t;
 *                                                   null at the first sample of a boot
 *                    "memory_bytes": 8765440, "memory_cap_bytes": 268435456 | null,
 *                    "pids": 4, "pids_cap": 200 | null,
 *                    "rx_bytes_per_s": 12.5 | null, "tx_bytes_per_s": 3.0 | null } ] }
 *   A configured zone that never ran within the hour: "samples": [].
 *
 * GET /1.0/host
 *   { "cpus": 2, "load": [0.52, 0.40, 0.31],
 *     "cpu_busy": 1.2,                               CPUs busy now (over the last interval); null before two samples
 *     "memory_total_bytes": …, "memory_used_bytes": …, "swap_total_bytes": …, "swap_used_bytes": …, "pid_max": 4194304,
 *     "reserve": { "memory_bytes": …, "pids": … } | null,     the global zone's reserve (reserve.ts)
 *     "zones_limit": { "memory_bytes": …, "pids": … } | null, what all zones of the root may use together
 *     "reserve_error": "…",                          only when the setting file is refused (then both are null)
 *     "zones_memory_bytes": … | null, "zones_pids": … | null, all zones of the root together
 *     "zones_by_state": { "configured": 1, "incomplete": 0, "installed": 3, "ready": 0, "running": 2, … every state },
 *     "history": { "interval_s": 15, "span_s": 3600,
 *                  "samples": [ { "t": …, "cpu_busy": 1.2 | null, "memory_used_bytes": …, "zones_memory_bytes": … | null,
 *                                 "load1": 0.52, "running": 2 } ] } }
 */
import { STATES, type ZoneState } from "../document/store/state.js";
import type { HostUsageReport, ZoneUsage } from "./zoneusage.js";

export const INTERVAL_MS = 15_000;
export const SPAN_MS = 3_600_000;

/** Zone ring columns. */
const Z = { t: 0, state: 1, cpu: 2, mem: 3, memCap: 4, pids: 5, pidsCap: 6, rx: 7, tx: 8 } as const;
/** Host ring columns. */
const H = { t: 0, cpu: 1, mem: 2, zonesMem: 3, load1: 4, running: 5 } as const;
const FIELDS = 9;
const HOST_FIELDS = 6;

/** A fixed-size ring of rows of doubles; NaN stands for null. */
class Ring {
  private readonly data: Float64Array;
  private head = 0;
  length = 0;

  constructor(
    readonly capacity: number,
    private readonly width: number,
  ) {
    this.data = new Float64Array(capacity * width).fill(NaN);
  }

  push(row: readonly number[]): void {
    this.data.set(row, this.head * this.width);
    this.head = (this.head + 1) % this.capacity;
    this.length = Math.min(this.length + 1, this.capacity);
  }

  /** Rows oldest first. */
  rows(): Float64Array[] {
    const out: Float64Array[] = [];
    for (let i = 0; i < this.length; i++) {
      const at = (this.head - this.length + i + this.capacity) % this.capacity;
      out.push(this.data.subarray(at * this.width, (at + 1) * this.width));
    }
    return out;
  }

  newest(): Float64Array | undefined {
    if (this.length === 0) return undefined;
    const at = (this.head - 1 + this.capacity) % this.capacity;
    return this.data.subarray(at * this.width, (at + 1) * this.width);
  }
}

/** The counters last seen of a zone, to turn them into rates. */
interface Last {
  t: number;
  since: string | undefined;
  cpu: number | undefined;
  rx: number | undefined;
  tx: number | undefined;
}

const nn = (v: number | undefined): number => (v === undefined ? NaN : v);
const out = (v: number | undefined): number | null => (v === undefined || Number.isNaN(v) ? null : v);
/** A rate per second from two counter readings; undefined when either is missing or the counter went back. */
function rate(now: number | undefined, before: number | undefined, seconds: number): number | undefined {
  if (now === undefined || before === undefined || seconds <= 0 || now < before) return undefined;
  return (now - before) / seconds;
}

export interface ZoneSampleJson {
  t: number;
  state: ZoneState;
  cpu: number | null;
  memory_bytes: number | null;
  memory_cap_bytes: number | null;
  pids: number | null;
  pids_cap: number | null;
  rx_bytes_per_s: number | null;
  tx_bytes_per_s: number | null;
}

export interface HostSampleJson {
  t: number;
  cpu_busy: number | null;
  memory_used_bytes: number;
  zones_memory_bytes: number | null;
  load1: number;
  running: number;
}

export class History {
  private readonly zones = new Map<string, { ring: Ring; last: Last }>();
  private readonly host: Ring;
  private lastHost?: { t: number; busy: number };
  /** What the rings cover: capacity samples, one per interval (an hour at 15 s). */
  readonly spanMs: number;

  constructor(
    readonly intervalMs = INTERVAL_MS,
    /** Samples per ring: fixed, so a shorter test interval shortens the span, not the bound. */
    readonly capacity = SPAN_MS / INTERVAL_MS,
  ) {
    this.spanMs = capacity * intervalMs;
    this.host = new Ring(capacity, HOST_FIELDS);
  }

  /** Zones holding a ring now (the memory bound's test reads it). */
  get tracked(): number {
    return this.zones.size;
  }

  /** One sample of every zone of the root (all configured zones: the rest lose their rings) and the host. */
  sample(zones: readonly ZoneUsage[], host: HostUsageReport, now = Date.now()): void {
    const configured = new Set<string>();
    for (const z of zones) {
      configured.add(z.name);
      const live = z.memoryBytes !== undefined || z.pids !== undefined || z.cpuSeconds !== undefined;
      let h = this.zones.get(z.name);
      if (!live) {
        // Halted: keep the hour it ran in, then forget it.
        const t = h?.ring.newest()?.[Z.t];
        if (h && t !== undefined && now - t > this.spanMs) this.zones.delete(z.name);
        if (h) h.last = { t: now, since: undefined, cpu: undefined, rx: undefined, tx: undefined };
        continue;
      }
      if (!h) this.zones.set(z.name, (h = { ring: new Ring(this.capacity, FIELDS), last: { t: now, since: undefined, cpu: undefined, rx: undefined, tx: undefined } }));
      // Counters restart at each boot: no rate across two boots.
      const same = h.last.since !== undefined && h.last.since === z.since;
      const dt = (now - h.last.t) / 1000;
      const row = new Array<number>(FIELDS);
      row[Z.t] = now;
      row[Z.state] = STATES.indexOf(z.state);
      row[Z.cpu] = nn(same ? rate(z.cpuSeconds, h.last.cpu, dt) : undefined);
      row[Z.mem] = nn(z.memoryBytes);
      row[Z.memCap] = nn(z.memoryCapBytes);
      row[Z.pids] = nn(z.pids);
      row[Z.pidsCap] = nn(z.pidsCap);
      row[Z.rx] = nn(same ? rate(z.rxBytes, h.last.rx, dt) : undefined);
      row[Z.tx] = nn(same ? rate(z.txBytes, h.last.tx, dt) : undefined);
      h.ring.push(row);
      h.last = { t: now, since: z.since, cpu: z.cpuSeconds, rx: z.rxBytes, tx: z.txBytes };
    }
    for (const name of this.zones.keys()) if (!configured.has(name)) this.zones.delete(name);
    const busy = this.lastHost ? rate(host.cpuBusySeconds, this.lastHost.busy, (now - this.lastHost.t) / 1000) : undefined;
    this.lastHost = { t: now, busy: host.cpuBusySeconds };
    this.host.push([now, nn(busy), host.memoryUsedBytes, nn(host.zonesMemoryBytes), host.load[0], host.zonesByState.running]);
  }

  /** A zone's samples, oldest first; [] for a zone without a ring. */
  zone(name: string): { zone: string; interval_s: number; span_s: number; samples: ZoneSampleJson[] } {
    const rows = this.zones.get(name)?.ring.rows() ?? [];
    return {
      zone: name,
      interval_s: this.intervalMs / 1000,
      span_s: this.spanMs / 1000,
      samples: rows.map((r) => ({
        t: r[Z.t]!,
        state: STATES[r[Z.state]!] ?? "running",
        cpu: out(r[Z.cpu]),
        memory_bytes: out(r[Z.mem]),
        memory_cap_bytes: out(r[Z.memCap]),
        pids: out(r[Z.pids]),
        pids_cap: out(r[Z.pidsCap]),
        rx_bytes_per_s: out(r[Z.rx]),
        tx_bytes_per_s: out(r[Z.tx]),
      })),
    };
  }

  /** The host page: what the host has now and its history. */
  hostJson(h: HostUsageReport): Record<string, unknown> {
    const amounts = (a: { memory: number; pids: number } | undefined): { memory_bytes: number; pids: number } | null => (a ? { memory_bytes: a.memory, pids: a.pids } : null);
    const samples: HostSampleJson[] = this.host.rows().map((r) => ({
      t: r[H.t]!,
      cpu_busy: out(r[H.cpu]),
      memory_used_bytes: r[H.mem]!,
      zones_memory_bytes: out(r[H.zonesMem]),
      load1: r[H.load1]!,
      running: r[H.running]!,
    }));
    return {
      cpus: h.ncpus,
      load: h.load,
      cpu_busy: samples.at(-1)?.cpu_busy ?? null,
      memory_total_bytes: h.memoryTotalBytes,
      memory_used_bytes: h.memoryUsedBytes,
      swap_total_bytes: h.swapTotalBytes,
      swap_used_bytes: h.swapUsedBytes,
      pid_max: h.pidMax,
      reserve: amounts(h.reserve),
      zones_limit: amounts(h.zonesLimit),
      ...(h.reserveError === undefined ? {} : { reserve_error: h.reserveError }),
      zones_memory_bytes: h.zonesMemoryBytes ?? null,
      zones_pids: h.zonesPids ?? null,
      zones_by_state: h.zonesByState,
      history: { interval_s: this.intervalMs / 1000, span_s: this.spanMs / 1000, samples },
    };
  }
}

/** The sampling interval: INTERVAL_MS, or ZONES_HISTORY_INTERVAL_MS (at least 100 ms) for tests. */
export function historyInterval(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.ZONES_HISTORY_INTERVAL_MS);
  return Number.isSafeInteger(v) && v >= 100 ? v : INTERVAL_MS;
}
