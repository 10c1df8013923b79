/**
 * The resource controls of a running zone, live: what each is now (prctl's value
 * lines), what the zone uses of it (prctl's usage line), and changing them without a
 * reboot (prctl -r, zoneadm apply). cgroup controls go through cgroups/; locked memory
 * is every process's RLIMIT_MEMLOCK (prlimit); the IPC limits are sysctls of the zone's
 * IPC namespace, written from inside it (nsenter). A change lasts until the zone halts:
 * the next boot takes the configuration again, as in illumos.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { ZoneError, q } from "../native/errors.js";
import type { ZoneConfig } from "../document/model.js";
import { effectiveLimit } from "../document/defaults.js";
import { RCTLS, rctlLimit } from "../document/rctls.js";
import type { ZoneCgroup } from "./cgroups/cgroup.js";
import { zoneLimits } from "./cgroups/limits.js";
import { setBundleMemlock } from "./cgroups/memlock.js";

/** One value line of prctl. */
export interface RctlValueLine {
  priv: "privileged" | "system";
  value: number;
  flag: "-" | "max";
  action: string;
}

export interface LiveRctl {
  name: string;
  bytes: boolean;
  usage: number | undefined;
  values: RctlValueLine[];
}

/** The system limits illumos prints (rctl's maximum values). */
const SYSTEM_MAX: Readonly<Record<string, number>> = {
  "zone.cpu-shares": 65535,
  "zone.cpu-cap": 4294967295,
  "zone.max-lwps": 2147483647,
  "zone.max-processes": 2147483647,
  "zone.max-msg-ids": 16777216,
  "zone.max-sem-ids": 16777216,
  "zone.max-shm-ids": 16777216,
};
const BYTES_MAX = 2 ** 64 - 1;

/** The rctls prctl shows: all but zone.max-lofi, which Linux lacks (rctlcheck.ts). */
export const LIVE_RCTLS = RCTLS.filter((r) => r.name !== "zone.max-lofi").map((r) => r.name);

/** The zone's SysV IPC objects, counted from inside its IPC namespace. */
function ipcUsage(initPid: number): { shm: number; shmBytes: number; sem: number; msg: number } {
  const out = { shm: 0, shmBytes: 0, sem: 0, msg: 0 };
  const r = spawnSync("nsenter", [`--ipc=/proc/${initPid}/ns/ipc`, "--", "cat", "/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg"], { encoding: "utf8" });
  if (r.status !== 0) return out;
  let kind: "shm" | "sem" | "msg" | undefined;
  let sizeCol = -1;
  for (const line of r.stdout.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "key") {
      kind = f.includes("shmid") ? "shm" : f.includes("semid") ? "sem" : "msg";
      sizeCol = f.indexOf("size");
    } else if (kind && f.length > 1) {
      out[kind]++;
      if (kind === "shm" && sizeCol >= 0) out.shmBytes += Number(f[sizeCol]);
    }
  }
  return out;
}

const IPC_KEYS = ["kernel.shmmni", "kernel.msgmni", "kernel.sem", "kernel.shmall"] as const;

/** The IPC sysctls as the zone's namespace has them now (prctl -r may have changed them). */
function ipcLimits(initPid: number): Partial<Record<string, number>> {
  const files = IPC_KEYS.map((k) => `/proc/sys/${k.replace(/\./g, "/")}`);
  const r = spawnSync("nsenter", [`--ipc=/proc/${initPid}/ns/ipc`, "--", "cat", ...files], { encoding: "utf8" });
  if (r.status !== 0) return {};
  const [shmmni, msgmni, sem, shmall] = r.stdout.split("\n");
  return {
    "zone.max-shm-ids": Number(shmmni),
    "zone.max-msg-ids": Number(msgmni),
    "zone.max-sem-ids": Number(sem?.trim().split(/\s+/)[3]),
    "zone.max-shm-memory": Number(shmall) * 4096,
  };
}

/** Locked bytes (VmLck) of the zone's processes, and the RLIMIT_MEMLOCK of its init. */
function lockedMemory(pids: number[], initPid: number): { used: number; limit: number | undefined } {
  let used = 0;
  for (const p of pids) {
    try {
      used += Number(/^VmLck:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) * 1024;
    } catch {
      // gone meanwhile
    }
  }
  let limit: number | undefined;
  try {
    const m = /^Max locked memory\s+(\S+)/m.exec(fs.readFileSync(`/proc/${initPid}/limits`, "utf8"));
    limit = m && m[1] !== "unlimited" ? Number(m[1]) : undefined;
  } catch {
    limit = undefined;
  }
  return { used, limit };
}

/** The percent of one CPU the zone used over `ms` milliseconds (illumos cpu-cap usage). */
function cpuPercent(cg: ZoneCgroup, ms = 100): number {
  const t0 = process.hrtime.bigint();
  const u0 = cg.usage().cpuNs;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const dt = Number(process.hrtime.bigint() - t0);
  return Math.round(((cg.usage().cpuNs - u0) * 100) / dt);
}

/** Every rctl of the running zone (or the one named) as it is now. */
export function liveRctls(z: ZoneConfig, cg: ZoneCgroup, initPid: number, only?: string): LiveRctl[] {
  const names = only ? [only] : LIVE_RCTLS;
  const use = cg.usage();
  const ipcNeeded = names.some((n) => /ids|shm/.test(n));
  const ipc = ipcNeeded ? ipcUsage(initPid) : undefined;
  const ipcNow = ipcNeeded ? ipcLimits(initPid) : {};
  const out: LiveRctl[] = [];
  for (const name of names) {
    const def = RCTLS.find((r) => r.name === name)!;
    const values: RctlValueLine[] = [];
    const priv = (value: number | string | undefined, action = "deny"): void => {
      if (typeof value === "number") values.push({ priv: "privileged", value, flag: "-", action });
    };
    let usage: number | undefined;
    switch (name) {
      case "zone.cpu-shares":
        usage = Number(cg.get("cpu-shares") ?? 0);
        priv(cg.get("cpu-shares"), "none");
        break;
      case "zone.cpu-cap":
        usage = cpuPercent(cg);
        priv(cg.get("cpu-cap"));
        break;
      case "zone.max-lwps":
        usage = use.tasks;
        priv(cg.get("pids"));
        break;
      case "zone.max-processes": {
        usage = use.processes.length;
        const procs = rctlLimit(z, name);
        const pids = cg.get("pids");
        priv(procs === undefined ? undefined : typeof pids === "number" ? Math.min(procs, pids) : procs);
        break;
      }
      case "zone.max-physical-memory":
        usage = use.memory;
        priv(cg.get("memory"));
        priv(cg.get("memory-soft"), "none");
        break;
      case "zone.max-swap":
        usage = use.swap ?? use.memory;
        priv(cg.get("swap"));
        break;
      case "zone.max-locked-memory": {
        const l = lockedMemory(use.processes, initPid);
        usage = l.used;
        priv(l.limit);
        break;
      }
      case "zone.max-shm-memory":
      case "zone.max-shm-ids":
      case "zone.max-sem-ids":
      case "zone.max-msg-ids":
        usage = name === "zone.max-shm-memory" ? ipc?.shmBytes : name === "zone.max-shm-ids" ? ipc?.shm : name === "zone.max-sem-ids" ? ipc?.sem : ipc?.msg;
        priv(ipcNow[name] ?? effectiveLimit(z, name));
        break;
    }
    values.push({ priv: "system", value: def.bytes ? BYTES_MAX : (SYSTEM_MAX[name] ?? 2147483647), flag: "max", action: name === "zone.cpu-shares" ? "none" : "deny" });
    out.push({ name, bytes: def.bytes, usage, values });
  }
  return out;
}

const IPC_SYSCTL: Readonly<Record<string, string>> = {
  "zone.max-shm-ids": "kernel.shmmni",
  "zone.max-msg-ids": "kernel.msgmni",
};

/** A process's real uid and gid on the host. */
function owner(pid: number): { uid: number; gid: number } {
  const st = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return { uid: Number(/^Uid:\s+(\d+)/m.exec(st)?.[1]), gid: Number(/^Gid:\s+(\d+)/m.exec(st)?.[1]) };
}

/**
 * Write a sysctl of the zone's IPC namespace from inside it, as the zone's root: the
 * kernel gives that namespace's sysctls to its user namespace's root (host uid `base`),
 * and host root would need CAP_SYS_RESOURCE over it, which some hosts withhold.
 */
function setIpcSysctl(initPid: number, key: string, value: string): void {
  const file = `/proc/sys/${key.replace(/\./g, "/")}`;
  const { uid, gid } = owner(initPid);
  const r = spawnSync("nsenter", [`--ipc=/proc/${initPid}/ns/ipc`, `--setuid=${uid}`, `--setgid=${gid}`, "--", "sh", "-c", 'printf "%s\\n" "$1" > "$2"', "sh", value, file], { encoding: "utf8" });
  if (r.status !== 0) throw new ZoneError(`cannot set ${key} to ${q(value)} in the zone: ${(r.stderr || r.error?.message || "").trim()}`);
}

/**
 * RLIMIT_MEMLOCK of one process of the zone: as host root where it may (raising a hard
 * limit takes CAP_SYS_RESOURCE), else as the process's own uid and gid, which may lower it.
 */
function setMemlock(pid: number, value: number): void {
  const args = ["--pid", String(pid), `--memlock=${value}:${value}`];
  let r = spawnSync("prlimit", args, { encoding: "utf8" });
  if (r.status !== 0 && fs.existsSync(`/proc/${pid}`)) {
    const { uid, gid } = owner(pid);
    r = spawnSync("setpriv", [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", "prlimit", ...args], { encoding: "utf8" });
  }
  // A process that ended meanwhile needs no limit.
  if (r.status !== 0 && fs.existsSync(`/proc/${pid}`)) {
    const now = /^Max locked memory\s+\S+\s+(\S+)/m.exec(fs.readFileSync(`/proc/${pid}/limits`, "utf8"))?.[1];
    const why = now !== undefined && (now === "unlimited" || Number(now) < value) ? `raising its hard limit ${now} needs CAP_SYS_RESOURCE, which this host withholds; the next boot sets it` : r.stderr.trim().split("\n").pop();
    throw new ZoneError(`cannot set RLIMIT_MEMLOCK of process ${pid} to ${value}: ${why}`);
  }
}

/** Change one rctl of the running zone to `value` (prctl -r). */
export function setLiveRctl(name: string, value: number, cg: ZoneCgroup, initPid: number, processes: () => number[], bundle?: string): void {
  switch (name) {
    case "zone.cpu-shares":
      return cg.set("cpu-shares", value);
    case "zone.cpu-cap":
      if (value < 1) throw new ZoneError(`zone.cpu-cap must be at least 1: ${q(String(value))}`);
      return cg.set("cpu-cap", value);
    // Linux has one task counter: both process rctls are pids.max, the last one set wins.
    case "zone.max-lwps":
    case "zone.max-processes":
      return cg.set("pids", value);
    case "zone.max-physical-memory":
      return cg.set("memory", value, { swap: numberOr(cg.get("swap")) });
    case "zone.max-swap": {
      const memory = numberOr(cg.get("memory"));
      if (memory !== undefined && value < memory) throw new ZoneError(`zone.max-swap ${q(String(value))} is less than the zone's memory limit ${memory}: it counts memory and swap together`);
      return cg.set("swap", value, { memory });
    }
    case "zone.max-locked-memory":
      for (const p of processes()) setMemlock(p, value);
      // And for the processes zlogin starts from now on.
      if (bundle) setBundleMemlock(bundle, value);
      return;
    case "zone.max-shm-ids":
    case "zone.max-msg-ids":
      return setIpcSysctl(initPid, IPC_SYSCTL[name]!, String(value));
    case "zone.max-sem-ids": {
      const sem = fs.readFileSync("/proc/sys/kernel/sem", "utf8").trim().split(/\s+/).slice(0, 3);
      return setIpcSysctl(initPid, "kernel.sem", [...sem, String(value)].join(" "));
    }
    case "zone.max-shm-memory":
      return setIpcSysctl(initPid, "kernel.shmall", String(Math.ceil(value / 4096)));
    default:
      throw new ZoneError(`rctl ${q(name)} cannot be changed on Linux`);
  }
}

function numberOr(v: number | string | undefined): number | undefined {
  return typeof v === "number" ? v : undefined;
}

/**
 * zoneadm apply: the configuration's limits on the running zone at once, set to
 * exactly what it says, defaults included. Dedicated CPUs are not moved: they are a
 * host-wide allocation made at ready, so a dedicated-cpu change waits for the next boot.
 */
export function applyLive(z: ZoneConfig, cg: ZoneCgroup, initPid: number, processes: () => number[], zonesMemory?: number, bundle?: string): void {
  const l = zoneLimits(z);
  cg.apply(l);
  const locked = rctlLimit(z, "zone.max-locked-memory");
  if (locked !== undefined) setLiveRctl("zone.max-locked-memory", locked, cg, initPid, processes, bundle);
  for (const n of ["zone.max-shm-ids", "zone.max-msg-ids", "zone.max-sem-ids", "zone.max-shm-memory"]) {
    const v = effectiveLimit(z, n, zonesMemory);
    if (v !== undefined) setLiveRctl(n, v, cg, initPid, processes);
  }
}
