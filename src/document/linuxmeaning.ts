/**
 * The illumos properties whose meaning Linux has only in part, or not at all: each is
 * either given the Linux meaning documented here, or refused at verify (zonecfg verify,
 * commit, zoneadm verify) with one line saying why. Nothing is accepted and ignored.
 *
 *   pool              refused: Linux has no resource pools (dedicated-cpu gives a cpuset).
 *   scheduling-class  FSS and TS: Linux's fair scheduler (SCHED_OTHER), which every zone
 *                     gets, weighted against other zones by cpu-shares; IA, FX, RT refused.
 *   fs-allowed        only file-system types a user namespace may mount, and only with
 *                     limitpriv sys_admin (without it the zone mounts nothing).
 *   security-flags    what every zone process gets: aslr (kernel.randomize_va_space,
 *                     host-wide) and forbidnullmap (vm.mmap_min_addr, host-wide), both
 *                     locked on (the zone's seccomp filter refuses personality(2)'s
 *                     ADDR_NO_RANDOMIZE and MMAP_PAGE_ZERO; sys_rawio is never granted), so
 *                     lower is aslr,forbidnullmap in effect, whatever smaller set it names;
 *                     default must be aslr,forbidnullmap; noexecstack is each binary's
 *                     PT_GNU_STACK and cannot be set per zone (refused in lower and default).
 *   limitpriv         Linux capability names only (capabilities.ts refuses the rest).
 *   hostid            written to the zone's /etc/hostid at each ready (gethostid(3) reads it).
 *   attr              free-form metadata, as in illumos: kept, no effect on the zone.
 */
import { q } from "../native/errors.js";
import type { ZoneConfig } from "./model.js";
import { secflagSet } from "./resources.js";

/** Scheduling classes with a Linux meaning: both are SCHED_OTHER under cgroup cpu weights. */
const SCHEDULING_ACCEPTED = ["FSS", "TS"];
const SCHEDULING_REFUSED: Record<string, string> = {
  IA: "Linux has no interactive class (the fair scheduler already favours sleepers); use FSS",
  FX: "Linux has no fixed-priority time-sharing class; use FSS with cpu-shares",
  RT: "real-time classes (SCHED_FIFO/SCHED_RR) need the host's real-time CPU budget per zone, which zones do not get; use FSS",
};

/**
 * The file-system types the Linux kernel lets a user namespace's root mount
 * (FS_USERNS_MOUNT), less proc, sysfs, cgroup and devpts, whose new instances would
 * undo the zone's masked views; fuse needs a device resource for /dev/fuse as well.
 */
export const USERNS_MOUNTABLE = ["tmpfs", "ramfs", "overlay", "fuse", "mqueue", "binder"];

function schedulingProblem(z: ZoneConfig): string | undefined {
  const c = z.schedulingClass;
  if (c === "" || SCHEDULING_ACCEPTED.includes(c)) return undefined;
  return `scheduling-class ${q(c)} is not supported: ${SCHEDULING_REFUSED[c] ?? "unknown class"}`;
}

function fsAllowedProblems(z: ZoneConfig): string[] {
  const v = z.fsAllowed;
  if (v === "" || v === "-") return [];
  const types = v.replace(/^-/, "").split(",").filter((t) => t !== "" && t !== "default");
  const out = types.filter((t) => !USERNS_MOUNTABLE.includes(t)).map((t) => `fs-allowed: a zone cannot mount ${q(t)} on Linux (only ${USERNS_MOUNTABLE.join(", ")} can be mounted from a user namespace); mount it from the global zone with add fs`);
  const privs = z.limitpriv.split(",").map((p) => p.trim().toLowerCase().replace(/^cap_/, ""));
  if (types.length > 0 && !privs.includes("sys_admin"))
    out.push(`fs-allowed ${q(v)} needs limitpriv to grant sys_admin: without it the zone can mount nothing`);
  return out;
}

function securityFlagProblems(z: ZoneConfig): string[] {
  const f = z.securityFlags;
  if (!f) return [];
  const out: string[] = [];
  // Unset: lower none, default the host's (aslr,forbidnullmap), upper all.
  // A lower without aslr or forbidnullmap is accepted: the zone gets both locked on, stricter.
  const lower = f.lower === "" ? new Set<string>() : safeSet("lower", f.lower);
  const dflt = f.default === "" ? new Set(["aslr", "forbidnullmap"]) : safeSet("default", f.default);
  for (const [what, set] of [["lower", lower], ["default", dflt]] as const)
    if (set.has("noexecstack")) out.push(`security-flags ${what}: noexecstack cannot be set per zone under Linux: each binary's PT_GNU_STACK header decides`);
  if (!dflt.has("aslr")) out.push("security-flags default: aslr cannot be turned off per zone under Linux (kernel.randomize_va_space is host-wide)");
  if (!dflt.has("forbidnullmap")) out.push("security-flags default: forbidnullmap cannot be turned off per zone under Linux (vm.mmap_min_addr is host-wide)");
  return out;
}

/** The flags of a value checked already by the resource (a bad one reads as none here). */
function safeSet(what: string, v: string): Set<string> {
  try {
    return secflagSet(what, v);
  } catch {
    return new Set();
  }
}

/** Every property of `z` that Linux cannot give as configured, one line each. */
export function linuxMeaningProblems(z: ZoneConfig): string[] {
  const out: string[] = [];
  if (z.pool !== "") out.push(`pool ${q(z.pool)}: Linux has no resource pools; use dedicated-cpu for CPUs of the zone's own`);
  const s = schedulingProblem(z);
  if (s) out.push(s);
  out.push(...fsAllowedProblems(z), ...securityFlagProblems(z));
  return out;
}
