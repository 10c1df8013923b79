/**
 * Inter-zone channels beside a same-zone UNIX socket, in one run (p50/p99):
 *   - connect: `call(db, echo)` from zone web through the broker, plus a one-byte round
 *     trip, beside connect() + the same round trip on a UNIX socket inside web
 *   - throughput: 64 MiB through the channel beside 64 MiB through the same-zone socket
 *
 *   node dist/bench/channel.js [rounds]
 *
 * Two sparse zones in a private ZONES_ROOT; the client library is bundled from
 * src/daemon/channel.ts into each zone's /opt/zchan with koffi. Everything is removed at
 * the end, also on failure.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { mountsBelow, unmount } from "../src/platform/idmap.js";
import { zonePaths } from "../src/document/store/paths.js";
import { removeCgroups } from "../src/platform/teardown.js";
import { Repository } from "../src/document/store/repository.js";
import { SlotRegistry } from "../src/platform/slots.js";
import { percentile } from "./stats.js";
import { benchRoot } from "./root.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const rounds = Number(process.argv[2] ?? 500);
const { dir, env } = benchRoot("chan");
const paths = zonePaths(env);
const bin = (c: string): string => path.join(TOP, "bin", c);
const children: ChildProcess[] = [];

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(bin(cmd), args, { env, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

const SERVER = `
const { offer, socketOf } = require("/opt/zchan/channel.cjs");
const net = require("node:net");
// Echo the first byte (the round trip), then count the rest and answer with the count.
function serve(s) {
  let first = true, n = 0;
  s.on("data", (d) => { if (first) { first = false; s.write(d.subarray(0, 1)); d = d.subarray(1); } n += d.length; });
  s.on("end", () => s.end(String(n)));
  s.on("error", () => {});
}
try { require("node:fs").rmSync("/tmp/bench.sock"); } catch {}
net.createServer(serve).listen("/tmp/bench.sock", () =>
  offer("echo", (fd) => serve(socketOf(fd)), { onRegistered: () => console.log("ready") }));
`;

const CLIENT = `
const { call, socketOf } = require("/opt/zchan/channel.cjs");
const net = require("node:net");
const [rounds, mib] = process.argv.slice(2).map(Number);
const now = () => Number(process.hrtime.bigint()) / 1e6;
function roundTrip(s) {
  return new Promise((res) => { s.once("data", () => res()); s.write("x"); });
}
async function viaBroker() { const t = now(); const r = await call("db", "echo"); const s = socketOf(r.fd); await roundTrip(s); const dt = now() - t; return { s, dt }; }
function viaUnix() { return new Promise((res) => { const t = now(); const s = net.createConnection("/tmp/bench.sock", async () => { await roundTrip(s); res({ s, dt: now() - t }); }); }); }
async function pump(s) {
  const chunk = Buffer.alloc(65536, 1), total = mib * 1048576;
  const t = now();
  let sent = 0;
  await new Promise((res) => {
    let answer = "";
    s.setEncoding("utf8");
    s.on("data", (d) => (answer += d));
    s.on("end", res);
    const more = () => { while (sent < total) { sent += chunk.length; if (!s.write(chunk)) return s.once("drain", more); } s.end(); };
    more();
  });
  return (total / 1048576) / ((now() - t) / 1000);
}
(async () => {
  const out = { broker: [], unix: [], brokerMBs: 0, unixMBs: 0 };
  for (let i = 0; i < rounds; i++) {
    const a = await viaBroker(); out.broker.push(a.dt); a.s.destroy();
    const b = await viaUnix(); out.unix.push(b.dt); b.s.destroy();
  }
  out.brokerMBs = await pump((await viaBroker()).s);
  out.unixMBs = await pump((await viaUnix()).s);
  console.log(JSON.stringify(out));
  process.exit(0);
})();
`;

async function kit(zoneRoot: string): Promise<void> {
  const k = path.join(zoneRoot, "opt/zchan");
  fs.mkdirSync(path.join(k, "node_modules"), { recursive: true });
  await build({ entryPoints: [path.join(TOP, "src/daemon/channel.ts")], outfile: path.join(k, "channel.cjs"), bundle: true, platform: "node", target: "node20", format: "cjs", external: ["koffi"], banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" }, define: { "import.meta.url": "__importMetaUrl" }, logLevel: "warning" });
  for (const m of ["koffi", "@koromix"]) fs.cpSync(path.join(TOP, "node_modules", m), path.join(k, "node_modules", m), { recursive: true });
  fs.writeFileSync(path.join(k, "server.cjs"), SERVER);
  fs.writeFileSync(path.join(k, "client.cjs"), CLIENT);
}

function cleanup(): void {
  for (const c of children) c.kill("SIGKILL");
  for (const z of ["db", "web"]) spawnSync(bin("zoneadm"), ["-z", z, "halt"], { env });
  try {
    process.kill(Number(fs.readFileSync(path.join(paths.runDir, "zoneadmd.pid"), "utf8")), "SIGKILL");
  } catch {
    // no daemon
  }
  for (const m of mountsBelow(dir)) unmount(m);
  const slots = new SlotRegistry();
  try {
    for (const e of new Repository(paths).list()) {
      removeCgroups(paths.hostPrefix, e.name);
      slots.release(e.uuid);
    }
  } catch {
    // nothing configured
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

function row(name: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${name.padEnd(44)} p50 ${percentile(s, 50).toFixed(3).padStart(8)} ms   p99 ${percentile(s, 99).toFixed(3).padStart(8)} ms`;
}

try {
  sh("zonecfg", ["-z", "db", `create; set zonepath=${dir}/zones/db; add service; set name=echo; set caller=web; end`]);
  sh("zonecfg", ["-z", "web", `create; set zonepath=${dir}/zones/web`]);
  for (const z of ["db", "web"]) {
    sh("zoneadm", ["-z", z, "install"]);
    await kit(path.join(dir, "zones", z, "root"));
    sh("zoneadm", ["-z", z, "boot"]);
  }
  const server = spawn(bin("zlogin"), ["db", "node /opt/zchan/server.cjs"], { env, stdio: ["ignore", "pipe", "inherit"] });
  children.push(server);
  const web = spawn(bin("zlogin"), ["web", "node /opt/zchan/server.cjs"], { env, stdio: ["ignore", "pipe", "inherit"] });
  children.push(web);
  for (const c of [server, web]) await new Promise<void>((r) => c.stdout!.once("data", () => r()));
  const r = spawnSync(bin("zlogin"), ["web", `node /opt/zchan/client.cjs ${rounds} 64`], { env, encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`client: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { broker: number[]; unix: number[]; brokerMBs: number; unixMBs: number };
  const p50 = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);
  console.log(`inter-zone channels, ${rounds} rounds (${os.cpus().length} CPUs, ${os.release()})`);
  console.log(row("connect + 1-byte round trip, web -> db broker", out.broker));
  console.log(row("connect + 1-byte round trip, same-zone UNIX", out.unix));
  console.log(`connect ratio (p50): ${(p50(out.broker) / p50(out.unix)).toFixed(1)}x`);
  console.log(`throughput 64 MiB: channel ${out.brokerMBs.toFixed(0)} MiB/s, same-zone UNIX ${out.unixMBs.toFixed(0)} MiB/s (${((100 * out.brokerMBs) / out.unixMBs).toFixed(0)} %)`);
} finally {
  cleanup();
}
