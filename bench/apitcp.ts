/**
 * The API over TCP with TLS beside the UNIX socket, in one run against one zoneadmd:
 * GET /1.0/zones on a keep-alive connection (a bearer token checked at every request),
 * a new TLS connection per request (handshake included), and failed authentications
 * (each delayed 250 ms, so only their count per second matters). Rounds interleave the
 * transports, so a busy machine slows all alike.
 *
 *   node dist/bench/apitcp.js [requests-per-round] [rounds]
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { zonePaths } from "../src/document/store/paths.js";
import { apiSocketPath } from "../src/daemon/api/api.js";
import { tcpAddressFile } from "../src/daemon/api/tcp.js";
import { percentile } from "./stats.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const perRound = Number(process.argv[2] ?? 500);
const rounds = Number(process.argv[3] ?? 3);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-bench-apitcp-"));
fs.chmodSync(dir, 0o755);
const env: NodeJS.ProcessEnv = { ...process.env, ZONES_ROOT: dir };
const paths = zonePaths(env);

function run(cmd: string, args: string[]): string {
  const r = spawnSync(path.join(TOP, "bin", cmd), args, { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function once(opts: http.RequestOptions, secure: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const req = (secure ? https : http).request(opts, (res) => {
      res.resume();
      res.on("end", () => resolve(Number(process.hrtime.bigint() - t) / 1e6));
    });
    req.on("error", reject);
    req.end();
  });
}

async function series(name: string, opts: () => http.RequestOptions, secure: boolean, out: Map<string, number[]>): Promise<void> {
  const times = out.get(name) ?? [];
  for (let i = 0; i < perRound; i++) times.push(await once(opts(), secure));
  out.set(name, times);
}

async function main(): Promise<void> {
  fs.mkdirSync(paths.configDir, { recursive: true });
  fs.writeFileSync(path.join(paths.configDir, "zoneadmd.conf"), "api-listen=127.0.0.1:0\n", { mode: 0o644 });
  for (let i = 0; i < 20; i++) run("zonecfg", ["-z", `z${i}`, `create; set zonepath=${path.join(dir, "zones", `z${i}`)}; set brand=minimal`]);
  run("zoneadm", ["runtime"]);
  const token = run("zoneadm", ["token", "create", "bench"]).trim();
  const url = new URL(fs.readFileSync(tcpAddressFile(paths), "utf8").trim());
  const ca = fs.readFileSync(path.join(paths.configDir, "api/cert.pem"));
  const unixAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const tlsAgent = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
  const tcp = { host: url.hostname, port: Number(url.port), path: "/1.0/zones" };
  const out = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    await series("unix socket, keep-alive", () => ({ socketPath: apiSocketPath(paths.runDir), path: "/1.0/zones", agent: unixAgent }), false, out);
    await series("TLS + token, keep-alive", () => ({ ...tcp, agent: tlsAgent, headers: { authorization: `Bearer ${token}` } }), true, out);
    await series("TLS + token, new connection", () => ({ ...tcp, ca, agent: false, headers: { authorization: `Bearer ${token}` } }), true, out);
  }
  unixAgent.destroy();
  tlsAgent.destroy();
  console.log(`GET /1.0/zones (20 zones), ${rounds} interleaved rounds of ${perRound}:`);
  for (const [name, t] of out) {
    const s = [...t].sort((a, b) => a - b);
    const mean = t.reduce((a, b) => a + b, 0) / t.length;
    console.log(`  ${name.padEnd(30)} p50 ${percentile(s, 50).toFixed(2)} ms  p99 ${percentile(s, 99).toFixed(2)} ms  ${(1000 / mean).toFixed(0)} req/s`);
  }
}

main()
  .catch((e: Error) => {
    console.error(e.message);
    process.exitCode = 1;
  })
  .finally(() => {
    try {
      process.kill(Number(fs.readFileSync(path.join(paths.runDir, "zoneadmd.pid"), "utf8")), "SIGTERM");
    } catch {
      // no daemon
    }
    // The daemon removes its files as it stops; give it a moment before the directory goes.
    setTimeout(() => fs.rmSync(dir, { recursive: true, force: true }), 500);
  });
