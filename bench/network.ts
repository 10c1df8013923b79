/**
 * Zone networking: TCP throughput and round trip global -> zone and zone -> zone over
 * the zone bridge (veths, nft anti-spoofing filters) beside host loopback, in one run;
 * then per-zone network setup and teardown time at 1, 100 and 500 zones.
 *
 *   node dist/bench/network.js [maxZones=500]
 *
 * Traffic: two minimal shared-IP zones booted through Platform. The TCP end points are
 * node processes from the host placed in the zones' network namespaces (nsenter --net):
 * the zones have no node, and the path measured (namespace, veth, bridge, filters) is
 * the zone's own.
 * Setup/teardown: Network.setup/teardown on namespaces of `unshare --net sleep`
 * processes, so that only the network plumbing is timed, not the runtime. The peer,
 * in the same run: the same veth, bridge port, address and route made the usual way,
 * with iproute2 (`ip -batch` on the host, `nsenter --net ip -batch` in the namespace),
 * as hooks and CNI-style plugins do, without any filter.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { blankZone, type ZoneConfig } from "../src/document/model.js";
import { hostLinksOf } from "../src/platform/network/hostlinks.js";
import { Network } from "../src/platform/network/network.js";
import { chooseRuntime } from "../src/platform/oci/runtime.js";
import { zonePaths } from "../src/document/store/paths.js";
import { Platform } from "../src/platform/platform.js";
import { Repository } from "../src/document/store/repository.js";
import { readRun } from "../src/document/store/runstate.js";
import { SlotRegistry } from "../src/platform/slots.js";
import { percentile } from "./stats.js";
import { benchRoot, runInRoot } from "./root.js";

const maxZones = Number(process.argv[2] ?? 500);
const { dir, env } = benchRoot("net");
const paths = zonePaths(env);
const repo = new Repository(paths);
const slots = new SlotRegistry();
const platform = new Platform(paths, repo, chooseRuntime(paths.runDir, env), slots);
const NET = "10.213.250";

/** Sink on 5001 (answers the byte count at end), echo on 5002. */
const SERVER = `
const net = require("node:net");
net.createServer((s) => { let n = 0; s.on("data", (d) => (n += d.length)); s.on("end", () => s.end(String(n))); }).listen(5001, process.argv[1]);
net.createServer((s) => { s.setNoDelay(true); s.on("data", (d) => s.write(d)); }).listen(5002, process.argv[1], () => console.log("ready"));
`;

/** Throughput for 1 s (3 times) and 2000 one-byte round trips; prints JSON. */
const CLIENT = `
const net = require("node:net");
const host = process.argv[1];
function tput() {
  return new Promise((res) => {
    const s = net.connect(5001, host); const buf = Buffer.alloc(256 * 1024); let t0 = 0; let sent = 0; let done = false;
    const pump = () => { while (!done) { if (process.hrtime.bigint() - t0 > 1000000000n) { done = true; s.end(); return; } sent += buf.length; if (!s.write(buf)) return; } };
    s.on("connect", () => { t0 = process.hrtime.bigint(); pump(); }); s.on("drain", pump);
    let reply = ""; s.on("data", (d) => (reply += d)); s.on("end", () => res(Number(reply) * 8 / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9));
  });
}
function rtt() {
  return new Promise((res) => {
    const s = net.connect(5002, host); s.setNoDelay(true); const out = []; let t = 0n; let n = 0;
    s.on("connect", () => { t = process.hrtime.bigint(); s.write("x"); });
    s.on("data", () => { out.push(Number(process.hrtime.bigint() - t) / 1000); if (++n === 2000) { s.destroy(); res(out); } else { t = process.hrtime.bigint(); s.write("x"); } });
  });
}
(async () => { const g = []; for (let i = 0; i < 3; i++) g.push(await tput()); console.log(JSON.stringify({ gbps: g.sort((a, b) => a - b)[1], rtt: await rtt() })); })();
`;

const nodeEnv = { ...env };
const inNs = (pid: number | undefined, argv: string[]): string[] => (pid ? ["nsenter", `--net=/proc/${pid}/ns/net`, ...argv] : argv);

async function startServer(pid: number | undefined, host: string): Promise<ChildProcess> {
  const [cmd, ...args] = inNs(pid, [process.execPath, "-e", SERVER, host]);
  const p = spawn(cmd!, args, { env: nodeEnv, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((r) => p.stdout!.once("data", () => r()));
  return p;
}

function client(pid: number | undefined, host: string): { gbps: number; rtt: number[] } {
  const [cmd, ...args] = inNs(pid, [process.execPath, "-e", CLIENT, host]);
  const r = spawnSync(cmd!, args, { env: nodeEnv, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`client failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { gbps: number; rtt: number[] };
}

function zoneConfig(name: string, address: string, defrouter: string): ZoneConfig {
  const z = blankZone(name);
  z.brand = "minimal";
  z.zonepath = path.join(paths.zonesDir, name);
  z.net = [{ physical: "zbr0", address, allowedAddress: "", defrouter }];
  return z;
}

async function traffic(): Promise<void> {
  for (const [n, a] of [["p", `${NET}.2/24`], ["q", `${NET}.3/24`]] as const) {
    repo.commit(zoneConfig(n, a, `${NET}.1`), null);
    await platform.install(n);
    await platform.boot(n);
  }
  const pidP = readRun(paths, "p")!.pid;
  const pidQ = readRun(paths, "q")!.pid;
  const lo = await startServer(undefined, "127.0.0.1");
  const zs = await startServer(pidP, "0.0.0.0");
  const rows: Array<[string, { gbps: number; rtt: number[] }]> = [];
  try {
    rows.push(["host loopback (peer)", client(undefined, "127.0.0.1")]);
    rows.push(["global -> zone", client(undefined, `${NET}.2`)]);
    rows.push(["zone -> zone", client(pidQ, `${NET}.2`)]);
  } finally {
    lo.kill();
    zs.kill();
  }
  const base = rows[0]![1];
  const baseP50 = percentile([...base.rtt].sort((a, b) => a - b), 50);
  console.log("TCP, one stream, 256 KiB writes for 1 s (median of 3); 2000 one-byte round trips");
  console.log(`${"path".padEnd(22)} ${"Gbit/s".padStart(8)} ${"x lo".padStart(6)} ${"rtt p50 us".padStart(11)} ${"rtt p99 us".padStart(11)} ${"x lo".padStart(6)}`);
  for (const [name, r] of rows) {
    const s = [...r.rtt].sort((a, b) => a - b);
    const p50 = percentile(s, 50);
    console.log(
      `${name.padEnd(22)} ${r.gbps.toFixed(2).padStart(8)} ${(r.gbps / base.gbps).toFixed(2).padStart(6)} ${p50.toFixed(1).padStart(11)} ${percentile(s, 99).toFixed(1).padStart(11)} ${(p50 / baseP50).toFixed(2).padStart(6)}`,
    );
  }
  await platform.halt("p");
  await platform.halt("q");
}

function netns(): ChildProcess {
  return spawn("unshare", ["--net", "sleep", "infinity"], { stdio: "ignore" });
}

async function plumbing(n: number): Promise<number> {
  // A separate Network per count, so each run starts with no bridge and no table.
  const network = new Network(paths);
  const zones = Array.from({ length: n }, (_, i) => zoneConfig(`s${i}`, `10.213.${200 + Math.floor(i / 250)}.${(i % 250) + 2}/22`, ""));
  const procs = zones.map(() => netns());
  await new Promise((r) => setTimeout(r, 100 + n * 2));
  const setup: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await network.setup(zones[i]!, procs[i]!.pid!);
    setup.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const setupTotal = Number(process.hrtime.bigint() - t0) / 1e6;
  const k0 = process.hrtime.bigint();
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(0) : p.once("exit", r)))));
  const teardown: number[] = [];
  for (const z of zones) {
    const t = process.hrtime.bigint();
    await network.teardown(z.zonename);
    teardown.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const teardownTotal = Number(process.hrtime.bigint() - k0) / 1e6;
  while (hostLinksOf(paths.hostPrefix).length > 0) await new Promise((r) => setTimeout(r, 5));
  const released = Number(process.hrtime.bigint() - k0) / 1e6;
  const s = [...setup].sort((a, b) => a - b);
  const d = [...teardown].sort((a, b) => a - b);
  console.log(
    `${String(n).padStart(5)} ${percentile(s, 50).toFixed(2).padStart(9)} ${percentile(s, 99).toFixed(2).padStart(9)} ${(setupTotal / 1000).toFixed(2).padStart(9)} ` +
      `${percentile(d, 50).toFixed(2).padStart(9)} ${percentile(d, 99).toFixed(2).padStart(9)} ${(teardownTotal / 1000).toFixed(2).padStart(9)} ${(released / 1000).toFixed(2).padStart(9)}   ours`,
  );
  network.close();
  return percentile(s, 50);
}

/** The peer: what `ip` costs for the same objects (a veth on a bridge, address, route), unfiltered. */
async function iproute2(n: number): Promise<number> {
  const tag = paths.hostPrefix.slice(-6);
  const br = `zp${tag}`;
  const alias = `${paths.hostPrefix}:peer`;
  const procs = Array.from({ length: n }, () => netns());
  await new Promise((r) => setTimeout(r, 100 + n * 2));
  const setup: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const host: string[] = [];
    if (i === 0) host.push(`link add name ${br} type bridge`, `link set dev ${br} alias ${alias}`, `link set dev ${br} up`, `addr add 10.213.240.1/22 dev ${br}`);
    const v = `zp${tag}${i}`;
    host.push(`link add name ${v} type veth peer name net0 netns ${procs[i]!.pid}`, `link set dev ${v} alias ${alias}`, `link set dev ${v} addrgenmode none`, `link set dev ${v} master ${br} up`);
    spawnSync("ip", ["-batch", "-"], { input: host.join("\n") + "\n", stdio: ["pipe", "ignore", "inherit"] });
    const inside = [`addr add 10.213.${240 + Math.floor(i / 250)}.${(i % 250) + 2}/22 dev net0`, "link set dev net0 up", "route add default via 10.213.240.1 dev net0"];
    spawnSync("nsenter", [`--net=/proc/${procs[i]!.pid}/ns/net`, "ip", "-batch", "-"], { input: inside.join("\n") + "\n", stdio: ["pipe", "ignore", "inherit"] });
    setup.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const setupTotal = Number(process.hrtime.bigint() - t0) / 1e6;
  const k0 = process.hrtime.bigint();
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(0) : p.once("exit", r)))));
  spawnSync("ip", ["link", "del", br], { stdio: "ignore" });
  const teardownTotal = Number(process.hrtime.bigint() - k0) / 1e6;
  while (hostLinksOf(paths.hostPrefix).length > 0) await new Promise((r) => setTimeout(r, 5));
  const released = Number(process.hrtime.bigint() - k0) / 1e6;
  const s = [...setup].sort((a, b) => a - b);
  console.log(
    `${String(n).padStart(5)} ${percentile(s, 50).toFixed(2).padStart(9)} ${percentile(s, 99).toFixed(2).padStart(9)} ${(setupTotal / 1000).toFixed(2).padStart(9)} ` +
      `${"-".padStart(9)} ${"-".padStart(9)} ${(teardownTotal / 1000).toFixed(2).padStart(9)} ${(released / 1000).toFixed(2).padStart(9)}   iproute2 (peer)`,
  );
  return percentile(s, 50);
}

async function main(): Promise<void> {
  await traffic();
  console.log("\nper-zone network setup and teardown: ours (netlink: set elements, veth, addresses, route) beside iproute2 (peer, no filters)");
  console.log("(teardown: processes killed, then set elements and, with the last zone, bridge and table; released: every veth gone)");
  console.log(`${"zones".padStart(5)} ${"setup p50".padStart(9)} ${"p99 ms".padStart(9)} ${"total s".padStart(9)} ${"tear p50".padStart(9)} ${"p99 ms".padStart(9)} ${"total s".padStart(9)} ${"released".padStart(9)}`);
  for (let i = 0; i < 5; i++) {
    await plumbing(1);
    await iproute2(1);
  }
  for (const n of [100, 500]) {
    if (n > maxZones) continue;
    // The kernel frees the namespaces of the last run in the background: let it finish first.
    await new Promise((r) => setTimeout(r, 2000));
    const ours = await plumbing(n);
    await new Promise((r) => setTimeout(r, 2000));
    const peer = await iproute2(n);
    console.log(`${String(n).padStart(5)} zones: setup p50 ours / iproute2 = ${(ours / peer).toFixed(2)}`);
  }
}

runInRoot({ dir, env }, main);
