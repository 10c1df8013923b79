/**
 * A zone's IPC limits (illumos zone.max-shm-ids, max-sem-ids, max-msg-ids,
 * max-shm-memory) as sysctls of the zone's own IPC namespace. The runtime writes them
 * when it makes the namespace, before /proc/sys turns read-only; the zone's root has no
 * sys_admin to remount it, so it cannot raise them. Exceeding one fails with ENOSPC in
 * that zone only: every IPC namespace counts its own objects. A zone whose configuration
 * is silent gets the defaults of defaults.ts.
 */
import * as fs from "node:fs";
import type { ZoneConfig } from "../document/model.js";
import { effectiveLimit } from "../document/defaults.js";

const PAGE_SIZE = 4096;

/** The kernel.sem fields other than SEMMNI, as the host has them. */
function hostSem(): [string, string, string] {
  try {
    const [msl, mns, opm] = fs.readFileSync("/proc/sys/kernel/sem", "utf8").trim().split(/\s+/);
    if (msl && mns && opm) return [msl, mns, opm];
  } catch {
    // no /proc/sys/kernel/sem: the kernel's defaults
  }
  return ["32000", "1024000000", "500"];
}

/**
 * Every IPC limit of the zone's namespace, configured or default (defaults.ts), so a
 * zone that says nothing still cannot hold more than its share in ids or shm bytes.
 * `zonesMemory`: what all zones of the root share (reserve.ts), for the shm default.
 */
export function ipcSysctls(z: ZoneConfig, zonesMemory?: number): Record<string, string> {
  const out: Record<string, string> = {};
  const shmIds = effectiveLimit(z, "zone.max-shm-ids");
  const msgIds = effectiveLimit(z, "zone.max-msg-ids");
  const semIds = effectiveLimit(z, "zone.max-sem-ids");
  const shmBytes = effectiveLimit(z, "zone.max-shm-memory", zonesMemory);
  if (shmIds !== undefined) out["kernel.shmmni"] = String(shmIds);
  if (msgIds !== undefined) out["kernel.msgmni"] = String(msgIds);
  if (semIds !== undefined) out["kernel.sem"] = [...hostSem(), String(semIds)].join(" ");
  // shmall counts pages of all segments together, which bounds every segment too; shmmax
  // stays the kernel's, so a segment too large fails with ENOSPC like any other excess
  // (EINVAL would be indistinguishable from a bad argument).
  if (shmBytes !== undefined) out["kernel.shmall"] = String(Math.ceil(shmBytes / PAGE_SIZE));
  return out;
}
