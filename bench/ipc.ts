/**
 * IPC inside a zone beside the same in the global zone, in one run: pipe, UNIX socket,
 * SysV message and SysV shared-memory throughput, and single round trips (pipe, UNIX
 * socket, SysV message, SysV semaphore). The measuring program (ipc-bench.c, compiled
 * here with cc, static) times itself, so starting it (zlogin) is not counted. Rounds
 * alternate global zone and zone; throughput is the median over rounds, round trips
 * pool every round's p50/p99.
 *
 *   node dist/bench/ipc.js [rounds]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { benchRoot } from "./root.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const rounds = Number(process.argv[2] ?? 5);
const { dir, env } = benchRoot("ipc");
const bin = (c: string): string => path.join(TOP, "bin", c);

function sh(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** name -> values, one a round. */
type Results = Map<string, number[]>;

function collect(into: Results, out: string): void {
  for (const line of out.trim().split("\n")) {
    const [name, value] = line.split(" ");
    if (!name || value === undefined) continue;
    (into.get(name) ?? into.set(name, []).get(name)!).push(Number(value));
  }
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

function main(): void {
  const exe = path.join(dir, "ipcbench");
  const cc = spawnSync("cc", ["-O2", "-static", "-o", exe, path.join(TOP, "bench/ipc-bench.c")], { encoding: "utf8" });
  if (cc.status !== 0) throw new Error(`cc failed (the IPC benchmark needs gcc and libc6-dev): ${cc.stderr || cc.error?.message}`);
  sh([bin("zonecfg"), "-z", "ipcb", `create; set zonepath=${dir}/zones/ipcb`]);
  sh([bin("zoneadm"), "-z", "ipcb", "install"]);
  sh([bin("zoneadm"), "-z", "ipcb", "boot"]);
  fs.copyFileSync(exe, path.join(dir, "zones/ipcb/root/tmp/ipcbench"));
  fs.chmodSync(path.join(dir, "zones/ipcb/root/tmp/ipcbench"), 0o755);

  const global: Results = new Map();
  const zone: Results = new Map();
  console.log(`IPC benchmark: ${rounds} rounds, ${os.cpus().length} CPUs; each round runs the global zone, then the zone`);
  for (let r = 0; r < rounds; r++) {
    collect(global, sh([exe]));
    collect(zone, sh([bin("zlogin"), "ipcb", "/tmp/ipcbench"]));
  }
  console.log(`\n${"measure".padEnd(24)} ${"global zone".padStart(14)} ${"zone".padStart(14)}  zone / global`);
  for (const [name, g] of global) {
    const z = zone.get(name) ?? [];
    const unit = name.includes("rtt") ? "us" : "MiB/s";
    const gm = median(g);
    const zm = median(z);
    // For round trips lower is better: show how much of the global zone's speed the zone keeps.
    const kept = unit === "us" ? gm / zm : zm / gm;
    console.log(`${name.padEnd(24)} ${`${gm.toFixed(1)} ${unit}`.padStart(14)} ${`${zm.toFixed(1)} ${unit}`.padStart(14)}  ${(kept * 100).toFixed(1)} %`);
  }
}

function cleanup(): void {
  spawnSync(bin("zoneadm"), ["-z", "ipcb", "halt"], { env });
  spawnSync(bin("zoneadm"), ["-z", "ipcb", "uninstall", "-F"], { env });
  spawnSync(bin("zonecfg"), ["-z", "ipcb", "delete", "-F"], { env });
  try {
    process.kill(Number(fs.readFileSync(path.join(dir, "run/zones/zoneadmd.pid"), "utf8")), "SIGTERM");
  } catch {
    // the daemon is gone already
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

try {
  main();
} catch (e) {
  console.error((e as Error).message);
  process.exitCode = 1;
} finally {
  cleanup();
}
