/**
 * The long soak: zoneadmd serving for a long time. One minimal zone is booted and
 * halted over and over (default 10,000 cycles) through the daemon's socket while a few
 * other zones stay up the whole time (default 60 minutes) with zlogin commands and
 * console traffic against them. Every `every` cycles it prints one line of the curve:
 * the daemon's RSS and heap after a forced collection, its descriptors, its zombie
 * children, the keys charged to the cycled zone's root, the mount table's size, and the
 * cycle time p50/p99 of the window. test/zones/lifecycle/soak.test.ts is the minute-long version in CI.
 *
 *   node dist/bench/soak.js [cycles=10000] [minutes=60] [held zones=3] [every=500]
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { call } from "../src/daemon/client.js";
import { socketPath, type DaemonStats, type Request } from "../src/daemon/protocol.js";
import { zonePaths } from "../src/document/store/paths.js";
import { Repository } from "../src/document/store/repository.js";
import { SLOT_SIZE, SlotRegistry } from "../src/platform/slots.js";
import { percentile } from "./stats.js";
import { benchRoot, runInRoot } from "./root.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cycles = Number(process.argv[2] ?? 10_000);
const minutes = Number(process.argv[3] ?? 60);
const held = Number(process.argv[4] ?? 3);
const every = Number(process.argv[5] ?? 500);
const root = benchRoot("soak");
const paths = zonePaths(root.env);
const bin = (c: string): string => path.join(TOP, "bin", c);

async function op(req: Request): Promise<DaemonStats | undefined> {
  const r = await call(paths, req);
  if (!r.ok) throw new Error(`${req.op} ${req.zone ?? ""}: ${r.error}`);
  return r.stats;
}

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(bin(cmd), args, { env: root.env, stdio: "ignore" });
    c.on("exit", (code) => resolve(code ?? -1));
  });
}

/** Attach to a zone's console as zlogin -C does, type a line, wait for its echo, leave. */
function consoleTraffic(zone: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.createConnection(socketPath(paths.runDir));
    const mark = `soak-${Date.now()}`;
    let seen = "";
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      c.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 5000);
    c.on("connect", () => c.write(JSON.stringify({ op: "console", zone }) + "\n" + `echo ${mark}\n`));
    c.on("data", (d: Buffer) => {
      seen += d.toString("latin1");
      if (seen.split(mark).length > 2) done(true); // the typed line and its output
    });
    c.on("error", () => done(false));
  });
}

function keysOf(uid: number): number {
  for (const line of fs.readFileSync("/proc/key-users", "utf8").split("\n")) {
    const m = /^\s*(\d+):\s+\d+\s+\d+\/\d+\s+(\d+)\//.exec(line);
    if (m && Number(m[1]) === uid) return Number(m[2]);
  }
  return 0;
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(1);

async function main(): Promise<void> {
  const names = ["c", ...Array.from({ length: held }, (_, i) => `h${i}`)];
  for (const n of names) {
    if ((await run("zonecfg", ["-z", n, `create; set zonepath=${path.join(root.dir, "zones", n)}; set brand=minimal`])) !== 0) throw new Error(`zonecfg ${n} failed`);
    if ((await run("zoneadm", ["-z", n, "install"])) !== 0) throw new Error(`install ${n} failed`);
  }
  for (const n of names.slice(1)) await op({ op: "boot", zone: n });
  const e = new Repository(paths).find("c")!;
  const uid = new SlotRegistry().find(e.uuid, paths.configDir)!.slot * SLOT_SIZE;
  const t0 = Date.now();
  const holdUntil = t0 + minutes * 60_000;
  const traffic = { zlogin: 0, zloginFailed: 0, console: 0, consoleFailed: 0 };
  let cyclesDone = false;
  // Traffic on the held zones until the hour is up and the cycles are done.
  const load = (async () => {
    for (let i = 0; Date.now() < holdUntil || !cyclesDone; i++) {
      const z = `h${i % held}`;
      if ((await run("zlogin", [z, "echo soak; cat /proc/loadavg >/dev/null"])) === 0) traffic.zlogin++;
      else traffic.zloginFailed++;
      if (await consoleTraffic(z)) traffic.console++;
      else traffic.consoleFailed++;
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  const mounts = (): number => fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").length;
  console.log(`Soak: ${cycles} boot/halt cycles of one minimal zone; ${held} zones up with zlogin and console traffic for at least ${minutes} min`);
  console.log(["cycle", "min", "rss MiB", "heap MiB", "fds", "zombies", "keys", "mounts", "cycle p50 ms", "p99 ms", "zlogin ok/fail", "console ok/fail"].join("\t"));
  const line = async (i: number, window: number[]): Promise<void> => {
    const s = (await op({ op: "stats" }))!;
    const w = [...window].sort((a, b) => a - b);
    const p = (q: number): string => (w.length ? percentile(w, q).toFixed(1) : "-");
    console.log([i, ((Date.now() - t0) / 60_000).toFixed(1), mib(s.rss), mib(s.heapUsed), s.fds, s.zombies, keysOf(uid), mounts(), p(50), p(99), `${traffic.zlogin}/${traffic.zloginFailed}`, `${traffic.console}/${traffic.consoleFailed}`].join("\t"));
  };
  await line(0, []);
  let window: number[] = [];
  for (let i = 1; i <= cycles; i++) {
    const c0 = process.hrtime.bigint();
    await op({ op: "boot", zone: "c" });
    await op({ op: "halt", zone: "c" });
    window.push(Number(process.hrtime.bigint() - c0) / 1e6);
    if (i % every === 0) {
      await line(i, window);
      window = [];
    }
  }
  cyclesDone = true;
  await load;
  await line(cycles, window);
  for (const n of names.slice(1)) await op({ op: "halt", zone: n });
  await line(cycles, []);
  try {
    process.kill(Number(fs.readFileSync(path.join(paths.runDir, "zoneadmd.pid"), "utf8")), "SIGTERM");
  } catch {
    // no daemon
  }
}

runInRoot(root, main);
