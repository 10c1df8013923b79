/**
 * The usage part of the API: GET /metrics (Prometheus text, metrics.ts), GET
 * /1.0/zones/<name>/history (the zone's last hour, history.ts documents the JSON),
 * GET /1.0/host (the host page: size, load, the global zone's reserve, zones by
 * state, the host's history), and each zone object's `usage` (zones.ts). /metrics and
 * /1.0/host show every zone and the host: root's (verb "metrics"); a zone's history
 * is for whoever may see the zone.
 */
import type { ZoneUsage } from "../zoneusage.js";
import type { Api } from "./api.js";
import { entryOf } from "./zones.js";
import type { Router } from "./router.js";

/** The content type Prometheus asks for and reads. */
export const METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A zone object's `usage`: null fields where the kernel has nothing (a halted zone: all null). */
export interface UsageJson {
  cpu_seconds: number | null;
  memory_bytes: number | null;
  memory_cap_bytes: number | null;
  pids: number | null;
  pids_cap: number | null;
  rx_bytes: number | null;
  tx_bytes: number | null;
  uptime_s: number | null;
  since: string | null;
}

export function usageJson(u: ZoneUsage | undefined): UsageJson {
  return {
    cpu_seconds: u?.cpuSeconds ?? null,
    memory_bytes: u?.memoryBytes ?? null,
    memory_cap_bytes: u?.memoryCapBytes ?? null,
    pids: u?.pids ?? null,
    pids_cap: u?.pidsCap ?? null,
    rx_bytes: u?.rxBytes ?? null,
    tx_bytes: u?.txBytes ?? null,
    uptime_s: u?.uptimeSeconds ?? null,
    since: u?.since ?? null,
  };
}

export function register(router: Router, api: Api): void {
  const usage = api.daemon.usage;
  router.add("GET", "/metrics", { verb: "metrics" }, { summary: "Every zone's usage and the daemon's counters, in Prometheus text format", produces: METRICS_TYPE }, () => ({
    text: usage.metrics(),
    type: METRICS_TYPE,
  }));
  router.add("GET", "/1.0/host", { verb: "metrics" }, { summary: "The host: CPUs, memory, load, the global zone's reserve, zones by state, the last hour's history" }, () => ({
    sync: usage.host(),
  }));
  router.add("GET", "/1.0/zones/:name/history", { verb: "show", zone: "name" }, { summary: "The zone's usage over the last hour, one sample per interval (15 s)" }, (r) => {
    const name = entryOf(api, r.params.name!).name;
    return { sync: usage.history.zone(name) };
  });
}
