/**
 * Reading zones: GET /1.0 (what the server is), GET /1.0/zones (URLs, or full objects
 * with ?recursion=1) and GET /1.0/zones/<name>: the fields of `zoneadm list -p`
 * (zoneid, name, state, zonepath, uuid, brand, ip-type) plus the init's pid and, where
 * the usage reader is wired in, resource usage. A delegated admin sees only her zones.
 */
import type { IndexEntry } from "../../document/store/repository.js";
import type { ZoneState } from "../../document/store/state.js";
import { ZoneError, EXIT_ERR } from "../../native/errors.js";
import { checkZoneName } from "../../document/names.js";
import type { Api } from "./api.js";
import { badRequest } from "./errors.js";
import type { Router } from "./router.js";

export interface ZoneObject {
  name: string;
  state: ZoneState;
  brand: string;
  /** As `zoneadm list -p` says it: "shared" or "excl". */
  ip_type: "shared" | "excl";
  uuid: string;
  zonepath: string;
  /** The zone ID while ready or running, else null. */
  zoneid: number | null;
  /** The host pid of the zone's init while it runs, else null. */
  pid: number | null;
  /** Resource usage (daemon/zoneusage.ts ZoneUsage: cpuSeconds, memoryBytes, pids, rxBytes, ...), where a reader is wired in (Api.usage); null otherwise. */
  usage: unknown;
}

export const zoneUrl = (name: string): string => `/1.0/zones/${encodeURIComponent(name)}`;

const ACTIVE: readonly ZoneState[] = ["ready", "running", "shutting_down", "down"];

/** The zone objects of index entries `es` (each reads its run state: one small file; usage in one pass). */
export function zoneObjects(api: Api, es: readonly IndexEntry[]): ZoneObject[] {
  const usage = api.usage ? api.usage(es) : [];
  return es.map((e, i) => zoneObject(api, e, usage[i]));
}

function zoneObject(api: Api, e: IndexEntry, usage: unknown): ZoneObject {
  const run = ACTIVE.includes(e.state) ? api.daemon.platform.readRun(e.name) : undefined;
  return {
    name: e.name,
    state: e.state,
    brand: e.brand,
    ip_type: e.ipType === "exclusive" ? "excl" : "shared",
    uuid: e.uuid,
    zonepath: e.zonepath,
    zoneid: run?.id ?? null,
    pid: run && run.pid > 0 ? run.pid : null,
    usage: usage ?? null,
  };
}

/** The zone's index entry; 404 (the commands' message) when there is none. */
export function entryOf(api: Api, name: string): IndexEntry {
  checkZoneName(name);
  const e = api.daemon.platform.repo.find(name);
  if (!e) throw new ZoneError("no such zone configured", EXIT_ERR, "missing");
  return e;
}

export function register(router: Router, api: Api): void {
  router.add("GET", "/1.0", "anyone", { summary: "The server: API version, the runtime, the caller as the server sees it" }, (r) => ({
    sync: {
      api_version: "1.0",
      api_status: "development",
      server: "zoneadmd",
      server_pid: process.pid,
      runtime: api.daemon.runtimeVersion,
      auth: r.caller.uid === 0 ? "trusted" : "untrusted",
      caller: { uid: r.caller.uid, via: r.caller.via },
    },
  }));
  router.add("GET", "/1.0/zones", "handler", { summary: "The zones the caller may see: URLs, or objects with ?recursion=1" }, (r) => {
    const recursion = r.query.get("recursion") ?? "0";
    if (recursion !== "0" && recursion !== "1") throw badRequest(`recursion must be 0 or 1, not ${JSON.stringify(recursion)}`);
    const mine = new Set(api.access.visible(r.caller, "list zones"));
    const entries = api.daemon.platform.repo.list().filter((e) => mine.has(e.name));
    return { sync: recursion === "1" ? zoneObjects(api, entries) : entries.map((e) => zoneUrl(e.name)) };
  });
  router.add("GET", "/1.0/zones/:name", { verb: "show", zone: "name" }, { summary: "One zone: state, brand, ip-type, uuid, zonepath, zoneid, pid, usage" }, (r) => ({
    sync: zoneObjects(api, [entryOf(api, r.params.name!)])[0],
  }));
}
