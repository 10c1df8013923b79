/**
 * Usage counters for zonestat: what each zone's cgroup, the host's /proc and a zone's
 * host-side network links say a zone uses right now. Counters only (the limits are
 * the zone's document, and the cgroup limit writer is another module's); every reader
 * takes its root directory as a parameter, so tests run it against fake v1 and v2
 * trees. Everything read here is a kernel file (cgroupfs, procfs, sysfs), never a file
 * a zone can write.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** One mounted cgroup hierarchy that has a controller zonestat reads. */
export interface Hierarchy {
  dir: string;
  v2: boolean;
}

/** Where each controller's counters are: cpu time, memory, tasks, and the CPUs a zone may run on. */
export interface CgroupRoots {
  cpu?: Hierarchy;
  memory?: Hierarchy;
  pids?: Hierarchy;
  cpuset?: Hierarchy;
}

/** What a zone's cgroup says; a field is undefined when its controller or file is missing. */
export interface CgroupUsage {
  /** CPU time used since the cgroup was made, in nanoseconds. */
  cpuNs?: number;
  /** Memory charged to the zone (what capped-memory physical limits), bytes. */
  memory?: number;
  /** Memory and swap together, bytes (what zone.max-swap limits). */
  virtual?: number;
  /** Tasks: processes and threads (illumos lwps). */
  tasks?: number;
  /** Distinct processes (thread-group ids) in the zone's cgroup and below. */
  processes?: number;
  /** CPUs the zone may run on (cpuset), undefined: every CPU of the host. */
  cpus?: number;
}

/** The host as /proc shows it. */
export interface HostUsage {
  /** Online CPUs. */
  ncpus: number;
  /** CPU time spent on anything but idle and iowait, all CPUs, nanoseconds. */
  busyNs: number;
  /** Of it, interrupts, soft interrupts and steal: nobody's process (illumos [system]). */
  systemNs: number;
  memTotal: number;
  /** MemTotal - MemAvailable. */
  memUsed: number;
  /** Kernel memory nobody's cgroup holds for long: unreclaimable slab, stacks, page tables. */
  memKernel: number;
  swapTotal: number;
  swapUsed: number;
  pidMax: number;
}

/** /proc/stat counts in USER_HZ, 100 on every Linux ABI. */
const NS_PER_TICK = 10_000_000;

const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function readNumber(file: string): number | undefined {
  const t = readText(file)?.trim();
  if (t === undefined || !/^\d+$/.test(t)) return undefined;
  return Number(t);
}

/**
 * The hierarchies holding each controller, from a mountinfo text. A v1 hierarchy
 * wins over the v2 one (hybrid hosts bind the controllers to v1; the unified
 * hierarchy then has none); a v2 hierarchy counts for a controller its root's
 * cgroup.controllers lists.
 */
export function cgroupRoots(mountinfo: string): CgroupRoots {
  const roots: CgroupRoots = {};
  const v2: Hierarchy[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const [fstype, , superOpts = ""] = line.slice(sep + 3).split(" ");
    const mp = line.slice(0, sep).split(" ")[4];
    if (mp === undefined) continue;
    const dir = unescapeMount(mp);
    if (fstype === "cgroup2") v2.push({ dir, v2: true });
    else if (fstype === "cgroup") {
      const opts = superOpts.split(",");
      const h = { dir, v2: false };
      if (opts.includes("cpuacct")) roots.cpu ??= h;
      if (opts.includes("memory")) roots.memory ??= h;
      if (opts.includes("pids")) roots.pids ??= h;
      if (opts.includes("cpuset")) roots.cpuset ??= h;
    }
  }
  for (const h of v2) {
    const have = (readText(path.join(h.dir, "cgroup.controllers")) ?? "").trim().split(/\s+/);
    if (have.includes("cpu")) roots.cpu ??= h;
    if (have.includes("memory")) roots.memory ??= h;
    if (have.includes("pids")) roots.pids ??= h;
    if (have.includes("cpuset")) roots.cpuset ??= h;
  }
  return roots;
}

/** The number of CPUs in a kernel CPU list ("0-3,6"). */
export function cpuListSize(list: string): number {
  let n = 0;
  for (const part of list.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m) n += (m[2] === undefined ? 0 : Number(m[2]) - Number(m[1])) + 1;
  }
  return n;
}

/** Depth bound of the walk below a zone's cgroup: nested groups are the zone's to make. */
const MAX_DEPTH = 16;

/** Distinct pids of cgroup.procs in `dir` and every group below it. */
function procsBelow(dir: string, seen: Set<number>, depth: number): void {
  for (const p of (readText(path.join(dir, "cgroup.procs")) ?? "").split("\n")) if (/^\d+$/.test(p)) seen.add(Number(p));
  if (depth >= MAX_DEPTH) return;
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) procsBelow(path.join(dir, e.name), seen, depth + 1);
}

/**
 * The counters of the cgroup `rel` (e.g. "zones/web") in every hierarchy that has them.
 * `walk` false skips counting distinct processes (a walk of every group below): the
 * daemon's metrics need tasks only, and one read per file.
 */
export function readCgroupUsage(roots: CgroupRoots, rel: string, walk = true): CgroupUsage {
  const u: CgroupUsage = {};
  if (roots.cpu) {
    const dir = path.join(roots.cpu.dir, rel);
    if (roots.cpu.v2) {
      const m = /^usage_usec (\d+)$/m.exec(readText(path.join(dir, "cpu.stat")) ?? "");
      if (m) u.cpuNs = Number(m[1]) * 1000;
    } else u.cpuNs = readNumber(path.join(dir, "cpuacct.usage"));
  }
  if (roots.memory) {
    const dir = path.join(roots.memory.dir, rel);
    if (roots.memory.v2) {
      u.memory = readNumber(path.join(dir, "memory.current"));
      const swap = readNumber(path.join(dir, "memory.swap.current"));
      if (u.memory !== undefined) u.virtual = u.memory + (swap ?? 0);
    } else {
      u.memory = readNumber(path.join(dir, "memory.usage_in_bytes"));
      // Without swap accounting (no memsw files) nothing of the zone is known to be in swap.
      u.virtual = readNumber(path.join(dir, "memory.memsw.usage_in_bytes")) ?? u.memory;
    }
  }
  if (roots.pids) {
    const dir = path.join(roots.pids.dir, rel);
    u.tasks = readNumber(path.join(dir, "pids.current"));
    if (u.tasks !== undefined && walk) {
      const seen = new Set<number>();
      procsBelow(dir, seen, 0);
      u.processes = seen.size;
    }
  }
  if (roots.cpuset) {
    const dir = path.join(roots.cpuset.dir, rel);
    const list = readText(path.join(dir, roots.cpuset.v2 ? "cpuset.cpus.effective" : "cpuset.cpus"));
    const n = list === undefined ? 0 : cpuListSize(list);
    if (n > 0) u.cpus = n;
  }
  return u;
}

/** A cgroup's hard limits as the kernel has them now; undefined: unlimited, or no such file. */
export interface CgroupCaps {
  /** memory.limit_in_bytes (v1) or memory.max (v2), bytes. */
  memory?: number;
  /** pids.max: tasks. */
  pids?: number;
}

/** v1 reads back "no limit" as the page counter's maximum, near 2^63. */
const V1_UNLIMITED = 2 ** 62;

/** The hard memory and tasks limits of the cgroup `rel`, one read each. */
export function readCgroupCaps(roots: CgroupRoots, rel: string): CgroupCaps {
  const c: CgroupCaps = {};
  if (roots.memory) {
    const dir = path.join(roots.memory.dir, rel);
    const n = readNumber(path.join(dir, roots.memory.v2 ? "memory.max" : "memory.limit_in_bytes"));
    if (n !== undefined && n < V1_UNLIMITED) c.memory = n;
  }
  if (roots.pids) c.pids = readNumber(path.join(roots.pids.dir, rel, "pids.max"));
  return c;
}

/** Load averages over 1, 5 and 15 minutes, from `proc`; zeros when unreadable. */
export function readLoad(proc = "/proc"): [number, number, number] {
  const f = (readText(path.join(proc, "loadavg")) ?? "").split(" ").map(Number);
  const at = (i: number): number => (Number.isFinite(f[i]) ? (f[i] as number) : 0);
  return [at(0), at(1), at(2)];
}

/** The host's CPU time, memory and pid limit, from `proc` (normally "/proc"). */
export function readHostUsage(proc = "/proc"): HostUsage {
  const stat = readText(path.join(proc, "stat")) ?? "";
  const cpu = /^cpu\s+(.*)$/m.exec(stat)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  const ncpus = stat.split("\n").filter((l) => /^cpu\d+\s/.test(l)).length;
  const meminfo = readText(path.join(proc, "meminfo")) ?? "";
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(meminfo)?.[1] ?? 0) * 1024;
  const memTotal = kb("MemTotal");
  return {
    ncpus: Math.max(ncpus, 1),
    busyNs: (user + nice + system + irq + softirq + steal) * NS_PER_TICK,
    systemNs: (irq + softirq + steal) * NS_PER_TICK,
    memTotal,
    memUsed: Math.max(0, memTotal - kb("MemAvailable")),
    memKernel: kb("SUnreclaim") + kb("KernelStack") + kb("PageTables"),
    swapTotal: kb("SwapTotal"),
    swapUsed: Math.max(0, kb("SwapTotal") - kb("SwapFree")),
    pidMax: readNumber(path.join(proc, "sys/kernel/pid_max")) ?? 32768,
  };
}

/** Bytes a host link received and sent, from sysfs; undefined when the link is gone. */
export function linkBytes(name: string, sysNet = "/sys/class/net"): { rx: number; tx: number } | undefined {
  if (name === "" || name.includes("/") || name === "." || name === "..") return undefined;
  const rx = readNumber(path.join(sysNet, name, "statistics/rx_bytes"));
  const tx = readNumber(path.join(sysNet, name, "statistics/tx_bytes"));
  return rx === undefined || tx === undefined ? undefined : { rx, tx };
}

/**
 * Processes and threads of the whole host, from `proc`, and of them the kernel's own
 * threads (kthreadd, pid 2, and its children): illumos counts those as [system].
 */
export function readHostTasks(proc = "/proc"): { processes: number; lwps: number; kernel: number } {
  // loadavg's fourth field is running/total scheduling entities: every thread.
  const m = /^\S+ \S+ \S+ \d+\/(\d+) /.exec(readText(path.join(proc, "loadavg")) ?? "");
  const pids = fs.readdirSync(proc).filter((n) => /^\d+$/.test(n));
  // kthreadd's children, in one read where the kernel has /proc/PID/task/TID/children;
  // else each process's parent from its stat.
  const children = readText(path.join(proc, "2/task/2/children"));
  let kernel = 0;
  if (children !== undefined) kernel = pids.includes("2") ? 1 + children.trim().split(/\s+/).filter(Boolean).length : 0;
  else
    for (const n of pids) {
      if (n === "2") kernel++;
      else {
        // "pid (comm) state ppid ...": comm may hold anything, so read after its last ')'.
        const st = readText(path.join(proc, n, "stat")) ?? "";
        if (st.slice(st.lastIndexOf(")") + 1).trim().split(" ")[1] === "2") kernel++;
      }
    }
  const processes = pids.length;
  return { processes, lwps: m ? Number(m[1]) : processes, kernel };
}
