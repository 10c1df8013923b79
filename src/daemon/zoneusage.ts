/**
 * What each zone of a root uses right now, and what the host has: the numbers behind
 * /metrics, the API's zone objects, the history rings and the host page. Read from the
 * kernel (cgroupfs, sysfs, procfs: files no zone can write) with the platform's usage
 * readers, one read per file and no process spawned, so a scrape of hundreds of zones
 * stays cheap. A zone that halts mid-read loses its run state or its cgroup between two
 * reads: every missing file is a field left undefined, never an error.
 */
import * as fs from "node:fs";
import type { ZonePaths } from "../document/store/paths.js";
import { readRun } from "../document/store/runstate.js";
import { STATES, type ZoneState } from "../document/store/state.js";
import type { IndexEntry } from "../document/store/repository.js";
import { readNets } from "../platform/network/netrecords.js";
import type { ZoneNet } from "../platform/network/plan.js";
import { zonesLimits, type Amounts } from "../platform/reserve.js";
import { cgroupRoots, linkBytes, readCgroupCaps, readCgroupUsage, readHostUsage, readLoad, type CgroupRoots } from "../platform/usage.js";

/** One zone now. Usage fields are set only while the zone is ready or running and the kernel still has them. */
export interface ZoneUsage {
  name: string;
  brand: string;
  state: ZoneState;
  /** CPU time used since ready, seconds (a counter: it restarts at each boot). */
  cpuSeconds?: number;
  /** Memory charged to the zone's cgroup, bytes. */
  memoryBytes?: number;
  /** The zone's hard memory limit, bytes; undefined: none of its own. */
  memoryCapBytes?: number;
  /** Tasks (processes and threads) in the zone. */
  pids?: number;
  /** pids.max; undefined: none. */
  pidsCap?: number;
  /** Bytes the zone received and sent on its host-side veths; undefined: not measurable (a moved link) or no network. */
  rxBytes?: number;
  txBytes?: number;
  /** Seconds since the zone was made ready (its run state's `since`). */
  uptimeSeconds?: number;
  /** When it was made ready, ISO 8601. */
  since?: string;
}

/** The host and the global zone's reserve. */
export interface HostUsageReport {
  ncpus: number;
  /** Load averages over 1, 5 and 15 minutes. */
  load: [number, number, number];
  /** CPU time of the host spent on anything but idle, seconds since boot (a counter). */
  cpuBusySeconds: number;
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  swapTotalBytes: number;
  swapUsedBytes: number;
  pidMax: number;
  /** What the global zone keeps (reserve.ts); undefined when the setting file is refused (`reserveError` says why). */
  reserve?: Amounts;
  /** What all zones of this root may use together (the parent cgroup's limits). */
  zonesLimit?: Amounts;
  reserveError?: string;
  /** What all zones of this root use together (their parent cgroup). */
  zonesMemoryBytes?: number;
  zonesPids?: number;
  zonesCpuSeconds?: number;
  /** Zones of this root by state; every state present, 0 included. */
  zonesByState: Record<ZoneState, number>;
}

/** States in which a zone has a run directory, a cgroup and maybe an init. */
const LIVE: readonly ZoneState[] = ["ready", "running", "shutting_down", "down"];

/** Reads usage for one root. Holds nothing per zone: a removed zone leaves no trace here. */
export class UsageReader {
  private readonly roots: CgroupRoots;

  constructor(
    private readonly paths: ZonePaths,
    roots?: CgroupRoots,
    /** Where the host's link counters are (tests point it elsewhere). */
    private readonly sysNet = "/sys/class/net",
  ) {
    // No cpuset: the metrics do not say CPUs per zone, and it is one read less.
    const all = roots ?? cgroupRoots(fs.readFileSync("/proc/self/mountinfo", "utf8"));
    this.roots = { ...all, cpuset: undefined };
  }

  /** Every zone of `entries` (the index, read once by the caller), in their order. */
  zones(entries: readonly IndexEntry[], now = Date.now()): ZoneUsage[] {
    // The network journal is one file for the whole root: read once, not per zone.
    const nets = entries.some((e) => LIVE.includes(e.state)) ? new Map(readNets(this.paths).map((n) => [n.zone, n])) : new Map<string, ZoneNet>();
    return entries.map((e) => this.zone(e, nets.get(e.name), now));
  }

  /** One zone; `net` is its record from the network journal, if any. */
  zone(e: IndexEntry, net: ZoneNet | undefined, now = Date.now()): ZoneUsage {
    const u: ZoneUsage = { name: e.name, brand: e.brand, state: e.state };
    if (!LIVE.includes(e.state)) return u;
    const run = readRun(this.paths, e.name);
    // Halted between the index read and now: no usage, the state the index said.
    if (!run) return u;
    const rel = `${this.paths.hostPrefix}/${e.name}`;
    const c = readCgroupUsage(this.roots, rel, false);
    if (c.cpuNs !== undefined) u.cpuSeconds = c.cpuNs / 1e9;
    u.memoryBytes = c.memory;
    u.pids = c.tasks;
    const caps = readCgroupCaps(this.roots, rel);
    u.memoryCapBytes = caps.memory;
    u.pidsCap = caps.pids;
    const bytes = netBytes(net, this.sysNet);
    u.rxBytes = bytes?.rx;
    u.txBytes = bytes?.tx;
    const t = Date.parse(run.since);
    if (Number.isFinite(t)) {
      u.since = run.since;
      u.uptimeSeconds = Math.max(0, (now - t) / 1000);
    }
    return u;
  }

  /** The host: its size and load, the reserve, what this root's zones use together, zones by state. */
  host(entries: readonly IndexEntry[]): HostUsageReport {
    const h = readHostUsage();
    const byState = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<ZoneState, number>;
    for (const e of entries) byState[e.state]++;
    const r: HostUsageReport = {
      ncpus: h.ncpus,
      load: readLoad(),
      cpuBusySeconds: h.busyNs / 1e9,
      memoryTotalBytes: h.memTotal,
      memoryUsedBytes: h.memUsed,
      swapTotalBytes: h.swapTotal,
      swapUsedBytes: h.swapUsed,
      pidMax: h.pidMax,
      zonesByState: byState,
    };
    try {
      const l = zonesLimits(this.paths);
      r.reserve = l.reserve;
      r.zonesLimit = { memory: l.memory, pids: l.pids };
    } catch (e) {
      r.reserveError = (e as Error).message;
    }
    const z = readCgroupUsage(this.roots, this.paths.hostPrefix, false);
    r.zonesMemoryBytes = z.memory;
    r.zonesPids = z.tasks;
    if (z.cpuNs !== undefined) r.zonesCpuSeconds = z.cpuNs / 1e9;
    return r;
  }
}

/**
 * A zone's bytes over its host-side veths. The host end of a veth sends what the zone
 * receives. A link moved into the zone has no host end, so the zone's bytes are then
 * not known (undefined), as in zonestat.
 */
function netBytes(net: ZoneNet | undefined, sysNet: string): { rx: number; tx: number } | undefined {
  if (!net || net.links.length === 0) return undefined;
  let rx = 0;
  let tx = 0;
  for (const l of net.links) {
    const b = l.kind === "veth" ? linkBytes(l.hostIf, sysNet) : undefined;
    if (!b) return undefined;
    rx += b.tx;
    tx += b.rx;
  }
  return { rx, tx };
}
