/**
 * prctl(1) for zones: show a running zone's resource controls, with what it uses of
 * each, or replace one live.
 *
 *   prctl [-P] [-n name] -i zone zonename
 *   prctl -n name -v value -r -i zone zonename
 *
 * A replaced value lasts until the zone halts, as in illumos; the configuration keeps
 * its own for the next boot (zoneadm apply puts the configuration's back at once).
 * Only zone rctls (-i zone) exist here: Linux has no projects or tasks to name. In a
 * non-global zone prctl refuses: the zone cannot read its configuration.
 */
import { EXIT_OK, UsageError, ZoneError, q } from "../native/errors.js";
import { checkZoneName } from "../document/names.js";
import { zonePaths } from "../document/store/paths.js";
import { Repository } from "../document/store/repository.js";
import { readRun, runningIds, zoneRunDir } from "../document/store/runstate.js";
import { rctlDef } from "../document/rctls.js";
import { parseBytes, parseCount } from "../document/units.js";
import { zoneCgroup } from "../platform/cgroups/limits.js";
import { LIVE_RCTLS, liveRctls, setLiveRctl } from "../platform/rctllive.js";
import { inGlobalZone } from "../platform/zonename.js";
import { failure } from "./report.js";
import { formatParsable, formatTable } from "./prctl/format.js";

const USAGE = "usage: prctl [-P] [-n name] -i zone zonename\n       prctl -n name -v value -r -i zone zonename";

interface Args {
  parsable: boolean;
  name?: string;
  value?: string;
  replace: boolean;
  zone: string;
}

function parseArgs(argv: string[]): Args {
  const a: Partial<Args> & { parsable: boolean; replace: boolean } = { parsable: false, replace: false };
  let idtype: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i]!;
    const arg = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option ${o} needs an argument\n${USAGE}`);
      return v;
    };
    if (o === "-P") a.parsable = true;
    else if (o === "-r") a.replace = true;
    else if (o === "-n") a.name = arg();
    else if (o === "-v") a.value = arg();
    else if (o === "-i") idtype = arg();
    else if (o.startsWith("-")) throw new UsageError(`unknown option ${q(o)}\n${USAGE}`);
    else rest.push(o);
  }
  if (idtype !== "zone") throw new UsageError(`${idtype === undefined ? "-i zone is required" : `-i ${q(idtype)}: only zone is supported (Linux has no projects or tasks)`}\n${USAGE}`);
  if (rest.length !== 1) throw new UsageError(`name one zone\n${USAGE}`);
  if ((a.value !== undefined) !== a.replace) throw new UsageError(`-v and -r go together: prctl -n name -v value -r -i zone zonename\n${USAGE}`);
  if (a.replace && a.name === undefined) throw new UsageError(`-r needs -n name\n${USAGE}`);
  return { ...a, zone: rest[0]! };
}

function main(argv: string[]): number {
  let prefix = "prctl";
  try {
    const args = parseArgs(argv);
    if (!inGlobalZone()) throw new ZoneError("prctl runs in the global zone only: a zone cannot read its configuration");
    checkZoneName(args.zone);
    prefix = `prctl: zone '${args.zone}'`;
    if (args.name !== undefined) {
      rctlDef(args.name);
      if (!LIVE_RCTLS.includes(args.name)) throw new ZoneError(`rctl ${q(args.name)} has no Linux meaning: no lofi devices on Linux`);
    }
    const paths = zonePaths();
    const repo = new Repository(paths);
    if (!repo.find(args.zone)) throw new ZoneError("no such zone configured");
    const id = runningIds(paths).get(args.zone);
    const run = readRun(paths, args.zone);
    const cg = zoneCgroup(paths.hostPrefix, args.zone);
    if (id === undefined || !run || run.pid <= 0 || !cg.exists()) throw new ZoneError("not running; prctl shows and changes running zones only");
    const z = repo.load(args.zone);
    if (args.replace) {
      const def = rctlDef(args.name!);
      const value = def.bytes ? parseBytes(`${args.name} value`, args.value!) : parseCount(`${args.name} value`, args.value!);
      setLiveRctl(args.name!, value, cg, run.pid, () => cg.usage().processes, zoneRunDir(paths, args.zone));
      process.stdout.write(`${args.name} of zone '${args.zone}' is now ${args.value} until the zone halts; the next boot takes the configured value again (zoneadm -z ${args.zone} apply restores it now)\n`);
      return EXIT_OK;
    }
    const rctls = liveRctls(z, cg, run.pid, args.name);
    const lines = args.parsable ? formatParsable(id, args.zone, rctls) : formatTable(id, args.zone, rctls);
    process.stdout.write(lines.join("\n") + "\n");
    return EXIT_OK;
  } catch (e) {
    return failure(prefix, e);
  }
}

process.exitCode = main(process.argv.slice(2));
