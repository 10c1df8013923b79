/**
 * zoneadmd runs for months: hundreds of boot/halt cycles under one daemon leave no
 * zombie, no descriptor, no key (a zombie init keeps its session keyring, and the
 * kernel allows 200 keys per uid, so the 201st boot would fail), no mount and no memory
 * behind. The cycles go straight to the daemon's socket, as zoneadm's do, so the minute
 * is spent in the daemon, not in starting commands.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { call } from "../../../src/daemon/client.js";
import { mountsBelow } from "../../../src/platform/idmap.js";
import type { DaemonStats, Request } from "../../../src/daemon/protocol.js";
import { Repository } from "../../../src/document/store/repository.js";
import { SLOT_SIZE, SlotRegistry } from "../../../src/platform/slots.js";
import { until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const SERIAL_CYCLES = 300;
const PARALLEL_ZONES = 10;
const PARALLEL_CYCLES = 30;
/** Cycles after which the daemon's RSS has reached its plateau (bench/soak.ts shows the curve). */
const WARM_CYCLES = 100;

const root = new ZoneTestRoot("soak");
after(() => root.remove());
const names = ["s", ...Array.from({ length: PARALLEL_ZONES - 1 }, (_, i) => `p${i}`)];

async function op(req: Request): Promise<void> {
  const r = await call(root.paths, req);
  if (!r.ok) throw new Error(`${req.op} ${req.zone ?? ""}: ${r.error}`);
}

async function stats(): Promise<DaemonStats> {
  const r = await call(root.paths, { op: "stats" });
  if (!r.ok || !r.stats) throw new Error("zoneadmd gave no stats");
  return r.stats;
}

/** Keys the kernel charges to `uid` (/proc/key-users: "uid: usage n/n keys/maxkeys bytes/maxbytes"). */
function keysOf(uid: number): number {
  for (const line of fs.readFileSync("/proc/key-users", "utf8").split("\n")) {
    const m = /^\s*(\d+):\s+\d+\s+\d+\/\d+\s+(\d+)\//.exec(line);
    if (m && Number(m[1]) === uid) return Number(m[2]);
  }
  return 0;
}

function zoneRootUid(name: string): number {
  const e = new Repository(root.paths).find(name)!;
  return new SlotRegistry().find(e.uuid, root.paths.configDir)!.slot * SLOT_SIZE;
}


/** Zombie children of `pid`, from ps's view (independent of the daemon's own count), as "PID (comm)". */
function zombiesOf(pid: number): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z" && Number(fields[1]) === pid) out.push(stat.slice(0, stat.lastIndexOf(")") + 1));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** What each of `pid`'s descriptors is open on ("12 -> pipe:[345]"), for a message that names a leak. */
function fdsOf(pid: number): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(`${fd} -> ${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * After a halt the daemon makes the zone's next user namespace in the background
 * (usernsahead.ts): a helper is started, killed and reaped, and the namespace's
 * descriptor kept, a moment after the reply (later on a loaded host). That is not a
 * leak, so each count is taken once the daemon is quiet: no zombie, and the same number
 * of descriptors for 300 ms. A zombie or descriptor that stays is still counted.
 */
async function quiet(pid: number): Promise<DaemonStats> {
  await until("zoneadmd's zombies to be reaped", () => zombiesOf(pid).length === 0, 2_000).catch(() => undefined);
  let s = await stats();
  for (let same = 0, end = Date.now() + 3_000; same < 3 && Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 100));
    const next = await stats();
    same = next.fds === s.fds ? same + 1 : 0;
    s = next;
  }
  return s;
}

describe("soak: boot/halt cycles under one zoneadmd", { concurrency: false }, () => {
  let daemon = 0;
  let start: DaemonStats;
  let warm: DaemonStats | undefined;
  let startFds: string[] = [];
  const baseKeys = new Map<string, number>();
  const keysLeft = (n: string): number => keysOf(zoneRootUid(n)) - baseKeys.get(n)!;
  before(async () => {
    for (const n of names) {
      root.ok("zonecfg", ["-z", n, `create; set zonepath=${path.join(root.dir, "zones", n)}; set brand=minimal`]);
      root.ok("zoneadm", ["-z", n, "install"]);
    }
    daemon = root.daemonPid()!;
    // Keys a uid may hold from before this test (an earlier root's zone in the same slot).
    for (const n of names) baseKeys.set(n, keysOf(zoneRootUid(n)));
    // One cycle of each zone first: what is loaded or opened once is not a leak.
    await Promise.all(names.map(async (zone) => (await op({ op: "boot", zone }), await op({ op: "halt", zone }))));
    start = await quiet(daemon);
    startFds = fdsOf(daemon);
  });

  test(`${SERIAL_CYCLES} boot/halt cycles of one zone leave no zombie and no key`, async () => {
    const uid = zoneRootUid("s");
    const base = baseKeys.get("s")!;
    for (let i = 0; i < SERIAL_CYCLES; i++) {
      await op({ op: "boot", zone: "s" });
      await op({ op: "halt", zone: "s" });
      // A daemon's resident size grows to a plateau as V8 and malloc size their pools; from here it must stay.
      if (i === WARM_CYCLES - 1) warm = await stats();
    }
    await quiet(daemon);
    assert.deepEqual(zombiesOf(daemon), [], "zombie children of zoneadmd");
    // Keys of a reaped process are collected by the kernel shortly after.
    await until(`the keys of uid ${uid} to be collected`, () => keysOf(uid) <= base).catch(() => undefined);
    assert.ok(keysOf(uid) - base <= 0, `keys charged to the zone root's uid ${uid}: ${keysOf(uid) - base} beyond the ${base} it had before`);
  });

  test(`${PARALLEL_CYCLES} cycles of ${PARALLEL_ZONES} zones in parallel`, async () => {
    for (let i = 0; i < PARALLEL_CYCLES; i++) {
      await Promise.all(names.map((zone) => op({ op: "boot", zone })));
      await Promise.all(names.map((zone) => op({ op: "halt", zone })));
    }
    await quiet(daemon);
    assert.deepEqual(zombiesOf(daemon), [], "zombie children of zoneadmd");
    for (const n of names) assert.equal(new Repository(root.paths).find(n)?.state, "installed", n);
  });

  test("the daemon holds what it held before the cycles", async () => {
    assert.equal(root.daemonPid(), daemon, "the same zoneadmd served every cycle");
    const now = await quiet(daemon);
    assert.equal(now.zombies, 0, "zombies by the daemon's own count");
    assert.equal(now.inits, 0, "inits still tracked with every zone halted");
    const newFds = fdsOf(daemon).filter((f) => !startFds.includes(f));
    assert.ok(now.fds <= start.fds, `descriptors: ${start.fds} before, ${now.fds} after; new: ${newFds.slice(0, 8).join(", ")}${newFds.length > 8 ? ` and ${newFds.length - 8} more` : ""}`);
    // Counted below this root only: other roots' zones come and go meanwhile.
    assert.deepEqual(mountsBelow(root.dir), [], "mounts left below the test root");
    const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
    process.stdout.write(`# zoneadmd after the cycles: rss ${mib(start.rss)} -> ${mib(warm!.rss)} (${WARM_CYCLES} cycles) -> ${mib(now.rss)}, heap ${mib(start.heapUsed)} -> ${mib(now.heapUsed)}, fds ${start.fds} -> ${now.fds}\n`);
    // After a full collection: what is live must not grow with the cycles.
    assert.ok(now.heapUsed < start.heapUsed + 4 * 2 ** 20, `heap in use: ${mib(start.heapUsed)} before, ${mib(now.heapUsed)} after`);
    assert.ok(warm, "the serial cycles ran");
    assert.ok(now.rss < warm.rss + 12 * 2 ** 20, `rss: ${mib(warm.rss)} after ${WARM_CYCLES} cycles, ${mib(now.rss)} after all`);
    await until("the zones' keys to be collected", () => names.every((n) => keysLeft(n) <= 0)).catch(() => undefined);
    // At most what the uid held before: an earlier root's keyring in the same slot may be collected meanwhile.
    for (const n of names) assert.ok(keysLeft(n) <= 0, `keys of zone ${n}'s root: ${keysLeft(n)} beyond those it had before`);
  });
});
