/**
 * A zone's cgroup, as one interface over cgroup v1 (this host's hybrid layout, where
 * runc uses the v1 controllers) and pure cgroup v2 (most hosts). Boot writes the limits
 * through the OCI spec (runc); this module is the live path (prctl -r, zoneadm apply)
 * and the reader of current use (prctl's usage lines). Each implementation is rooted at
 * a directory parameter, so tests point it at a fake tree laid out like /sys/fs/cgroup.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";

/** The controls a zone's configuration can set (limits.ts maps rctls to them). */
export const CONTROLS = ["cpu-shares", "cpu-cap", "cpus", "memory", "memory-soft", "swap", "pids"] as const;
export type Control = (typeof CONTROLS)[number];

/**
 * A zone's limits in illumos units; an absent field means unlimited (or the kernel's
 * default share), so applying a whole set also removes what the configuration dropped.
 */
export interface CgroupLimits {
  /** illumos FSS shares: cpu.shares (v1, at least 2) or cpu.weight (v2, 1-10000), same ratios. */
  "cpu-shares"?: number;
  /** Percent of one CPU (zone.cpu-cap): 150 is one and a half CPUs. */
  "cpu-cap"?: number;
  /** A CPU list ("1", "0-1"): a dedicated-cpu zone's cpuset. */
  cpus?: string;
  /** Bytes: the hard memory limit. */
  memory?: number;
  /** Bytes: the soft limit (rcapd's cap): reclaimed towards it under pressure, never killed for it. */
  "memory-soft"?: number;
  /** Bytes of memory and swap together (illumos zone.max-swap counts both). */
  swap?: number;
  /** Tasks: processes and threads. */
  pids?: number;
}

export interface Usage {
  /** Tasks (threads included): what pids.max bounds. */
  tasks: number;
  /** Processes (thread-group leaders). */
  processes: number[];
  /** Bytes of memory charged to the zone. */
  memory: number;
  /** Bytes of memory and swap together; undefined without swap accounting. */
  swap: number | undefined;
  /** CPU time used, in nanoseconds. */
  cpuNs: number;
}

export interface ZoneCgroup {
  readonly version: 1 | 2;
  /** Does the zone's group exist (the zone is ready or running)? */
  exists(): boolean;
  /** Can this host have the control at all (swap accounting, the cpuset controller ...)? */
  supports(c: Control): boolean;
  /** Set one control; undefined lifts it. `all` gives the other limits, for controls that depend on each other. */
  set(c: Control, value: number | string | undefined, all?: CgroupLimits): void;
  /** Every control at once, to exactly what `l` says; but an absent `cpus` leaves the cpuset alone. */
  apply(l: CgroupLimits): void;
  /** The control's value as the kernel has it now, in CgroupLimits units; undefined: unlimited. */
  get(c: Control): number | string | undefined;
  usage(): Usage;
}

export function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

export function readNumber(file: string): number {
  const t = readText(file);
  const n = Number(t);
  return t === undefined || !Number.isFinite(n) ? 0 : n;
}

/** Write a control file; a refusal names the file and the value. */
export function writeControl(file: string, value: string): void {
  try {
    fs.writeFileSync(file, value);
  } catch (e) {
    throw new ZoneError(`cannot set ${file} to ${q(value)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Thread-group ids in a cgroup.procs file. */
export function readProcs(file: string): number[] {
  return (readText(file) ?? "").split("\n").filter(Boolean).map(Number);
}

/** Pure cgroup v2 has cgroup.controllers at the top of /sys/fs/cgroup; hybrid and v1 do not. */
export function isV2(root: string): boolean {
  return fs.existsSync(path.join(root, "cgroup.controllers"));
}
