/**
 * zonestat's samples and reports: a sample is every counter at one instant (the host's,
 * each running zone's cgroup and links); a report is what two samples say about the
 * interval between them, with each zone's caps from its document. Rates need two
 * samples, so the first report comes one interval after the start.
 */
import * as fs from "node:fs";
import { GLOBAL_ZONE } from "../../document/names.js";
import { ZoneError, q } from "../../native/errors.js";
import type { ZonePaths } from "../../document/store/paths.js";
import { readRun, zoneRunDir } from "../../document/store/runstate.js";
import { Repository } from "../../document/store/repository.js";
import { rctlLimit } from "../../document/rctls.js";
import { effectiveLimit } from "../../document/defaults.js";
import { readNets } from "../../platform/network/netrecords.js";
import { cgroupRoots, linkBytes, readCgroupUsage, readHostTasks, readHostUsage, type CgroupRoots, type CgroupUsage, type HostUsage } from "../../platform/usage.js";

/** A zone's configured caps; undefined: none. */
export interface Caps {
  /** capped-cpu ncpus (zone.cpu-cap / 100), in CPUs. */
  cpu?: number;
  shares?: number;
  physical?: number;
  /** capped-memory swap (zone.max-swap): memory and swap together. */
  swap?: number;
  processes?: number;
  lwps?: number;
}

interface ZoneSnap {
  usage: CgroupUsage;
  /** Bytes the zone received and sent on its host-side links; undefined: not known. */
  rbytes?: number;
  obytes?: number;
  caps: Caps;
}

export interface Sample {
  atNs: bigint;
  host: HostUsage;
  zones: Map<string, ZoneSnap>;
}

/** One row of a report: a zone, [total] or [system]. */
export interface Row {
  name: string;
  /** CPUs used over the interval, and the pset (CPUs) it ran on. */
  cpu: number;
  pset: number;
  mem: number;
  vm: number;
  processes: number;
  lwps: number;
  /** undefined: not measured (a link moved into the zone has no host end to read). */
  rbytes?: number;
  obytes?: number;
  caps: Caps;
  /** The zone's share of CPUs by cpu-shares, when it has cpu-shares. */
  shareCpus?: number;
}

export interface Report {
  ncpus: number;
  memTotal: number;
  vmTotal: number;
  pidMax: number;
  seconds: number;
  /** [total], [system], then the zones (the global zone among them), most CPU first. */
  rows: Row[];
}

/** The kernel's cpu.shares of a group that sets none (cgroup v1; v2's weight scales the same). */
const DEFAULT_SHARES = 1024;

/** Reads samples of one root's zones; caches each zone's caps per boot. */
export class Sampler {
  private readonly roots: CgroupRoots;
  private readonly repo: Repository;
  private readonly caps = new Map<string, { since: string; caps: Caps }>();
  /** Each zone's CPU count (cpuset) as read at its first sample of this boot. */
  private readonly cpus = new Map<string, { since: string; cpus: number | undefined }>();
  /** The roots without cpuset: a zone's CPUs are read once per boot (~60 us a read on v1). */
  private readonly countersOnly: CgroupRoots;

  constructor(private readonly paths: ZonePaths, roots?: CgroupRoots) {
    this.roots = roots ?? cgroupRoots(fs.readFileSync("/proc/self/mountinfo", "utf8"));
    this.repo = new Repository(paths);
    this.countersOnly = { ...this.roots, cpuset: undefined };
  }

  private usageOf(name: string, since: string): CgroupUsage {
    const rel = `${this.paths.hostPrefix}/${name}`;
    const hit = this.cpus.get(name);
    if (hit && hit.since === since) return { ...readCgroupUsage(this.countersOnly, rel), cpus: hit.cpus };
    const u = readCgroupUsage(this.roots, rel);
    this.cpus.set(name, { since, cpus: u.cpus });
    return u;
  }

  private capsOf(name: string, since: string): Caps {
    const hit = this.caps.get(name);
    if (hit && hit.since === since) return hit.caps;
    let caps: Caps = {};
    try {
      const z = this.repo.load(name);
      const cap = rctlLimit(z, "zone.cpu-cap");
      caps = {
        cpu: cap === undefined ? undefined : cap / 100,
        shares: rctlLimit(z, "zone.cpu-shares"),
        physical: z.cappedMemory?.physical || undefined,
        swap: rctlLimit(z, "zone.max-swap"),
        processes: effectiveLimit(z, "zone.max-processes"),
        lwps: effectiveLimit(z, "zone.max-lwps"),
      };
    } catch {
      // deleted or renamed meanwhile: its usage still counts, without caps
    }
    this.caps.set(name, { since, caps });
    return caps;
  }

  /** Zones with a run directory (runstate.ts): ready or running. */
  private zoneNames(): string[] {
    const dir = zoneRunDir(this.paths, "");
    try {
      return fs.readdirSync(dir).sort();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return [];
      // Never a silent empty report: a user who cannot read the run state sees no zone.
      throw new ZoneError(`cannot read ${q(dir)}: ${code ?? (e as Error).message}; zonestat runs as root in the global zone`);
    }
  }

  sample(): Sample {
    const nets = new Map(readNets(this.paths).map((n) => [n.zone, n]));
    const zones = new Map<string, ZoneSnap>();
    for (const name of this.zoneNames()) {
      // illumos reports running zones: a ready zone (no init yet) is left out.
      const run = readRun(this.paths, name);
      if (!run?.booted) continue;
      let rbytes: number | undefined = 0;
      let obytes: number | undefined = 0;
      for (const l of nets.get(name)?.links ?? []) {
        // The host end of a veth sends what the zone receives. A link moved into the
        // zone has no host end: the zone's bytes are then not known, and shown as "-".
        const b = l.kind === "veth" ? linkBytes(l.hostIf) : undefined;
        rbytes = b && rbytes !== undefined ? rbytes + b.tx : undefined;
        obytes = b && obytes !== undefined ? obytes + b.rx : undefined;
      }
      zones.set(name, { usage: this.usageOf(name, run.since), rbytes, obytes, caps: this.capsOf(name, run.since) });
    }
    return { atNs: process.hrtime.bigint(), host: readHostUsage(), zones };
  }
}

/** A counter's growth; a counter that went back (the zone rebooted) grew from 0. */
const grown = (now: number, before: number | undefined): number => (before === undefined || now < before ? now : now - before);
const grownIfKnown = (now: number | undefined, before: number | undefined): number | undefined => (now === undefined ? undefined : grown(now, before));

export function report(prev: Sample, cur: Sample): Report {
  const dt = Number(cur.atNs - prev.atNs);
  const h = cur.host;
  const perInterval = (ns: number): number => (dt > 0 ? ns / dt : 0);
  const zoneRows: Row[] = [];
  let sharesTotal = 0;
  for (const z of cur.zones.values()) sharesTotal += z.caps.shares ?? DEFAULT_SHARES;
  for (const [name, z] of cur.zones) {
    const p = prev.zones.get(name);
    const u = z.usage;
    const pset = u.cpus ?? h.ncpus;
    zoneRows.push({
      name,
      cpu: perInterval(grown(u.cpuNs ?? 0, p?.usage.cpuNs)),
      pset,
      mem: u.memory ?? 0,
      vm: u.virtual ?? 0,
      processes: u.processes ?? 0,
      lwps: u.tasks ?? 0,
      rbytes: grownIfKnown(z.rbytes, p?.rbytes),
      obytes: grownIfKnown(z.obytes, p?.obytes),
      caps: z.caps,
      shareCpus: z.caps.shares === undefined || sharesTotal === 0 ? undefined : (z.caps.shares / sharesTotal) * pset,
    });
  }
  const sum = (f: (r: Row) => number): number => zoneRows.reduce((a, r) => a + f(r), 0);
  const totalCpu = perInterval(grown(h.busyNs, prev.host.busyNs));
  const systemCpu = perInterval(grown(h.systemNs, prev.host.systemNs));
  const memTotalUsed = h.memUsed;
  const vmTotalUsed = h.memUsed + h.swapUsed;
  const hostTasks = readHostTasks();
  const base = { pset: h.ncpus, rbytes: 0, obytes: 0, caps: {} };
  const total: Row = { ...base, name: "[total]", cpu: totalCpu, mem: memTotalUsed, vm: vmTotalUsed, processes: hostTasks.processes, lwps: hostTasks.lwps };
  const system: Row = { ...base, name: "[system]", cpu: systemCpu, mem: Math.min(h.memKernel, memTotalUsed), vm: Math.min(h.memKernel, vmTotalUsed), processes: hostTasks.kernel, lwps: hostTasks.kernel };
  // The global zone is what the host used that is neither the kernel's nor a zone's.
  const global: Row = {
    ...base,
    name: GLOBAL_ZONE,
    cpu: Math.max(0, totalCpu - systemCpu - sum((r) => r.cpu)),
    mem: Math.max(0, memTotalUsed - system.mem - sum((r) => r.mem)),
    vm: Math.max(0, vmTotalUsed - system.vm - sum((r) => r.vm)),
    processes: Math.max(0, total.processes - system.processes - sum((r) => r.processes)),
    lwps: Math.max(0, total.lwps - system.lwps - sum((r) => r.lwps)),
  };
  const rows = [...zoneRows, global].sort((a, b) => b.cpu - a.cpu || a.name.localeCompare(b.name));
  return { ncpus: h.ncpus, memTotal: h.memTotal, vmTotal: h.memTotal + h.swapTotal, pidMax: h.pidMax, seconds: dt / 1e9, rows: [total, system, ...rows] };
}
