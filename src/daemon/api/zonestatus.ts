/**
 * GET /1.0/zones/<name>/state, as Incus has it: what the zone is doing now, not what it
 * is: its state (and Incus's status word for it), the init's pid, the zone ID, since
 * when it has been ready and for how long, and its resource usage. The same reads as
 * GET /1.0/zones/<name> (zones.ts): the run state and the usage reader.
 */
import type { Api } from "./api.js";
import type { Router } from "./router.js";
import { entryOf, zoneObjects } from "./zones.js";

export interface ZoneStatus {
  state: string;
  /** Incus's word: Running (ready, running, shutting down), Stopped (installed), or the state. */
  status: string;
  pid: number | null;
  zoneid: number | null;
  /** When the zone was made ready (its run state), ISO 8601; null while it is not. */
  since: string | null;
  /** Seconds since then; null while it is not ready or running. */
  uptime_seconds: number | null;
  usage: unknown;
}

function statusWord(state: string): string {
  if (state === "ready" || state === "running" || state === "shutting_down" || state === "down") return "Running";
  if (state === "installed") return "Stopped";
  return state.charAt(0).toUpperCase() + state.slice(1);
}

export function zoneStatus(api: Api, name: string): ZoneStatus {
  const e = entryOf(api, name);
  const z = zoneObjects(api, [e])[0]!;
  // The run state's `since`, read only while there is one (zoneObject read it for the pid).
  const run = z.zoneid !== null ? api.daemon.platform.readRun(e.name) : undefined;
  const t = run ? Date.parse(run.since) : NaN;
  const up = Number.isFinite(t);
  return {
    state: z.state,
    status: statusWord(z.state),
    pid: z.pid,
    zoneid: z.zoneid,
    since: up ? run!.since : null,
    uptime_seconds: up ? Math.max(0, Math.round((Date.now() - t) / 100) / 10) : null,
    usage: z.usage,
  };
}

export function register(router: Router, api: Api): void {
  router.add("GET", "/1.0/zones/:name/state", { verb: "show", zone: "name" }, { summary: "The zone's state now: state, status, pid, zoneid, since, uptime_seconds, usage" }, (r) => ({
    sync: zoneStatus(api, r.params.name!),
  }));
}
