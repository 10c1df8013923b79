/**
 * Dedicated CPUs (illumos dedicated-cpu, which makes a temporary resource pool): a
 * zone that asks for `ncpus` gets a cpuset of that many CPUs that no other dedicated
 * zone on the host has, across every ZONES_ROOT, so the registry lives at a fixed path
 * beside the uid slots. As illumos keeps one CPU in pool_default, the host's lowest
 * online CPU is never dedicated. A range "N-M" takes as many free CPUs as there are,
 * up to M, at least N.
 *
 * The other zones, of every root, run on the CPUs no zone holds (rebalance), as
 * illumos's non-dedicated zones share pool_default.
 *
 * The file is a header comment, then one `cpulist:rundir:zonename:cgroup` line per zone. An
 * entry belongs to the zone's run directory, which exists exactly while the zone is
 * ready or running: teardown releases it, and a zone whose run directory has gone (a
 * host crash) holds nothing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../native/atomic.js";
import { ZoneError, q } from "../native/errors.js";
import { escapeField, splitFields } from "../document/store/fields.js";
import { withLock } from "../native/lock.js";

export const DEFAULT_CPU_REGISTRY = "/var/lib/zones/cpus";
const HEADER = "# dedicated CPUs of running zones: cpulist:rundir:zonename:cgroup. Written by zoneadmd; do not edit.\n";

export interface CpuEntry {
  cpus: number[];
  runDir: string;
  zonename: string;
  /** The zone's cgroup below the hierarchy: "<hostPrefix>/<zonename>". */
  cgroup: string;
}

/** "0-2,5" -> [0, 1, 2, 5]. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",").filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new ZoneError(`not a CPU list: ${q(text)}`);
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) out.push(c);
  }
  return out;
}

/** [0, 1, 2, 5] -> "0-2,5". */
export function formatCpuList(cpus: readonly number[]): string {
  const s = [...cpus].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? String(s[i]) : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** The CPUs the host has online. */
export function onlineCpus(file = "/sys/devices/system/cpu/online"): number[] {
  return parseCpuList(fs.readFileSync(file, "utf8"));
}

/** dedicated-cpu ncpus ("2" or "1-3") as the fewest and most CPUs. */
export function ncpusRange(ncpus: string): { min: number; max: number } {
  const m = /^(\d+)(?:-(\d+))?$/.exec(ncpus);
  if (!m) throw new ZoneError(`dedicated-cpu ncpus must be N or N-M: ${q(ncpus)}`);
  return { min: Number(m[1]), max: Number(m[2] ?? m[1]) };
}

export class DedicatedCpus {
  constructor(
    readonly file = DEFAULT_CPU_REGISTRY,
    private readonly online: () => number[] = () => onlineCpus(),
  ) {}

  list(): CpuEntry[] {
    let text = "";
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new ZoneError(`cannot read ${this.file}: ${(e as Error).message}`);
    }
    const out: CpuEntry[] = [];
    text.split("\n").forEach((line, i) => {
      if (line === "" || line.startsWith("#")) return;
      const [cpus, runDir, zonename, cgroup, ...rest] = splitFields(line);
      if (cgroup === undefined || rest.length > 0 || !path.isAbsolute(runDir!)) throw new ZoneError(`${this.file} line ${i + 1}: expected cpulist:rundir:zonename:cgroup: ${q(line)}`);
      out.push({ cpus: parseCpuList(cpus!), runDir: runDir!, zonename: zonename!, cgroup });
    });
    return out;
  }

  /** The most CPUs a zone could be given here: all but the global zone's one. */
  hostMax(): number {
    return Math.max(0, this.online().length - 1);
  }

  /**
   * Dedicate CPUs to the zone whose run directory is `runDir` (kept if it has them
   * already); the CPU list. Refused with one line when too few are free.
   */
  allocate(runDir: string, zonename: string, ncpus: string, cgroup = zonename): string {
    const want = ncpusRange(ncpus);
    return this.update((entries) => {
      const live = entries.filter((e) => e.runDir !== runDir && fs.existsSync(e.runDir));
      const mine = entries.find((e) => e.runDir === runDir);
      const online = this.online();
      if (mine && mine.cpus.length >= want.min && mine.cpus.length <= want.max && mine.cpus.every((c) => online.includes(c))) {
        if (live.length !== entries.length - 1) this.write([...live, mine]);
        return formatCpuList(mine.cpus);
      }
      const taken = new Set(live.flatMap((e) => e.cpus));
      // The lowest online CPU stays the global zone's (illumos's pool_default keeps one).
      const free = online.slice(1).filter((c) => !taken.has(c));
      if (free.length < want.min) {
        const held = live.map((e) => `CPU ${formatCpuList(e.cpus)} is dedicated to zone '${e.zonename}'`).join(", ");
        throw new ZoneError(
          `dedicated-cpu ncpus=${ncpus}: only ${free.length} of the host's ${online.length} CPUs can be dedicated now (CPU ${online[0]} stays the global zone's${held ? `; ${held}` : ""})`,
        );
      }
      const cpus = free.slice(0, want.max);
      this.write([...live, { cpus, runDir, zonename, cgroup }]);
      return formatCpuList(cpus);
    });
  }

  /** The CPUs dedicated to no running zone: where the other zones run. */
  shared(): number[] {
    const taken = new Set(this.list().filter((e) => fs.existsSync(e.runDir)).flatMap((e) => e.cpus));
    return this.online().filter((c) => !taken.has(c));
  }

  release(runDir: string): void {
    if (!fs.existsSync(this.file)) return;
    this.update((entries) => {
      const rest = entries.filter((e) => e.runDir !== runDir);
      if (rest.length !== entries.length) this.write(rest);
    });
  }

  private update<T>(fn: (entries: CpuEntry[]) => T): T {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o755 });
    return withLock(this.file + ".lock", () => fn(this.list()));
  }

  private write(entries: CpuEntry[]): void {
    const lines = entries.map((e) => [formatCpuList(e.cpus), escapeField(e.runDir), escapeField(e.zonename), escapeField(e.cgroup)].join(":") + "\n");
    writeFileAtomic(this.file, HEADER + lines.join(""), 0o644);
  }
}

/**
 * Every running zone of every root that holds no dedicated CPUs gets the CPUs that no
 * zone holds: the zones' parents are `zones` and `zones-<hash>` in the cpuset hierarchy
 * (v1) or the unified tree (v2). A zone that goes meanwhile is skipped.
 */
export function rebalance(registry: DedicatedCpus, cgroupRoot = "/sys/fs/cgroup"): void {
  const live = registry.list().filter((e) => fs.existsSync(e.runDir));
  if (live.length === 0 && !fs.existsSync(registry.file)) return;
  const dedicated = new Set(live.map((e) => e.cgroup));
  const shared = formatCpuList(registry.shared());
  const base = fs.existsSync(path.join(cgroupRoot, "cgroup.controllers")) ? cgroupRoot : path.join(cgroupRoot, "cpuset");
  let parents: string[] = [];
  try {
    parents = fs.readdirSync(base).filter((n) => n === "zones" || n.startsWith("zones-"));
  } catch {
    return;
  }
  for (const p of parents) {
    let zones: fs.Dirent[] = [];
    try {
      zones = fs.readdirSync(path.join(base, p), { withFileTypes: true }).filter((d) => d.isDirectory());
    } catch {
      continue;
    }
    for (const z of zones) {
      if (dedicated.has(`${p}/${z.name}`)) continue;
      const file = path.join(base, p, z.name, "cpuset.cpus");
      try {
        if (fs.readFileSync(file, "utf8").trim() !== shared) fs.writeFileSync(file, shared);
      } catch {
        // halted meanwhile, or no cpuset here
      }
    }
  }
}

/**
 * At ready: the zone's CPUs. A dedicated-cpu zone gets CPUs of its own, and the other
 * zones leave them; any other zone gets the CPUs no zone holds, while some zone holds any.
 */
export function zoneCpus(ncpus: string | undefined, runDir: string, zonename: string, cgroup: string, registry = new DedicatedCpus()): string | undefined {
  if (ncpus === undefined) {
    // A broken registry must not stop zones that ask for no CPUs of their own.
    try {
      const shared = registry.shared();
      return shared.length < registry.hostMax() + 1 ? formatCpuList(shared) : undefined;
    } catch {
      return undefined;
    }
  }
  const cpus = registry.allocate(runDir, zonename, ncpus, cgroup);
  rebalance(registry);
  return cpus;
}

/** At teardown: the zone's dedicated CPUs go back to the other zones. */
export function releaseCpus(runDir: string, registry = new DedicatedCpus()): void {
  if (!fs.existsSync(registry.file)) return;
  // Halt must never fail here: an entry whose run directory is gone holds nothing anyway.
  try {
    const had = registry.list().some((e) => e.runDir === runDir);
    registry.release(runDir);
    if (had) rebalance(registry);
  } catch {
    // a broken registry line: allocate names it
  }
}
