/**
 * Zone resource controls (illumos resource_controls(7)) and the global-property
 * aliases that stand for them. Each alias is only a view of its rctl: the model keeps
 * the rctl and nothing else.
 */
import { ZoneError, q } from "../native/errors.js";
import type { RctlResource, RctlValue, ZoneConfig } from "./model.js";
import { formatBytes, parseBytes, parseCount } from "./units.js";

export interface RctlDef {
  name: string;
  /** Values in bytes: aliases accept K/M/G/T and print with them. */
  bytes: boolean;
  /** Actions the rctl allows. */
  actions: readonly string[];
  /** Smallest limit that means anything (a CPU cap of 0 would stop the zone). */
  min?: number;
}

const DENY = ["none", "deny", "signal"] as const;

export const RCTLS: readonly RctlDef[] = [
  { name: "zone.cpu-shares", bytes: false, actions: ["none"] },
  { name: "zone.cpu-cap", bytes: false, actions: ["none", "deny"], min: 1 },
  { name: "zone.max-lwps", bytes: false, actions: DENY },
  { name: "zone.max-processes", bytes: false, actions: DENY },
  { name: "zone.max-msg-ids", bytes: false, actions: DENY },
  { name: "zone.max-sem-ids", bytes: false, actions: DENY },
  { name: "zone.max-shm-ids", bytes: false, actions: DENY },
  { name: "zone.max-shm-memory", bytes: true, actions: DENY },
  { name: "zone.max-locked-memory", bytes: true, actions: DENY },
  { name: "zone.max-swap", bytes: true, actions: DENY },
  { name: "zone.max-lofi", bytes: false, actions: DENY },
  { name: "zone.max-physical-memory", bytes: true, actions: DENY },
];

export function rctlDef(name: string): RctlDef {
  const d = RCTLS.find((r) => r.name === name);
  if (!d) throw new ZoneError(`unknown rctl ${q(name)}; known: ${RCTLS.map((r) => r.name).join(", ")}`);
  return d;
}

/** Global properties that are aliases for a zone.* rctl (zonecfg(8) "Global properties"). */
export const RCTL_ALIASES: Readonly<Record<string, string>> = {
  "cpu-shares": "zone.cpu-shares",
  "max-lwps": "zone.max-lwps",
  "max-processes": "zone.max-processes",
  "max-msg-ids": "zone.max-msg-ids",
  "max-sem-ids": "zone.max-sem-ids",
  "max-shm-ids": "zone.max-shm-ids",
  "max-shm-memory": "zone.max-shm-memory",
};

const SIGNALS = new Set(["SIGABRT", "SIGXRES", "SIGHUP", "SIGSTOP", "SIGTERM", "SIGKILL", "SIGXFSZ", "SIGXCPU"]);

/** Check one value of an rctl (illumos zonecfg_valid_rctlblk, with Linux-meaningful actions). */
export function checkRctlValue(def: RctlDef, v: RctlValue): void {
  const where = `rctl ${q(def.name)}`;
  if (v.priv !== "privileged" && v.priv !== "basic")
    throw new ZoneError(`${where}: priv must be 'privileged' or 'basic': ${q(v.priv)}`);
  if (!Number.isSafeInteger(v.limit) || v.limit < 0) throw new ZoneError(`${where}: limit must be a non-negative integer: ${q(String(v.limit))}`);
  if (def.min !== undefined && v.limit < def.min) throw new ZoneError(`${where}: limit must be at least ${def.min}: ${q(String(v.limit))}`);
  const kind = v.action.startsWith("signal=") ? "signal" : v.action;
  if (!def.actions.includes(kind)) throw new ZoneError(`${where}: action must be one of ${def.actions.join(", ")}: ${q(v.action)}`);
  if (kind === "signal") {
    const sig = v.action.slice("signal=".length).toUpperCase();
    const name = sig.startsWith("SIG") ? sig : `SIG${sig}`;
    if (!SIGNALS.has(name)) throw new ZoneError(`${where}: signal must be one of ${[...SIGNALS].join(", ")}: ${q(v.action)}`);
  }
}

/** Parse the (priv=,limit=,action=) parts of a value as zonecfg writes them. */
export function rctlValueFrom(def: RctlDef, parts: ReadonlyArray<[string, string]>): RctlValue {
  const seen = new Map<string, string>();
  for (const [k, val] of parts) {
    if (k !== "priv" && k !== "limit" && k !== "action") throw new ZoneError(`rctl ${q(def.name)}: unknown value part ${q(k)}; expected priv, limit and action`);
    if (seen.has(k)) throw new ZoneError(`rctl ${q(def.name)}: ${k} given twice`);
    seen.set(k, val);
  }
  for (const k of ["priv", "limit", "action"]) if (!seen.has(k)) throw new ZoneError(`rctl ${q(def.name)}: value has no ${k}`);
  const v = { priv: seen.get("priv")!, limit: parseCount(`rctl ${q(def.name)} limit`, seen.get("limit")!), action: seen.get("action")! };
  checkRctlValue(def, v);
  return v;
}

export function findRctl(z: ZoneConfig, name: string): RctlResource | undefined {
  return z.rctl.find((r) => r.name === name);
}

/** Set an rctl to one privileged value, as `set max-lwps=N` and friends do. */
export function setRctlLimit(z: ZoneConfig, name: string, limit: number): void {
  const def = rctlDef(name);
  const value: RctlValue = { priv: "privileged", limit, action: def.actions.includes("deny") ? "deny" : "none" };
  checkRctlValue(def, value);
  const r = findRctl(z, name);
  if (r) r.values = [value];
  else z.rctl.push({ name, values: [value] });
}

export function removeRctl(z: ZoneConfig, name: string): void {
  z.rctl = z.rctl.filter((r) => r.name !== name);
}

/** The privileged limit of an rctl, which is what its alias shows; undefined if unset. */
export function rctlLimit(z: ZoneConfig, name: string): number | undefined {
  const r = findRctl(z, name);
  return (r?.values.find((v) => v.priv === "privileged") ?? r?.values[0])?.limit;
}

/** Parse an alias value: a count, or bytes with a suffix where the rctl counts bytes. */
export function parseAliasValue(alias: string, text: string): number {
  const def = rctlDef(RCTL_ALIASES[alias] ?? alias);
  return def.bytes ? parseBytes(alias, text) : parseCount(alias, text);
}

export function formatAliasValue(alias: string, n: number): string {
  return rctlDef(RCTL_ALIASES[alias] ?? alias).bytes ? formatBytes(n) : String(n);
}

/**
 * illumos's pairing of the two process rctls: if only max-lwps is set, max-processes
 * takes the same value; if only max-processes is set, max-lwps becomes ten times it.
 * Applied at commit, so the stored document always holds both.
 */
export function pairProcessLimits(z: ZoneConfig): void {
  const lwps = rctlLimit(z, "zone.max-lwps");
  const procs = rctlLimit(z, "zone.max-processes");
  if (lwps !== undefined && procs === undefined) setRctlLimit(z, "zone.max-processes", lwps);
  if (procs !== undefined && lwps === undefined) setRctlLimit(z, "zone.max-lwps", Math.min(procs * 10, Number.MAX_SAFE_INTEGER));
}
