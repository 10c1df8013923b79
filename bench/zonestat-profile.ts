/**
 * Where one zonestat sample's time goes at density: each reader timed over N running
 * minimal zones (default 200), in-process. A companion of bench/zonestat.ts.
 *
 *   node dist/bench/zonestat-profile.js [zones]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { chooseRuntime } from "../src/platform/oci/runtime.js";
import { zonePaths } from "../src/document/store/paths.js";
import { Platform } from "../src/platform/platform.js";
import { Repository } from "../src/document/store/repository.js";
import { readRun } from "../src/document/store/runstate.js";
import { SlotRegistry } from "../src/platform/slots.js";
import { cgroupRoots, readCgroupUsage, readHostTasks, readHostUsage } from "../src/platform/usage.js";
import { benchRoot, installMinimalZones, runInRoot } from "./root.js";

const want = Math.min(1000, Number(process.argv[2] ?? 200));
const root = benchRoot("zstat-prof");
const paths = zonePaths(root.env);

function time(name: string, f: () => void, rounds = 5): void {
  f();
  const t: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    f();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  console.log(`${name.padEnd(40)} median ${t[Math.floor(t.length / 2)]!.toFixed(2)} ms`);
}

async function main(): Promise<void> {
  const repo = new Repository(paths);
  const platform = new Platform(paths, repo, chooseRuntime(paths.runDir, root.env), new SlotRegistry());
  const names = await installMinimalZones(paths, repo, platform, "p", want);
  for (const n of names) await platform.boot(n);
  const roots = cgroupRoots(fs.readFileSync("/proc/self/mountinfo", "utf8"));
  const rel = (n: string): string => `${paths.hostPrefix}/${n}`;
  console.log(`${want} zones running`);
  time("readRun, every zone", () => names.forEach((n) => readRun(paths, n)));
  time("cpu (cpuacct.usage)", () => names.forEach((n) => readCgroupUsage({ cpu: roots.cpu }, rel(n))));
  time("memory (usage, memsw)", () => names.forEach((n) => readCgroupUsage({ memory: roots.memory }, rel(n))));
  time("pids (pids.current, cgroup.procs, walk)", () => names.forEach((n) => readCgroupUsage({ pids: roots.pids }, rel(n))));
  time("cpuset", () => names.forEach((n) => readCgroupUsage({ cpuset: roots.cpuset }, rel(n))));
  time("host /proc/stat, meminfo", () => readHostUsage());
  time("host tasks", () => readHostTasks());
  for (const n of names) await platform.halt(n);
}

runInRoot(root, main);
