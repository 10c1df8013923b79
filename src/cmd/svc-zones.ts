/**
 * svc-zones(8): the zones service's method (illumos /lib/svc/method/svc-zones, run by
 * svc:/system/zones; here by systemd/zones.service).
 *
 *   svc-zones start   boot every installed zone whose autoboot is true
 *   svc-zones stop    shut every running zone down cleanly, all at once (each zone's
 *                     init gets zoneadm shutdown's 30 s, then it is halted); halt
 *                     every ready zone
 *
 * A zone that fails does not stop the others: each failure is one line on stderr
 * naming the zone, and the exit status is 1 if there was any. Honours ZONES_ROOT,
 * like every command; the unit uses the real root.
 */
import { EXIT_ERR, EXIT_OK, UsageError, ZoneError } from "../native/errors.js";
import { zonePaths } from "../document/store/paths.js";
import { Repository, type IndexEntry } from "../document/store/repository.js";
import { call } from "../daemon/client.js";
import type { Operation } from "../daemon/protocol.js";
import type { ZoneState } from "../document/store/state.js";
import { failure } from "./report.js";

const USAGE = "usage: svc-zones start | stop";
/** Boots are CPU-bound: a few at a time. Shutdowns mostly wait for inits: all at once. */
const BOOT_PARALLEL = 8;
/** States with something on the host to stop: a ready zone, a running one, or one going down. */
const UP: readonly ZoneState[] = ["ready", "running", "shutting_down", "down"];

/** Run `fn` over `items`, at most `limit` at once; never rejects. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function op(name: string, o: Operation): Promise<void> {
  const reply = await call(zonePaths(), { op: o, zone: name });
  if (!reply.ok) throw new ZoneError(reply.error);
}

/** The one-line reason a call failed. */
function reason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n").join("; ");
}

interface Outcome {
  done: string[];
  failed: string[];
}

/** The zones whose autoboot is true, by their index entry; unreadable ones go to `failed`. */
function autobootZones(repo: Repository, failed: string[]): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const e of repo.list()) {
    try {
      if (repo.load(e.name).autoboot) out.push(e);
    } catch (err) {
      failed.push(`zone '${e.name}': configuration unreadable: ${reason(err)}`);
    }
  }
  return out;
}

async function start(repo: Repository): Promise<Outcome> {
  const out: Outcome = { done: [], failed: [] };
  let listed = autobootZones(repo, []);
  // After a host crash the index still says running: zoneadmd reconciles it with the
  // kernel before it answers, so ask it first, then read the states again.
  if (listed.some((e) => UP.includes(e.state))) {
    const reply = await call(zonePaths(), { op: "ping" });
    if (!reply.ok) throw new ZoneError(reply.error);
  }
  const auto: IndexEntry[] = [];
  listed = autobootZones(repo, out.failed);
  for (const e of listed) {
    if (e.state === "running") continue;
    if (e.state !== "installed" && e.state !== "ready") out.failed.push(`zone '${e.name}': autoboot is true but the zone is ${e.state}, not installed`);
    else auto.push(e);
  }
  if (auto.length > 0) process.stdout.write(`svc-zones: booting zones: ${auto.map((e) => e.name).join(" ")}\n`);
  await eachLimited(auto, BOOT_PARALLEL, async (e) => {
    try {
      await op(e.name, "boot");
      out.done.push(e.name);
    } catch (err) {
      out.failed.push(`zone '${e.name}': boot failed: ${reason(err)}`);
    }
  });
  return out;
}

async function stop(repo: Repository): Promise<Outcome> {
  const out: Outcome = { done: [], failed: [] };
  const up = repo.list().filter((e) => UP.includes(e.state));
  if (up.length > 0) process.stdout.write(`svc-zones: shutting down zones: ${up.map((e) => e.name).join(" ")}\n`);
  await eachLimited(up, up.length, async (e) => {
    try {
      // zoneadmd's shutdown waits for the zone's init (30 s at most), then halts; a ready
      // zone, or one a halt is taking down already, is halted (after that halt).
      if (e.state === "running") await op(e.name, "shutdown");
      else await op(e.name, "halt");
      out.done.push(e.name);
    } catch (first) {
      // The zone changed meanwhile, or its init would not stop cleanly: halt it anyway.
      try {
        if (UP.includes(repo.find(e.name)?.state ?? "installed")) await op(e.name, "halt");
        out.done.push(e.name);
      } catch (err) {
        out.failed.push(`zone '${e.name}': shutdown failed: ${reason(first)}; halt failed: ${reason(err)}`);
      }
    }
  });
  return out;
}

async function main(argv: string[]): Promise<number> {
  try {
    if (argv.length !== 1 || (argv[0] !== "start" && argv[0] !== "stop")) throw new UsageError(USAGE);
    const repo = new Repository(zonePaths());
    const out = argv[0] === "start" ? await start(repo) : await stop(repo);
    for (const line of out.failed) process.stderr.write(`svc-zones: ${line}\n`);
    return out.failed.length > 0 ? EXIT_ERR : EXIT_OK;
  } catch (e) {
    return failure("svc-zones", e);
  }
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
