/**
 * /metrics: the Prometheus text exposition format (version 0.0.4) of every zone's usage
 * (zoneusage.ts) and the daemon's own counters. Our own code rather than prom-client:
 * the format is a few lines to write, the per-zone series are read fresh at each scrape
 * (a client library's registry would hold one gauge object per zone and need pruning as
 * zones go), and the daemon's bundle stays dependency-free.
 *
 * Series (labels zone and brand on every per-zone one):
 *   zones_zone_state{state}                 1 for the zone's state, 0 for the others
 *   zones_zone_cpu_seconds_total            CPU time since ready (restarts at each boot)
 *   zones_zone_memory_bytes, _memory_cap_bytes
 *   zones_zone_pids, zones_zone_pids_cap
 *   zones_zone_network_receive_bytes_total, _transmit_bytes_total (host-side veths)
 *   zones_zone_uptime_seconds
 *   zones_zone_console_bytes_total{direction="out"|"in"}
 *   zones_zones{state}                      zones of this root by state
 *   zones_operation_duration_seconds{operation,result}  histogram of Daemon.handle
 *   zones_broker_connections                open zone event-channel connections
 *   zones_host_*                            the host's size and load, the reserve
 * A series whose value the kernel does not have (a halted zone's memory, an uncapped
 * zone's cap) is left out, never written as 0.
 */
import { STATES } from "../document/store/state.js";
import { OPERATIONS, type Operation } from "./protocol.js";
import type { HostUsageReport, ZoneUsage } from "./zoneusage.js";

/** Upper bounds of the operation latency buckets, seconds: a ping takes a millisecond, a debian install a minute. */
export const OPERATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const;

interface Series {
  /** Count per bucket (not cumulative), then the +Inf overflow. */
  buckets: number[];
  count: number;
  sum: number;
}

/** Operation counts and latencies, by operation and result ("ok" or "error"). */
export class OperationMetrics {
  private readonly series = new Map<string, Series>();

  observe(op: string, ok: boolean, seconds: number): void {
    // Only known operations name a series: a client's made-up op must not add one per request.
    const name: Operation | "unknown" = (OPERATIONS as readonly string[]).includes(op) ? (op as Operation) : "unknown";
    const key = `${name}\0${ok ? "ok" : "error"}`;
    let s = this.series.get(key);
    if (!s) {
      s = { buckets: new Array<number>(OPERATION_BUCKETS.length + 1).fill(0), count: 0, sum: 0 };
      this.series.set(key, s);
    }
    let i = OPERATION_BUCKETS.findIndex((b) => seconds <= b);
    if (i < 0) i = OPERATION_BUCKETS.length;
    s.buckets[i]!++;
    s.count++;
    s.sum += seconds;
  }

  /** Time `fn` (the daemon's handle) and count its reply as ok or error. */
  async timed<R extends { ok: boolean }>(op: string, fn: () => Promise<R>): Promise<R> {
    const t0 = process.hrtime.bigint();
    let ok = false;
    try {
      const r = await fn();
      ok = r.ok;
      return r;
    } finally {
      this.observe(op, ok, Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }

  entries(): { operation: string; result: string; series: Readonly<Series> }[] {
    return [...this.series].map(([k, series]) => {
      const [operation = "", result = ""] = k.split("\0");
      return { operation, result, series };
    });
  }
}

/** Console bytes per zone and direction (console.ts counts them). */
export type ConsoleBytes = ReadonlyMap<string, { out: number; in: number }>;

/** What a scrape reads. */
export interface MetricsSnapshot {
  zones: readonly ZoneUsage[];
  host: HostUsageReport;
  operations: OperationMetrics;
  brokerConnections: number;
  consoleBytes: ConsoleBytes;
}

/** A label value as the format wants it: backslash, double quote and newline escaped. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** A sample value: integers as they are, +Inf/-Inf/NaN spelled as the format does. */
function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Builds the text one metric family at a time (HELP, TYPE, then its samples). */
class Exposition {
  private readonly out: string[] = [];

  family(name: string, type: "gauge" | "counter" | "histogram", help: string): void {
    this.out.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`);
  }

  /** `labels` is already rendered (`zone="a",brand="b"`), or "". */
  sample(name: string, labels: string, v: number): void {
    this.out.push(labels === "" ? `${name} ${num(v)}` : `${name}{${labels}} ${num(v)}`);
  }

  text(): string {
    return this.out.join("\n") + "\n";
  }
}

/** The exposition of one scrape. */
export function renderMetrics(s: MetricsSnapshot): string {
  const e = new Exposition();
  // Each zone's labels are escaped once, not once per series.
  const zl = s.zones.map((z) => `zone="${escapeLabel(z.name)}",brand="${escapeLabel(z.brand)}"`);
  const perZone = (name: string, type: "gauge" | "counter", help: string, pick: (z: ZoneUsage) => number | undefined): void => {
    e.family(name, type, help);
    s.zones.forEach((z, i) => {
      const v = pick(z);
      if (v !== undefined) e.sample(name, zl[i]!, v);
    });
  };

  e.family("zones_zone_state", "gauge", "1 for the state the zone is in, 0 for every other state.");
  s.zones.forEach((z, i) => {
    for (const st of STATES) e.sample("zones_zone_state", `${zl[i]!},state="${st}"`, z.state === st ? 1 : 0);
  });
  perZone("zones_zone_cpu_seconds_total", "counter", "CPU time the zone's cgroup used since the zone was made ready, seconds.", (z) => z.cpuSeconds);
  perZone("zones_zone_memory_bytes", "gauge", "Memory charged to the zone's cgroup, bytes.", (z) => z.memoryBytes);
  perZone("zones_zone_memory_cap_bytes", "gauge", "The zone's hard memory limit (capped-memory physical), bytes; absent when it has none.", (z) => z.memoryCapBytes);
  perZone("zones_zone_pids", "gauge", "Tasks (processes and threads) in the zone.", (z) => z.pids);
  perZone("zones_zone_pids_cap", "gauge", "The zone's tasks limit (pids.max); absent when it has none.", (z) => z.pidsCap);
  perZone("zones_zone_network_receive_bytes_total", "counter", "Bytes the zone received on its host-side veths.", (z) => z.rxBytes);
  perZone("zones_zone_network_transmit_bytes_total", "counter", "Bytes the zone sent on its host-side veths.", (z) => z.txBytes);
  perZone("zones_zone_uptime_seconds", "gauge", "Seconds since the zone was made ready.", (z) => z.uptimeSeconds);

  e.family("zones_zone_console_bytes_total", "counter", "Bytes through the zone's console since the daemon started: out from the zone, in from the attached client.");
  s.zones.forEach((z, i) => {
    const c = s.consoleBytes.get(z.name);
    if (!c) return;
    e.sample("zones_zone_console_bytes_total", `${zl[i]!},direction="out"`, c.out);
    e.sample("zones_zone_console_bytes_total", `${zl[i]!},direction="in"`, c.in);
  });

  e.family("zones_zones", "gauge", "Zones of this root by state.");
  for (const st of STATES) e.sample("zones_zones", `state="${st}"`, s.host.zonesByState[st]);

  e.family("zones_operation_duration_seconds", "histogram", "Time zoneadmd took for each operation, by operation and result.");
  for (const { operation, result, series } of s.operations.entries()) {
    const l = `operation="${escapeLabel(operation)}",result="${escapeLabel(result)}"`;
    let cum = 0;
    OPERATION_BUCKETS.forEach((b, i) => {
      cum += series.buckets[i]!;
      e.sample("zones_operation_duration_seconds_bucket", `${l},le="${b}"`, cum);
    });
    e.sample("zones_operation_duration_seconds_bucket", `${l},le="+Inf"`, series.count);
    e.sample("zones_operation_duration_seconds_sum", l, series.sum);
    e.sample("zones_operation_duration_seconds_count", l, series.count);
  }

  e.family("zones_broker_connections", "gauge", "Open connections to the zones' event-channel endpoints.");
  e.sample("zones_broker_connections", "", s.brokerConnections);

  const h = s.host;
  const host = (name: string, type: "gauge" | "counter", help: string, v: number | undefined): void => {
    if (v === undefined) return;
    e.family(name, type, help);
    e.sample(name, "", v);
  };
  host("zones_host_cpus", "gauge", "Online CPUs of the host.", h.ncpus);
  host("zones_host_cpu_busy_seconds_total", "counter", "CPU time the host spent on anything but idle, all CPUs, seconds.", h.cpuBusySeconds);
  e.family("zones_host_load", "gauge", "The host's load average over 1, 5 and 15 minutes.");
  ["1", "5", "15"].forEach((m, i) => e.sample("zones_host_load", `minutes="${m}"`, h.load[i]!));
  host("zones_host_memory_bytes", "gauge", "The host's memory, bytes.", h.memoryTotalBytes);
  host("zones_host_memory_used_bytes", "gauge", "The host's memory in use (MemTotal - MemAvailable), bytes.", h.memoryUsedBytes);
  host("zones_host_reserve_memory_bytes", "gauge", "Memory the global zone keeps from all zones (reserve-memory), bytes.", h.reserve?.memory);
  host("zones_host_reserve_pids", "gauge", "Tasks the global zone keeps from all zones (reserve-pids).", h.reserve?.pids);
  host("zones_host_zones_memory_bytes", "gauge", "Memory all zones of this root use together, bytes.", h.zonesMemoryBytes);
  host("zones_host_zones_pids", "gauge", "Tasks of all zones of this root together.", h.zonesPids);
  return e.text();
}
