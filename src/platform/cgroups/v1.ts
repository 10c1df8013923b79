/**
 * cgroup v1: one hierarchy per controller under `root` (cpu, cpuacct, cpuset, memory,
 * pids), the zone's group at <root>/<controller>/<rel> in each, as runc makes them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";
import { readNumber, readProcs, readText, writeControl, type CgroupLimits, type Control, type Usage, type ZoneCgroup, CONTROLS } from "./cgroup.js";

const PERIOD_US = 100_000;
/** What v1 memory files say for "no limit" (PAGE_COUNTER_MAX pages); -1 is how to write it. */
const UNLIMITED = 2 ** 62;

/** A file's text, or "" when it cannot be read. */
function readOr(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

export class V1Cgroup implements ZoneCgroup {
  readonly version = 1;
  constructor(
    readonly root: string,
    /** The zone's group below each hierarchy: "<hostPrefix>/<zonename>". */
    readonly rel: string,
  ) {}

  private file(controller: string, name: string): string {
    return path.join(this.root, controller, this.rel, name);
  }

  exists(): boolean {
    return fs.existsSync(path.join(this.root, "pids", this.rel)) || fs.existsSync(path.join(this.root, "memory", this.rel));
  }

  supports(c: Control): boolean {
    // The root group lacks some files (pids.max): a child group shows what the controller has.
    const at = (controller: string, name: string): boolean => {
      const top = path.join(this.root, controller);
      if (fs.existsSync(path.join(top, name))) return true;
      try {
        return fs.readdirSync(top, { withFileTypes: true }).some((d) => d.isDirectory() && fs.existsSync(path.join(top, d.name, name)));
      } catch {
        return false;
      }
    };
    switch (c) {
      case "cpu-shares":
        return at("cpu", "cpu.shares");
      case "cpu-cap":
        return at("cpu", "cpu.cfs_quota_us");
      case "cpus":
        return at("cpuset", "cpuset.cpus");
      case "memory":
        return at("memory", "memory.limit_in_bytes");
      case "memory-soft":
        return at("memory", "memory.soft_limit_in_bytes");
      case "swap":
        // Only with swap accounting (swapaccount=1 / CONFIG_MEMCG_SWAP).
        return at("memory", "memory.memsw.limit_in_bytes");
      case "pids":
        // With no child group yet (no zone, no systemd on the host) there is none to look
        // below: a hierarchy mounted there and the kernel's table (/proc/cgroups) say it.
        return at("pids", "pids.max") || (fs.existsSync(path.join(this.root, "pids", "cgroup.procs")) && /^pids\s+[1-9]\d*\s+\d+\s+1$/m.test(readOr("/proc/cgroups")));
    }
  }

  set(c: Control, value: number | string | undefined, all: CgroupLimits = {}): void {
    const n = typeof value === "number" ? value : undefined;
    switch (c) {
      case "cpu-shares":
        return writeControl(this.file("cpu", "cpu.shares"), String(n === undefined ? 1024 : Math.min(262144, Math.max(2, n))));
      case "cpu-cap":
        writeControl(this.file("cpu", "cpu.cfs_period_us"), String(PERIOD_US));
        return writeControl(this.file("cpu", "cpu.cfs_quota_us"), String(n === undefined ? -1 : n * 1000));
      case "cpus": {
        // Unset: all the parent's CPUs (a v1 cpuset must be a subset of its parent's).
        const cpus = value === undefined ? readText(path.join(this.root, "cpuset", path.dirname(this.rel), "cpuset.cpus")) ?? "" : String(value);
        return writeControl(this.file("cpuset", "cpuset.cpus"), cpus);
      }
      case "memory":
        return this.setMemory(n, this.supports("swap") ? all.swap : undefined, "memory");
      case "memory-soft":
        return writeControl(this.file("memory", "memory.soft_limit_in_bytes"), String(n ?? -1));
      case "swap":
        if (!this.supports("swap")) throw new ZoneError(`cannot limit swap of ${q(this.rel)}: this host has no swap accounting (memory.memsw.limit_in_bytes); boot the host with swapaccount=1`);
        return this.setMemory(all.memory, n, "swap");
      case "pids":
        return writeControl(this.file("pids", "pids.max"), n === undefined ? "max" : String(n));
    }
  }

  /**
   * The kernel wants memsw >= memory at every step: raise memsw first, else lower
   * memory first. `which` says whose value is new; the other is what the kernel has.
   */
  private setMemory(memory: number | undefined, swap: number | undefined, which: "memory" | "swap"): void {
    const mem = this.file("memory", "memory.limit_in_bytes");
    const memsw = this.file("memory", "memory.memsw.limit_in_bytes");
    const hasSw = fs.existsSync(memsw);
    const m = which === "memory" ? (memory ?? -1) : readNumber(mem);
    const s = which === "swap" ? (swap ?? -1) : hasSw ? readNumber(memsw) : -1;
    if (!hasSw) return writeControl(mem, String(m));
    const big = (x: number): number => (x < 0 ? UNLIMITED : x);
    const memswNow = big(readNumber(memsw));
    if (big(m) > memswNow) {
      writeControl(memsw, String(s));
      writeControl(mem, String(m));
    } else {
      writeControl(mem, String(m));
      writeControl(memsw, String(s));
    }
  }

  apply(l: CgroupLimits): void {
    // Memory and swap move together (setMemory's order), so write them as one step.
    const mem = this.file("memory", "memory.limit_in_bytes");
    if (this.supports("swap")) {
      const memsw = this.file("memory", "memory.memsw.limit_in_bytes");
      const big = (x: number | undefined): number => (x === undefined || x < 0 ? UNLIMITED : x);
      const pairs: Array<[string, number | undefined]> = big(l.memory) > big(readNumber(memsw)) ? [[memsw, l.swap], [mem, l.memory]] : [[mem, l.memory], [memsw, l.swap]];
      for (const [f, v] of pairs) writeControl(f, String(v ?? -1));
    } else writeControl(mem, String(l.memory ?? -1));
    for (const c of CONTROLS) {
      if (c === "memory" || c === "swap") continue;
      // The cpuset is ready's to give (cpusets.ts): absent, it stays as it is.
      if (c === "cpus" && l.cpus === undefined) continue;
      this.set(c, l[c], l);
    }
  }

  get(c: Control): number | string | undefined {
    const mem = (name: string): number | undefined => {
      const n = readNumber(this.file("memory", name));
      // The kernel reads back -1 as its page-counter maximum.
      return n < 0 || n >= UNLIMITED / 2 ? undefined : n;
    };
    switch (c) {
      case "cpu-shares":
        return readNumber(this.file("cpu", "cpu.shares"));
      case "cpu-cap": {
        const quota = readNumber(this.file("cpu", "cpu.cfs_quota_us"));
        const period = readNumber(this.file("cpu", "cpu.cfs_period_us")) || PERIOD_US;
        return quota < 0 ? undefined : Math.round((quota * 100) / period);
      }
      case "cpus":
        return readText(this.file("cpuset", "cpuset.cpus"));
      case "memory":
        return mem("memory.limit_in_bytes");
      case "memory-soft":
        return mem("memory.soft_limit_in_bytes");
      case "swap":
        return mem("memory.memsw.limit_in_bytes");
      case "pids": {
        const t = readText(this.file("pids", "pids.max"));
        return t === undefined || t === "max" ? undefined : Number(t);
      }
    }
  }

  usage(): Usage {
    const sw = this.file("memory", "memory.memsw.usage_in_bytes");
    return {
      tasks: readNumber(this.file("pids", "pids.current")),
      processes: readProcs(this.file("pids", "cgroup.procs")),
      memory: readNumber(this.file("memory", "memory.usage_in_bytes")),
      swap: fs.existsSync(sw) ? readNumber(sw) : undefined,
      cpuNs: readNumber(this.file("cpuacct", "cpuacct.usage")),
    };
  }
}
