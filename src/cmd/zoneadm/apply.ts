/**
 * zoneadm -z zone apply: the committed configuration's resource controls on the
 * running zone at once (otherwise zonecfg changes take effect at the next boot; illumos
 * has no such subcommand, Oracle Solaris has `zonecfg -r`). It also puts back what
 * prctl -r changed. Dedicated CPUs stay as ready allotted them (rctllive.ts).
 * Done here rather than through zoneadmd: it is no state transition, and root writes
 * the zone's cgroup files itself.
 */
import { UsageError, ZoneError } from "../../native/errors.js";
import { zonePaths } from "../../document/store/paths.js";
import { readRun, zoneRunDir } from "../../document/store/runstate.js";
import type { IndexEntry, Repository } from "../../document/store/repository.js";
import { zoneCgroup } from "../../platform/cgroups/limits.js";
import { checkRctlsOnHost } from "../../platform/rctlcheck.js";
import { applyLive } from "../../platform/rctllive.js";
import { zonesLimits } from "../../platform/reserve.js";

interface ApplyContext {
  repo: Repository;
  zone: string | undefined;
  args: string[];
  out(line: string): void;
}

export function applySubcommand(entryOf: (ctx: ApplyContext) => IndexEntry) {
  return {
    name: "apply",
    usage: "apply",
    needsZone: true,
    run(ctx: ApplyContext): void {
      if (ctx.args.length > 0) throw new UsageError("usage: zoneadm -z zone apply");
      const e = entryOf(ctx);
      if (e.state !== "running" && e.state !== "ready") throw new ZoneError(`zone is ${e.state}; apply changes a ready or running zone (the others take the configuration at boot)`);
      const paths = zonePaths();
      const z = ctx.repo.load(e.name);
      checkRctlsOnHost(z);
      const run = readRun(paths, e.name);
      const cg = zoneCgroup(paths.hostPrefix, e.name);
      if (!run || run.pid <= 0 || !cg.exists()) throw new ZoneError("has no cgroup: is it halting?");
      applyLive(z, cg, run.pid, () => cg.usage().processes, zonesLimits(paths).memory, zoneRunDir(paths, e.name));
    },
  };
}
