/**
 * Pure cgroup v2: one tree under `root`, the zone's group at <root>/<rel>. The zones'
 * parent enables the controllers below it (reserve.ts enableBelow, runc for cpu/cpuset).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";
import { readNumber, readProcs, readText, writeControl, type CgroupLimits, type Control, type Usage, type ZoneCgroup, CONTROLS } from "./cgroup.js";

const PERIOD_US = 100_000;

/** illumos shares as a cpu.weight: the same number, clamped to v2's 1-10000, so ratios hold. */
export function sharesToWeight(shares: number): number {
  return Math.min(10000, Math.max(1, shares));
}

export class V2Cgroup implements ZoneCgroup {
  readonly version = 2;
  constructor(
    readonly root: string,
    readonly rel: string,
  ) {}

  private file(name: string): string {
    return path.join(this.root, this.rel, name);
  }

  exists(): boolean {
    return fs.existsSync(path.join(this.root, this.rel));
  }

  supports(c: Control): boolean {
    const controllers = (readText(path.join(this.root, "cgroup.controllers")) ?? "").split(/\s+/);
    switch (c) {
      case "cpu-shares":
      case "cpu-cap":
        return controllers.includes("cpu");
      case "cpus":
        return controllers.includes("cpuset");
      case "memory":
      case "memory-soft":
        return controllers.includes("memory");
      case "swap":
        // memory.swap.max exists in every non-root group when swap accounting is on.
        return controllers.includes("memory") && this.swapFileSomewhere();
      case "pids":
        return controllers.includes("pids");
    }
  }

  private swapFileSomewhere(): boolean {
    if (fs.existsSync(this.file("memory.swap.max"))) return true;
    try {
      return fs.readdirSync(this.root, { withFileTypes: true }).some((d) => d.isDirectory() && fs.existsSync(path.join(this.root, d.name, "memory.swap.max")));
    } catch {
      return false;
    }
  }

  set(c: Control, value: number | string | undefined, all: CgroupLimits = {}): void {
    const n = typeof value === "number" ? value : undefined;
    switch (c) {
      case "cpu-shares":
        return writeControl(this.file("cpu.weight"), String(n === undefined ? 100 : sharesToWeight(n)));
      case "cpu-cap":
        return writeControl(this.file("cpu.max"), `${n === undefined ? "max" : n * 1000} ${PERIOD_US}`);
      case "cpus":
        // Empty: the parent's CPUs.
        return writeControl(this.file("cpuset.cpus"), value === undefined ? "" : String(value));
      case "memory":
        writeControl(this.file("memory.max"), n === undefined ? "max" : String(n));
        // v2 counts swap apart from memory: its limit is what zone.max-swap leaves over memory.
        if (all.swap !== undefined && fs.existsSync(this.file("memory.swap.max"))) this.set("swap", all.swap, { ...all, memory: n });
        return;
      case "memory-soft":
        // memory.high throttles and reclaims above it, never OOM-kills: rcapd's soft cap.
        return writeControl(this.file("memory.high"), n === undefined ? "max" : String(n));
      case "swap": {
        if (!fs.existsSync(this.file("memory.swap.max"))) throw new ZoneError(`cannot limit swap of ${q(this.rel)}: this host has no swap accounting (memory.swap.max)`);
        return writeControl(this.file("memory.swap.max"), n === undefined ? "max" : String(Math.max(0, n - (all.memory ?? 0))));
      }
      case "pids":
        return writeControl(this.file("pids.max"), n === undefined ? "max" : String(n));
    }
  }

  apply(l: CgroupLimits): void {
    for (const c of CONTROLS) {
      if (c === "swap" && (l.swap === undefined ? !fs.existsSync(this.file("memory.swap.max")) : false)) continue;
      // The cpuset is ready's to give (cpusets.ts): absent, it stays as it is.
      if (c === "cpus" && l.cpus === undefined) continue;
      this.set(c, l[c], l);
    }
  }

  get(c: Control): number | string | undefined {
    const num = (name: string): number | undefined => {
      const t = readText(this.file(name));
      return t === undefined || t === "max" ? undefined : Number(t);
    };
    switch (c) {
      case "cpu-shares":
        return num("cpu.weight");
      case "cpu-cap": {
        const [quota, period] = (readText(this.file("cpu.max")) ?? "max").split(" ");
        return quota === "max" || quota === undefined ? undefined : Math.round((Number(quota) * 100) / Number(period ?? PERIOD_US));
      }
      case "cpus":
        return readText(this.file("cpuset.cpus"));
      case "memory":
        return num("memory.max");
      case "memory-soft":
        return num("memory.high");
      case "swap": {
        const s = num("memory.swap.max");
        return s === undefined ? undefined : s + (num("memory.max") ?? 0);
      }
      case "pids":
        return num("pids.max");
    }
  }

  usage(): Usage {
    const stat = readText(this.file("cpu.stat")) ?? "";
    const usec = Number(/^usage_usec (\d+)$/m.exec(stat)?.[1] ?? 0);
    const memory = readNumber(this.file("memory.current"));
    const sw = this.file("memory.swap.current");
    return {
      tasks: readNumber(this.file("pids.current")),
      processes: readProcs(this.file("cgroup.procs")),
      memory,
      swap: fs.existsSync(sw) ? memory + readNumber(sw) : undefined,
      cpuNs: usec * 1000,
    };
  }
}
