/**
 * What each resource control of a zone's configuration is on Linux (the mapping the
 * README's table documents), and the zone's cgroup on this host.
 *
 *   zone.cpu-shares           cpu.shares (v1) / cpu.weight (v2), the same number
 *   zone.cpu-cap (capped-cpu) cpu.cfs_quota_us / cpu.max, per 100 ms period
 *   dedicated-cpu ncpus       cpuset.cpus: CPUs of its own (cpusets.ts)
 *   capped-memory physical    memory.limit_in_bytes / memory.max (hard)
 *   zone.max-physical-memory  action=deny: the hard limit; action=none: the soft limit,
 *                             memory.soft_limit_in_bytes / memory.high (rcapd's cap)
 *   zone.max-swap             memory.memsw.limit_in_bytes / memory.swap.max + memory.max
 *   zone.max-lwps             pids.max (Linux counts threads)
 *   zone.max-processes        pids.max too, the lower of the two: every process is a task
 *   zone.max-locked-memory    RLIMIT_MEMLOCK of every process of the zone (spec.ts)
 *   zone.max-{shm,sem,msg}-ids, zone.max-shm-memory: sysctls of the zone's IPC namespace (ipclimits.ts)
 */
import * as path from "node:path";
import type { ZoneConfig } from "../../document/model.js";
import { effectiveLimit } from "../../document/defaults.js";
import { findRctl, rctlLimit } from "../../document/rctls.js";
import { isV2, type CgroupLimits, type ZoneCgroup } from "./cgroup.js";
import { V1Cgroup } from "./v1.js";
import { V2Cgroup } from "./v2.js";

export const CGROUP_ROOT = "/sys/fs/cgroup";

/** The zone's cgroup: v2 where /sys/fs/cgroup is a cgroup2 mount, else the v1 controllers (runc's choice too). */
export function zoneCgroup(prefix: string, name: string, root = CGROUP_ROOT): ZoneCgroup {
  const rel = path.join(prefix, name);
  return isV2(root) ? new V2Cgroup(root, rel) : new V1Cgroup(root, rel);
}

/** The hard and soft memory limits: capped-memory physical, and zone.max-physical-memory by its action. */
export function memoryLimits(z: ZoneConfig): { hard?: number; soft?: number } {
  const values = findRctl(z, "zone.max-physical-memory")?.values ?? [];
  const deny = values.filter((v) => v.action !== "none").map((v) => v.limit);
  const soft = values.filter((v) => v.action === "none").map((v) => v.limit);
  const hards = [...(z.cappedMemory?.physical ? [z.cappedMemory.physical] : []), ...deny];
  return {
    ...(hards.length > 0 ? { hard: Math.min(...hards) } : {}),
    ...(soft.length > 0 ? { soft: Math.min(...soft) } : {}),
  };
}

/** pids.max: the lower of max-lwps (tasks, default defaults.ts) and max-processes. */
export function pidsLimit(z: ZoneConfig): number | undefined {
  const lwps = effectiveLimit(z, "zone.max-lwps");
  const procs = rctlLimit(z, "zone.max-processes");
  if (lwps === undefined) return procs;
  return procs === undefined ? lwps : Math.min(lwps, procs);
}

/** The cgroup limits of a zone's configuration; `cpus`: the dedicated CPUs it holds. */
export function zoneLimits(z: ZoneConfig, cpus?: string): CgroupLimits {
  const mem = memoryLimits(z);
  const shares = rctlLimit(z, "zone.cpu-shares");
  const cap = rctlLimit(z, "zone.cpu-cap");
  const swap = rctlLimit(z, "zone.max-swap");
  const pids = pidsLimit(z);
  return {
    ...(shares !== undefined ? { "cpu-shares": shares } : {}),
    ...(cap !== undefined ? { "cpu-cap": cap } : {}),
    ...(cpus !== undefined ? { cpus } : {}),
    ...(mem.hard !== undefined ? { memory: mem.hard } : {}),
    ...(mem.soft !== undefined ? { "memory-soft": mem.soft } : {}),
    ...(swap !== undefined ? { swap } : {}),
    ...(pids !== undefined ? { pids } : {}),
  };
}
