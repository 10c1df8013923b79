/**
 * The usage part of the API: GET /metrics (Prometheus text, metrics.ts), GET
 * /1.0/zones/<name>/history (the zone's last hour, history.ts documents the JSON),
 * GET /1.0/host (the host page: size, load, the global zone's reserve, zones by
 * state, the host's history). Zone objects' `usage` (zones.ts) is the same reader's. /metrics and
 * /1.0/host show every zone and the host: root's (verb "metrics"); a zone's history
 * is for whoever may see the zone.
 */
import type { Api } from "./api.js";
import { entryOf } from "./zones.js";
import type { Router } from "./router.js";

/** The content type Prometheus asks for and reads. */
export const METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

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
