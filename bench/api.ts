/**
 * Throughput of create + install + boot of minimal zones (zones/s), in one run, the
 * rounds of each path interleaved so that machine noise hits all alike:
 *   - API, one connection: POST /1.0/zones, PUT .../state install, GET operation/wait,
 *     PUT .../state boot, wait; all on ONE keep-alive connection, pipelined in waves
 *     of K zones (pipeline.ts: K requests written at once, answers in order)
 *   - API, K connections: the same requests, each zone its own chain on a pool of K
 *     keep-alive connections (node's http.Agent), K zones in flight at any time
 *   - the commands: zonecfg -z Z -f FILE, zoneadm -z Z install, zoneadm -z Z boot,
 *     K zones' chains in parallel
 *   - runc run -d (peer): K in parallel, each a bundle of our own OCI spec on one shared
 *     busybox tree (the minimal brand's), no console socket, no install
 * Each row: zones/s per round (median and range), p50/p99 of one zone's create-to-
 * running time, and the CPU each zone cost (zoneadmd with the runc it ran, plus the
 * client's own processes), then the ratios. As on a real host, where /run is a tmpfs,
 * the root's run directory (daemon sockets, run state, runc state) is a tmpfs; the
 * zones themselves are on disk. Every zone, container, mount and cgroup goes after.
 * Each round starts once the host is quiet again (settle), so that the kernel's cleanup
 * after the previous round is charged to none of the paths. Before the first, 2K zones
 * go through the API untimed, to warm the daemon's JIT (see main).
 *
 *   node dist/bench/api.js [zones per round (48)] [rounds (3)] [in flight K (16)]
 * ZONES_BENCH_PATHS=one,pool,commands,runc (the default: all) runs only those paths,
 * for A/B runs of two builds taking turns.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { call } from "../src/daemon/client.js";
import { apiSocketPath } from "../src/daemon/api/api.js";
import { zonePaths } from "../src/document/store/paths.js";
import { percentile } from "./stats.js";
import { benchRoot, removeBenchRoot, type BenchRoot } from "./root.js";
import { PipelinedConnection, type Envelope } from "./pipeline.js";
import { RuncPeer } from "./runcpeer.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const zones = Number(process.argv[2] ?? 48);
const rounds = Number(process.argv[3] ?? 3);
const K = Number(process.argv[4] ?? 16);
const root: BenchRoot = benchRoot("api");
// The daemon client starts zoneadmd with this process's environment: never the host's root.
process.env.ZONES_ROOT = root.dir;
const paths = zonePaths(root.env);
const bin = (c: string): string => path.join(TOP, "bin", c);
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

interface Round {
  secs: number;
  /** Each zone's create-to-running time, ms. */
  lat: number[];
  /** CPU ms per zone: zoneadmd (with the runtimes it ran and reaped) + the client's processes. */
  cpu: number;
}
const results = new Map<string, Round[]>();

/** utime+stime(+children's) in ms of a process, from /proc. */
function cpuMs(pid: number | "self"): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const tick = 1000 / 100; // USER_HZ
  return [11, 12, 13, 14].reduce((s, i) => s + Number(f[i]) * tick, 0);
}
const daemonPid = (): number => Number(fs.readFileSync(path.join(paths.runDir, "zoneadmd.pid"), "utf8"));

/** Run `chain(i)` for i < n with k at a time; returns each one's duration. */
async function parallel(n: number, k: number, chain: (i: number) => Promise<void>): Promise<number[]> {
  const lat: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(k, n) }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = now();
        await chain(i);
        lat.push(now() - t0);
      }
    }),
  );
  return lat;
}

/** The host's CPU time so far, busy and all, in ticks (/proc/stat's first line). */
function cpuTicks(): { busy: number; all: number } {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const all = f.reduce((a, b) => a + b, 0);
  return { busy: all - f[3]! - f[4]!, all };
}

/**
 * Wait (at most 15 s) for the host to be quiet: what the last round's removal set off
 * (the kernel freeing its cgroups, namespaces and inodes) must not be charged to the
 * next path's round. Quiet: under 15 % busy over two half seconds in a row.
 */
async function settle(): Promise<void> {
  let calm = 0;
  for (const end = Date.now() + 15_000; calm < 2 && Date.now() < end; ) {
    const a = cpuTicks();
    await new Promise((r) => setTimeout(r, 500));
    const b = cpuTicks();
    calm = (b.busy - a.busy) / Math.max(1, b.all - a.all) < 0.15 ? calm + 1 : 0;
  }
}

async function timedRound(label: string, run: () => Promise<number[]>): Promise<void> {
  await settle();
  const d0 = cpuMs(daemonPid());
  const c0 = cpuMs("self");
  const t0 = now();
  const lat = await run();
  const secs = (now() - t0) / 1000;
  const cpu = (cpuMs(daemonPid()) - d0 + cpuMs("self") - c0) / lat.length;
  (results.get(label) ?? results.set(label, []).get(label)!).push({ secs, lat, cpu });
}

const config = (name: string): string => `set zonepath=${paths.zonesDir}/${name}; set brand=minimal`;

/** Wait for an operation's end through `ask`; its failure is an Error with the API's line. */
function ended(what: string, env: Envelope): void {
  if (env.metadata?.status !== "Success") throw new Error(`${what}: ${env.metadata?.status}: ${env.metadata?.err}`);
}

/** (a) One connection: waves of K zones, each step's K requests pipelined. */
async function apiOneConnection(prefix: string, count = zones): Promise<number[]> {
  const c = new PipelinedConnection(apiSocketPath(paths.runDir));
  const lat: number[] = [];
  try {
    for (let w = 0; w < count; w += K) {
      const names = Array.from({ length: Math.min(K, count - w) }, (_, i) => `${prefix}${w + i}`);
      const t0 = now();
      await Promise.all(names.map((n) => c.json("POST", "/1.0/zones", { name: n, config: config(n) })));
      for (const action of ["install", "boot"]) {
        const ops = await Promise.all(names.map((n) => c.json("PUT", `/1.0/zones/${n}/state`, { action })));
        const done = await Promise.all(ops.map((o) => c.json("GET", `${o.env.operation}/wait?timeout=120`)));
        done.forEach((d, i) => ended(`${action} ${names[i]}`, d.env));
      }
      for (const _ of names) lat.push(now() - t0);
    }
  } finally {
    c.close();
  }
  return lat;
}

/** A request on the pool: the envelope, or an Error naming it. */
function pooled(agent: http.Agent, method: string, p: string, body?: unknown): Promise<Envelope> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath: apiSocketPath(paths.runDir), method, path: p, agent, headers: text ? { "Content-Type": "application/json" } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => {
        const env = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Envelope;
        if (env.type === "error") reject(new Error(`${method} ${p}: ${res.statusCode} ${env.error}`));
        else resolve(env);
      });
    });
    req.on("error", reject);
    req.end(text);
  });
}

/** (a') A pool of K keep-alive connections, K zones' chains in flight. */
async function apiPool(prefix: string): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: K });
  try {
    return await parallel(zones, K, async (i) => {
      const n = `${prefix}${i}`;
      await pooled(agent, "POST", "/1.0/zones", { name: n, config: config(n) });
      for (const action of ["install", "boot"]) {
        const op = await pooled(agent, "PUT", `/1.0/zones/${n}/state`, { action });
        ended(`${action} ${n}`, await pooled(agent, "GET", `${op.operation}/wait?timeout=120`));
      }
    });
  } finally {
    agent.destroy();
  }
}

function run(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(argv[0]!, argv.slice(1), { env: root.env }, (err, _out, stderr) => (err ? reject(new Error(`${argv.join(" ")}: ${stderr.trim() || err.message}`)) : resolve())),
  );
}

/** (b) The commands, K chains in parallel. */
async function commands(prefix: string): Promise<number[]> {
  return parallel(zones, K, async (i) => {
    const n = `${prefix}${i}`;
    const file = path.join(root.dir, `${n}.zonecfg`);
    fs.writeFileSync(file, `create\n${config(n).replace("; ", "\n")}\n`);
    await run([bin("zonecfg"), "-z", n, "-f", file]);
    await run([bin("zoneadm"), "-z", n, "install"]);
    await run([bin("zoneadm"), "-z", n, "boot"]);
  });
}

/** Halt, uninstall and delete a round's zones through the daemon (not timed). */
async function removeZones(prefix: string, count = zones): Promise<void> {
  await parallel(count, K, async (i) => {
    const zone = `${prefix}${i}`;
    for (const op of ["halt", "uninstall"] as const) {
      const r = await call(paths, { op, zone });
      if (!r.ok) throw new Error(`${op} ${zone}: ${r.error}`);
    }
    await run([bin("zonecfg"), "-z", zone, "delete", "-F"]);
  });
}

function summary(): void {
  const rate = (r: Round): number => r.lat.length / r.secs;
  const med = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);
  console.log(`\n${zones} zones a round, ${rounds} rounds, ${K} in flight; ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  console.log(`${"path".padEnd(44)} ${"zones/s".padStart(8)} ${"(range)".padStart(13)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"CPU ms/zone".padStart(12)}`);
  const rates = new Map<string, number>();
  for (const [label, rs] of results) {
    const lat = rs.flatMap((r) => r.lat).sort((a, b) => a - b);
    const rr = rs.map(rate);
    rates.set(label, med(rr));
    const range = `${Math.min(...rr).toFixed(1)}-${Math.max(...rr).toFixed(1)}`;
    console.log(`${label.padEnd(44)} ${med(rr).toFixed(1).padStart(8)} ${range.padStart(13)} ${percentile(lat, 50).toFixed(0).padStart(8)} ${percentile(lat, 99).toFixed(0).padStart(8)} ${med(rs.map((r) => r.cpu)).toFixed(1).padStart(12)}`);
  }
  const [one, pool, cli, runc] = [...rates.values()];
  if (rates.size < 4) return;
  console.log(`\nratios (median zones/s): API one connection / commands ${(one! / cli!).toFixed(2)}x, / runc run -d ${(one! / runc!).toFixed(2)}x;` + ` API pool / commands ${(pool! / cli!).toFixed(2)}x, / runc run -d ${(pool! / runc!).toFixed(2)}x`);
  console.log(`aim: API >= 30 zones/s: ${Math.max(one!, pool!) >= 30 ? "met" : "NOT met"} (best API path ${Math.max(one!, pool!).toFixed(2)}/s)`);
}

async function main(): Promise<void> {
  // The run directory on a tmpfs, as /run is on a real host (see above).
  fs.mkdirSync(path.join(root.dir, "run"), { recursive: true });
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", "mode=0755", "zones-bench-run", path.join(root.dir, "run")], { encoding: "utf8" });
  if (m.status !== 0) throw new Error(`cannot mount a tmpfs on ${root.dir}/run: ${m.stderr.trim()}`);
  const ping = await call(paths, { op: "ping" });
  if (!ping.ok) throw new Error(`zoneadmd: ${ping.error}`);
  const runc = (peer = await RuncPeer.make(root.dir, path.join(paths.runDir, "peer-runc"), paths));
  {
    console.log(`create + install + boot of minimal zones; ${ping.runtime?.name} ${ping.runtime?.version}; zoneadmd ${ping.pid}`);
    const want = (p: string): boolean => (process.env.ZONES_BENCH_PATHS ?? "one,pool,commands,runc").split(",").includes(p);
    // Warm-up, untimed: a fresh daemon's first zones run its code unoptimized while V8
    // compiles it, and the zoneadmd a client talks to has usually been up for days. The
    // effect measured small (two runs without it: a first round of 30.7 against 31.8-34.7
    // after it, and of 41.2 against 34.6-43.7), but a slow first round is then never the
    // compiler's. The commands start a fresh node each and runc has no JIT: none for them.
    if (want("one") || want("pool")) {
      await apiOneConnection("w", 2 * K);
      await removeZones("w", 2 * K);
    }
    for (let r = 0; r < rounds; r++) {
      if (want("one")) await timedRound("API, one connection (pipelined waves of K)", () => apiOneConnection(`a${r}x`));
      if (want("pool")) await timedRound("API, pool of K keep-alive connections", () => apiPool(`p${r}x`));
      if (want("commands")) await timedRound("zonecfg -f + zoneadm install + boot", () => commands(`c${r}x`));
      if (want("runc")) await timedRound("runc run -d (peer, no install)", () => parallel(zones, K, (i) => runc.run(`r${r}x${i}`)));
      process.stdout.write(`round ${r + 1}/${rounds} done; removing its zones\n`);
      for (const [p, w] of [["a", "one"], ["p", "pool"], ["c", "commands"]] as const) if (want(w)) await removeZones(`${p}${r}x`);
      await runc.removeAll();
    }
    summary();
  }
}

let peer: RuncPeer | undefined;
let cleaned = false;
/** Everything goes, also after a failure or a signal: the peer's containers first (their state is on the root's tmpfs). */
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await peer?.cleanup().catch((e: Error) => console.error(`runc peer cleanup: ${e.message}`));
  await removeBenchRoot(root);
}
// The in-process daemon client (src/daemon/client.ts) listens for signals once per call in flight.
process.setMaxListeners(64);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));
main().then(cleanup, async (e: Error) => {
  console.error(e.stack);
  await cleanup();
  process.exitCode = 1;
});
