/**
 * zipcs: System V IPC objects, zone by zone, in util-linux ipcs's layout (named so as
 * not to shadow ipcs).
 *   zipcs [-mqsa] [-z zone | -Z]
 * By default the caller's own zone. In the global zone, -z shows one zone's objects and
 * -Z every zone's (the global zone's first) with a ZONE column. Inside a zone only its
 * own objects exist for it; -z naming another zone is refused.
 */
import { EXIT_OK, UsageError, ZoneError } from "../native/errors.js";
import { IPC_KINDS, ownObjects, passwdNames, targetZone, zoneObjects, zonesUp, type IpcKind, type IpcObject } from "../platform/ipc.js";
import { checkZoneName, GLOBAL_ZONE } from "../document/names.js";
import { zonePaths } from "../document/store/paths.js";
import { readRun } from "../document/store/runstate.js";
import { currentZoneName } from "../platform/zonename.js";
import { failure } from "./report.js";

const USAGE = "usage: zipcs [-mqsa] [-z zone | -Z]";

interface Args {
  kinds: IpcKind[];
  zone: string | undefined;
  all: boolean;
}

function parseArgs(argv: string[]): Args {
  const kinds = new Set<IpcKind>();
  let zone: string | undefined;
  let all = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-m") kinds.add("shm");
    else if (a === "-q") kinds.add("msg");
    else if (a === "-s") kinds.add("sem");
    else if (a === "-a") IPC_KINDS.forEach((k) => kinds.add(k));
    else if (a === "-Z") all = true;
    else if (a === "-z") {
      zone = argv[++i];
      if (zone === undefined) throw new UsageError(`-z needs a zone name\n${USAGE}`);
      checkZoneName(zone);
    } else throw new UsageError(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (all && zone !== undefined) throw new UsageError(`-z and -Z cannot be used together\n${USAGE}`);
  return { kinds: kinds.size === 0 ? [...IPC_KINDS] : IPC_KINDS.filter((k) => kinds.has(k)), zone, all };
}

const TITLES: Record<IpcKind, string> = { msg: "Message Queues", shm: "Shared Memory Segments", sem: "Semaphore Arrays" };
const HEADS: Record<IpcKind, string> = {
  msg: `${"key".padEnd(10)} ${"msqid".padEnd(10)} ${"owner".padEnd(10)} ${"perms".padEnd(10)} ${"used-bytes".padEnd(12)} ${"messages".padEnd(12)}`,
  shm: `${"key".padEnd(10)} ${"shmid".padEnd(10)} ${"owner".padEnd(10)} ${"perms".padEnd(10)} ${"bytes".padEnd(10)} ${"nattch".padEnd(10)} ${"status".padEnd(12)}`,
  sem: `${"key".padEnd(10)} ${"semid".padEnd(10)} ${"owner".padEnd(10)} ${"perms".padEnd(10)} ${"nsems".padEnd(10)}`,
};

/** The first `width` characters of escaped text, never cutting an escape (printable.ts) in two. */
function cut(escaped: string, width: number): string {
  let out = "";
  for (const t of escaped.match(/\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|.)|[^\\]/gsu) ?? []) {
    if (out.length + t.length > width) break;
    out += t;
  }
  return out;
}

/** `owner` comes from the zone's own /etc/passwd: passwdNames() has escaped it. */
function row(o: IpcObject, owner: string): string {
  const head = `0x${o.key.toString(16).padStart(8, "0")} ${String(o.id).padEnd(10)} ${cut(owner, 10).padEnd(10)} ${(o.mode & 0o777).toString(8).padEnd(10)} `;
  if (o.kind === "msg") return head + `${String(o.size).padEnd(12)} ${String(o.count).padEnd(12)}`;
  if (o.kind === "shm") return head + `${String(o.size).padEnd(10)} ${String(o.count).padEnd(10)} ${(o.mode & 0o1000 ? "dest" : " ").padEnd(6)} ${(o.mode & 0o2000 ? "locked" : " ").padEnd(6)}`;
  return head + String(o.size).padEnd(10);
}

function main(argv: string[]): number {
  try {
    const a = parseArgs(argv);
    const paths = zonePaths();
    // Which zones to show, each with its objects and a uid->name table of its own.
    const shown: Array<{ zone: string; objects: IpcObject[]; names: Map<number, string> }> = [];
    const here = currentZoneName();
    if (a.all && here !== GLOBAL_ZONE) throw new ZoneError(`-Z is for the global zone; this is zone ${JSON.stringify(here)}`);
    const zones = a.all ? [GLOBAL_ZONE, ...zonesUp(paths)] : [targetZone(a.zone) ?? here];
    for (const z of zones) {
      const own = z === here;
      const objects = own ? ownObjects() : zoneObjects(paths, z);
      const root = own ? "/" : (readRun(paths, z)?.root ?? "/nonexistent");
      shown.push({ zone: z, objects, names: passwdNames(root) });
    }
    let out = "";
    for (const k of a.kinds) {
      out += `\n------ ${TITLES[k]} --------\n${a.all ? "ZONE".padEnd(12) + " " : ""}${HEADS[k]}\n`;
      for (const s of shown) {
        for (const o of s.objects.filter((x) => x.kind === k)) out += `${a.all ? s.zone.padEnd(12) + " " : ""}${row(o, s.names.get(o.uid) ?? String(o.uid))}\n`;
      }
      out += "\n";
    }
    process.stdout.write(out);
    return EXIT_OK;
  } catch (e) {
    return failure(argv.includes("-z") ? `zipcs: zone '${argv[argv.indexOf("-z") + 1] ?? ""}'` : "zipcs", e);
  }
}

process.exitCode = main(process.argv.slice(2));
