/**
 * zoneadm(8): administer zones. A command table (illumos zoneadm.c cmdtab[]) maps each
 * subcommand to its handler; subcommands that later issues build are listed already
 * and say plainly that they are not built yet, after the state checks they will have.
 *
 *   zoneadm [-z zone] [-u uuid] subcommand [args]
 */
import * as path from "node:path";
import { EXIT_OK, UsageError, ZoneError } from "../native/errors.js";
import { checkZoneName } from "../document/names.js";
import { parseBootWords } from "../document/bootargs.js";
import { zonePaths } from "../document/store/paths.js";
import { Repository, type IndexEntry } from "../document/store/repository.js";
import { checkOperation } from "../document/store/state.js";
import { listZones, parseListFlags, recordedActive } from "./zoneadm/list.js";
import { verifyOnHost } from "../platform/hostcheck.js";
import { failure } from "./report.js";
import { asRoot, call, ensureDaemon, serving } from "../daemon/client.js";
import type { Operation, Request } from "../daemon/protocol.js";
import { readHaltNote, runningIds } from "../document/store/runstate.js";
import { applySubcommand } from "./zoneadm/apply.js";
import { imageSubcommand } from "./zoneadm/image.js";
import { attachSubcommand, detachSubcommand } from "./zoneadm/detach.js";
import { installSubcommand } from "./zoneadm/install.js";
import { tokenSubcommand } from "./zoneadm/token.js";
import { webSubcommand } from "./zoneadm/web.js";

interface Context {
  repo: Repository;
  /** The zone named with -z (or found by -u), if any. */
  zone: string | undefined;
  args: string[];
  out(line: string): void;
}

interface Subcommand {
  name: string;
  usage: string;
  /** Needs -z. */
  needsZone: boolean;
  run(ctx: Context): void | Promise<void>;
}

function entryOf(ctx: Context): IndexEntry {
  const e = ctx.repo.find(ctx.zone!);
  if (!e) throw new ZoneError("no such zone configured; create it with zonecfg");
  return e;
}

/** A subcommand whose work is still to come: its state check, then a clear refusal. */
function notBuilt(name: string, usage: string, op = name): Subcommand {
  return {
    name,
    usage,
    needsZone: true,
    run(ctx) {
      checkOperation(op, entryOf(ctx).state);
      throw new ZoneError(`${name} is not implemented yet in this version of zoneadm`);
    },
  };
}

/** Ask zoneadmd to carry out a transition (it owns them all); fail with its message. */
function viaDaemon(op: Operation, usage: string, parse: (args: string[]) => Partial<Request> = noArgs(usage)): Subcommand {
  return {
    name: op,
    usage,
    needsZone: true,
    async run(ctx) {
      // "No such zone" comes before any question about the arguments.
      const e = entryOf(ctx);
      const extra = parse(ctx.args);
      // halt is the way out for an installed zone that a ready cut short by a kill left
      // mounts, a container or a holder: only zoneadmd can see them, so it checks halt.
      // Likewise an incomplete zone may be a move cut short, which only zoneadmd can finish.
      if (op !== "halt" && !(op === "move" && e.state === "incomplete")) checkOperation(op, e.state);
      const reply = await call(zonePaths(), { op, zone: ctx.zone, ...extra });
      if (!reply.ok) throw new ZoneError(reply.error);
      // Zones are only as safe as their runtime: say so when it lacks known fixes.
      if (reply.runtime?.warning) process.stderr.write(`zoneadm: warning: ${reply.runtime.warning}\n`);
    },
  };
}

function noArgs(usage: string): (args: string[]) => Partial<Request> {
  return (args) => {
    if (args.length > 0) throw new UsageError(`usage: zoneadm -z zone ${usage}`);
    return {};
  };
}

/**
 * boot [-- args]: the words after -- go to the zone's boot (document/bootargs.ts):
 * -i PATH picks the init, the rest become its arguments; checked here, used by zoneadmd.
 */
function bootArgs(args: string[]): Partial<Request> {
  if (args.length === 0) return {};
  if (args[0] !== "--") throw new UsageError("usage: zoneadm -z zone boot [-- [-i /path/to/init] [init-args ...]]");
  const rest = args.slice(1);
  if (rest.length === 0) return {};
  parseBootWords(rest);
  return { init: rest };
}

const CMDTAB: readonly Subcommand[] = [
  {
    name: "help",
    usage: "help [subcommand]",
    needsZone: false,
    run(ctx) {
      const c = CMDTAB.find((x) => x.name === ctx.args[0]);
      ctx.out(c ? `usage: zoneadm${c.needsZone ? " -z zone" : ""} ${c.usage}` : USAGE);
    },
  },
  viaDaemon("boot", "boot [-- [-i /path/to/init] [init-args ...]]", bootArgs),
  viaDaemon("halt", "halt"),
  viaDaemon("ready", "ready"),
  {
    name: "shutdown",
    usage: "shutdown [-r]",
    needsZone: true,
    async run(ctx) {
      if (ctx.args.length > 1 || (ctx.args.length === 1 && ctx.args[0] !== "-r")) throw new UsageError("usage: zoneadm -z zone shutdown [-r]");
      checkOperation("shutdown", entryOf(ctx).state);
      const reply = await call(zonePaths(), { op: ctx.args[0] === "-r" ? "shutdown-reboot" : "shutdown", zone: ctx.zone });
      if (!reply.ok) throw new ZoneError(reply.error);
    },
  },
  viaDaemon("reboot", "reboot"),
  {
    name: "list",
    usage: "list [-cinpv]",
    needsZone: false,
    async run(ctx) {
      const flags = parseListFlags(ctx.args);
      // A state the index records as active is true only while zoneadmd watches the zone:
      // after the daemon died, a zone's init may have gone too. Root starts the daemon,
      // which reconciles before it listens; anyone else is told the states may be old.
      // A daemon that cannot be reached costs the list nothing but the warning.
      if (recordedActive(ctx.repo, ctx.zone)) {
        const stale = "the states of running zones are as zoneadmd last recorded them";
        if (!asRoot()) {
          if (!(await serving(zonePaths()))) process.stderr.write(`zoneadm: warning: zoneadmd is not running: ${stale}\n`);
        } else {
          await ensureDaemon(zonePaths()).catch((e: Error) => process.stderr.write(`zoneadm: warning: ${e.message}: ${stale}\n`));
        }
      }
      ctx.out(listZones(ctx.repo, flags, ctx.zone, runningIds(zonePaths())).join("\n"));
      // The good zones are listed; each bad index line is named, so its zone is not silently missing.
      for (const problem of ctx.repo.scan().problems) process.stderr.write(`zoneadm: warning: ${problem}\n`);
      // A zone zoneadmd halted on its own (a reboot loop) says why until it boots again.
      for (const e of ctx.repo.list())
        if (ctx.zone === undefined || ctx.zone === e.name) {
          const why = e.state === "installed" ? readHaltNote(zonePaths(), e.name) : undefined;
          if (why) process.stderr.write(`zoneadm: warning: zone '${e.name}': ${why}\n`);
        }
    },
  },
  {
    name: "runtime",
    usage: "runtime",
    needsZone: false,
    async run(ctx) {
      if (ctx.args.length > 0) throw new UsageError("usage: zoneadm runtime");
      const reply = await call(zonePaths(), { op: "ping" });
      if (!reply.ok || !reply.runtime) throw new ZoneError("zoneadmd did not say which runtime it uses");
      ctx.out(`${reply.runtime.name} ${reply.runtime.version}`);
      if (reply.runtime.warning) ctx.out(`warning: ${reply.runtime.warning}`);
    },
  },
  {
    name: "verify",
    usage: "verify",
    needsZone: true,
    run(ctx) {
      if (ctx.args.length > 0) throw new UsageError("usage: verify");
      const e = entryOf(ctx);
      checkOperation("verify", e.state);
      verifyOnHost(ctx.repo.load(e.name), ctx.repo.list().filter((x) => x.name !== e.name));
    },
  },
  applySubcommand(entryOf),
  imageSubcommand(entryOf),
  installSubcommand(entryOf),
  viaDaemon("uninstall", "uninstall -F", (args) => {
    // illumos asks for confirmation; with no question asked here, -F says yes.
    if (args.length !== 1 || args[0] !== "-F") throw new UsageError("uninstall removes the zone's files: confirm with 'zoneadm -z zone uninstall -F'");
    return {};
  }),
  viaDaemon("clone", "clone [-m copy] source_zone", (args) => {
    // -m copy is the only method (and the default): there is no ZFS snapshot to clone from.
    const rest = args[0] === "-m" && args[1] === "copy" ? args.slice(2) : args;
    if (rest.length !== 1 || rest[0]!.startsWith("-")) throw new UsageError("usage: zoneadm -z zone clone [-m copy] source_zone");
    checkZoneName(rest[0]!);
    return { source: rest[0] };
  }),
  viaDaemon("move", "move zonepath", (args) => {
    if (args.length !== 1 || !path.isAbsolute(args[0]!)) throw new UsageError("usage: zoneadm -z zone move zonepath (an absolute path)");
    return { zonepath: path.normalize(args[0]!) };
  }),
  detachSubcommand(entryOf),
  attachSubcommand(entryOf),
  tokenSubcommand(),
  webSubcommand(),
  notBuilt("mark", "mark incomplete"),
  notBuilt("mount", "mount"),
  notBuilt("unmount", "unmount"),
];

const USAGE = "usage: zoneadm [-z zone] [-u uuid] subcommand [args]\nsubcommands:\n" + CMDTAB.map((c) => `  ${c.usage}`).join("\n");

async function main(argv: string[]): Promise<number> {
  let prefix = "zoneadm";
  try {
    let zone: string | undefined;
    let uuid: string | undefined;
    let i = 0;
    for (; i < argv.length && argv[i]!.startsWith("-"); i++) {
      const a = argv[i]!;
      if (a !== "-z" && a !== "-u") throw new UsageError(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option ${a} needs an argument\n${USAGE}`);
      if (a === "-z") zone = v;
      else uuid = v;
    }
    const name = argv[i];
    if (name === undefined) throw new UsageError(USAGE);
    const cmd = CMDTAB.find((c) => c.name === name);
    if (!cmd) throw new UsageError(`unknown subcommand ${JSON.stringify(name)}\n${USAGE}`);
    const repo = new Repository(zonePaths());
    if (uuid !== undefined) {
      const byUuid = repo.list().find((e) => e.uuid === uuid);
      if (!byUuid) throw new ZoneError(`no zone has uuid ${JSON.stringify(uuid)}`);
      if (zone !== undefined && zone !== byUuid.name) throw new ZoneError(`-z ${zone} and -u ${uuid} name different zones`);
      zone = byUuid.name;
    }
    if (zone !== undefined) {
      if (zone !== "global") checkZoneName(zone);
      prefix = `zoneadm: zone '${zone}'`;
    }
    if (cmd.needsZone && zone === undefined) throw new UsageError(`${name} needs a zone (-z zone)`);
    if (cmd.needsZone && zone === "global") throw new ZoneError(`${name} does not apply to the global zone`);
    await cmd.run({ repo, zone, args: argv.slice(i + 1), out: (l) => process.stdout.write(l + "\n") });
    return EXIT_OK;
  } catch (e) {
    return failure(prefix, e);
  }
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
