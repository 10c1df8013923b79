/**
 * Which resource controls of a zone's configuration this host can honour: zoneadm
 * verify lists the ones it cannot, and ready/boot refuse them, each with one line, so
 * that no control is silently ignored. What zonecfg accepts is illumos's syntax; what
 * Linux can enforce is narrower:
 *   - a zone rctl keeps one privileged value: cgroups hold one limit per control, and
 *     illumos itself refuses basic values on zone.* rctls;
 *   - cgroups deny at the limit: they send no signal, so action=signal=... cannot be had;
 *   - action=none means "no action" in illumos: a limit that limits nothing. Accepted
 *     where it has a meaning here: zone.cpu-shares (only none), zone.cpu-cap (a cap
 *     either way), zone.max-physical-memory (none = the soft limit, limits.ts);
 *   - zone.max-lofi: Linux has no lofi devices;
 *   - dedicated-cpu importance weighs resource pools against each other: Linux has none;
 *   - what the host's cgroups lack (swap accounting, the cpuset controller).
 */
import { ZoneError, q } from "../native/errors.js";
import type { ZoneConfig } from "../document/model.js";
import { formatBytes } from "../document/units.js";
import type { Control, ZoneCgroup } from "./cgroups/cgroup.js";
import { memoryLimits, zoneCgroup } from "./cgroups/limits.js";
import { DedicatedCpus, ncpusRange } from "./cpusets.js";
import { memlockProblem } from "./cgroups/memlock.js";
import { rctlLimit } from "../document/rctls.js";

/** Rctls whose action=none has a Linux meaning (see above). */
const NONE_MEANS_SOMETHING = new Set(["zone.cpu-shares", "zone.cpu-cap", "zone.max-physical-memory"]);

/** The cgroup control each rctl needs, for the host check. */
const NEEDS: Readonly<Record<string, Control>> = {
  "zone.cpu-shares": "cpu-shares",
  "zone.cpu-cap": "cpu-cap",
  "zone.max-swap": "swap",
  "zone.max-lwps": "pids",
  "zone.max-processes": "pids",
  "zone.max-physical-memory": "memory",
};

/** The configuration's controls Linux cannot honour, whatever the host. */
export function rctlConfigProblems(z: ZoneConfig): string[] {
  const problems: string[] = [];
  for (const r of z.rctl) {
    const where = `rctl ${q(r.name)}`;
    if (r.name === "zone.max-lofi") {
      problems.push(`${where}: no lofi devices on Linux; use add fs with an image file`);
      continue;
    }
    if (r.values.length > 1 && r.name !== "zone.max-physical-memory")
      problems.push(`${where}: ${r.values.length} values given; Linux keeps one limit per control: keep one privileged value`);
    for (const v of r.values) {
      if (v.priv !== "privileged") problems.push(`${where}: priv=${v.priv} cannot be had on a zone rctl; use priv=privileged`);
      if (v.action.startsWith("signal"))
        problems.push(`${where}: action ${q(v.action)} cannot be honoured on Linux: cgroups deny at the limit and send no signal; use action=deny`);
      else if (v.action === "none" && !NONE_MEANS_SOMETHING.has(r.name)) problems.push(`${where}: action=none would limit nothing; use action=deny`);
    }
  }
  if (z.dedicatedCpu && z.dedicatedCpu.importance !== "")
    problems.push(`dedicated-cpu importance ${q(z.dedicatedCpu.importance)} has no Linux meaning (no resource pools to weigh); clear importance`);
  const swap = z.rctl.find((r) => r.name === "zone.max-swap")?.values[0]?.limit;
  const hard = memoryLimits(z).hard;
  if (swap !== undefined && hard !== undefined && swap < hard)
    problems.push(`capped-memory swap ${q(formatBytes(swap))} is less than physical ${q(formatBytes(hard))}: zone.max-swap counts memory and swap together, so it must be at least physical`);
  return problems;
}

/** What this host's cgroups and CPUs cannot give the zone. */
export function rctlHostProblems(z: ZoneConfig, cg: ZoneCgroup = zoneCgroup("zones", z.zonename), cpus = new DedicatedCpus()): string[] {
  const problems: string[] = [];
  for (const r of z.rctl) {
    const c = NEEDS[r.name];
    if (c && !cg.supports(c)) problems.push(`rctl ${q(r.name)} cannot be had on this host: its cgroup v${cg.version} has no ${c === "swap" ? "swap accounting (boot with swapaccount=1)" : `${c} control`}`);
  }
  if (z.cappedMemory && !cg.supports("memory")) problems.push(`capped-memory physical cannot be had on this host: no memory cgroup controller`);
  if (z.dedicatedCpu) {
    if (!cg.supports("cpus")) problems.push(`dedicated-cpu cannot be had on this host: no cpuset cgroup controller`);
    const { min } = ncpusRange(z.dedicatedCpu.ncpus);
    const most = cpus.hostMax();
    if (min > most) problems.push(`dedicated-cpu ncpus=${z.dedicatedCpu.ncpus}: this host can dedicate at most ${most} CPU${most === 1 ? "" : "s"} (it has ${most + 1}; one stays the global zone's)`);
  }
  const locked = rctlLimit(z, "zone.max-locked-memory");
  const memlock = locked === undefined ? undefined : memlockProblem(locked);
  if (memlock) problems.push(memlock);
  return problems;
}

export function rctlProblems(z: ZoneConfig): string[] {
  return [...rctlConfigProblems(z), ...rctlHostProblems(z)];
}

/** At ready and boot: refuse a control that would be ignored. */
export function checkRctlsOnHost(z: ZoneConfig): void {
  const problems = rctlProblems(z);
  if (problems.length > 0) throw new ZoneError(problems[0]!);
}
