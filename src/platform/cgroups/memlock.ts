/**
 * zone.max-locked-memory (capped-memory locked) as RLIMIT_MEMLOCK of every process of
 * the zone, soft and hard: the zone's root cannot raise a hard limit (that takes
 * CAP_SYS_RESOURCE in the host's namespace). Not through the OCI spec's process.rlimits:
 * runc sets those from its parent onto the zone's init with prlimit(2), which needs
 * CAP_SYS_RESOURCE over the zone's user namespace and fails on hosts (and containers)
 * without it. Instead the runtime itself starts under the limit (`prlimit --memlock`,
 * lowering one's own limit needs no privilege) and the zone's init and every zlogin
 * process inherit it. The bundle's annotation carries the value from ready to zlogin.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ZoneConfig } from "../../document/model.js";
import { rctlLimit } from "../../document/rctls.js";

export const MEMLOCK_ANNOTATION = "org.illumos.zone.max-locked-memory";

/** The annotation for config.json; none when the zone has no locked-memory cap. */
export function memlockAnnotation(z: ZoneConfig): Record<string, string> {
  const locked = rctlLimit(z, "zone.max-locked-memory");
  return locked === undefined ? {} : { [MEMLOCK_ANNOTATION]: String(locked) };
}

/** The cap a bundle directory's config.json carries, if any. */
export function memlockOfBundle(bundle: string): number | undefined {
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, "config.json"), "utf8")) as { annotations?: Record<string, string> };
    const v = Number(spec.annotations?.[MEMLOCK_ANNOTATION]);
    return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** argv run under RLIMIT_MEMLOCK `limit` (bytes), or as it is. */
export function withMemlock(limit: number | undefined, argv: string[]): string[] {
  return limit === undefined ? argv : ["prlimit", `--memlock=${limit}:${limit}`, "--", ...argv];
}

/**
 * prctl -r: the new cap for the processes zlogin starts from now on (the bundle's
 * config.json is read by nobody else once the container exists).
 */
export function setBundleMemlock(bundle: string, limit: number): void {
  const file = path.join(bundle, "config.json");
  const spec = JSON.parse(fs.readFileSync(file, "utf8")) as { annotations?: Record<string, string> };
  spec.annotations = { ...spec.annotations, [MEMLOCK_ANNOTATION]: String(limit) };
  fs.writeFileSync(file, JSON.stringify(spec, null, 1));
}

const CAP_SYS_RESOURCE = 24;

/**
 * Why `limit` cannot be had here, if it cannot: raising the hard RLIMIT_MEMLOCK past
 * the one zoneadmd has takes CAP_SYS_RESOURCE, which some hosts (and containers)
 * withhold even from root; the runtime would then fail at boot with prlimit's EPERM.
 */
export function memlockProblem(limit: number, limits = readProc("limits"), status = readProc("status")): string | undefined {
  const hard = /^Max locked memory\s+\S+\s+(\S+)/m.exec(limits)?.[1];
  if (hard === undefined || hard === "unlimited" || limit <= Number(hard)) return undefined;
  const eff = /^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1];
  if (eff !== undefined && (BigInt(`0x${eff}`) >> BigInt(CAP_SYS_RESOURCE)) & 1n) return undefined;
  return `capped-memory locked ${limit} bytes cannot be had on this host: it is above the host's hard RLIMIT_MEMLOCK (${hard} bytes) and zoneadmd lacks CAP_SYS_RESOURCE to raise it; set locked to at most ${hard}`;
}

function readProc(name: string): string {
  try {
    return fs.readFileSync(`/proc/self/${name}`, "utf8");
  } catch {
    return "";
  }
}
