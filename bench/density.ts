/**
 * Density: as many minimal zones running at once as asked (default 200, up to 1000),
 * booted through the same Platform code the daemon runs. Reports host memory per idle
 * zone (kernel and init together, from MemAvailable) beside the zones' own init RSS,
 * and `zoneadm list -v` latency at that count.
 *
 *   node dist/bench/density.js [zones]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { chooseRuntime } from "../src/platform/oci/runtime.js";
import { zonePaths } from "../src/document/store/paths.js";
import { Platform } from "../src/platform/platform.js";
import { Repository } from "../src/document/store/repository.js";
import { readRun } from "../src/document/store/runstate.js";
import { SlotRegistry } from "../src/platform/slots.js";
import { measure, report } from "./stats.js";
import { benchRoot, installMinimalZones, runInRoot } from "./root.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const want = Math.min(1000, Number(process.argv[2] ?? 200));
const { dir, env } = benchRoot("dense");
const paths = zonePaths(env);
const repo = new Repository(paths);
const slots = new SlotRegistry();
const platform = new Platform(paths, repo, chooseRuntime(paths.runDir, env), slots);

function memAvailableKiB(): number {
  return Number(/^MemAvailable:\s+(\d+)/m.exec(fs.readFileSync("/proc/meminfo", "utf8"))![1]);
}

/** Proportional set size: shared pages (the one busybox image) divided among their users. */
function pssKiB(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const names = await installMinimalZones(paths, repo, platform, "d", want);
  spawnSync("sync");
  await new Promise((r) => setTimeout(r, 1000));
  const before = memAvailableKiB();
  const t0 = Date.now();
  let running = 0;
  for (const n of names) {
    try {
      await platform.boot(n);
      running++;
    } catch (e) {
      console.log(`stopped at ${running} zones: ${(e as Error).message}`);
      break;
    }
  }
  const bootSecs = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const after = memAvailableKiB();
  const inits = names.slice(0, running).map((n) => pssKiB(readRun(paths, n)?.pid ?? 0));
  const initAvg = inits.reduce((a, b) => a + b, 0) / Math.max(1, inits.length);
  const perZone = (before - after) / Math.max(1, running);
  console.log(`${running} minimal zones running (asked for ${want}); booted in ${bootSecs.toFixed(1)} s (${(running / bootSecs).toFixed(1)} boots/s, in-process)`);
  console.log(`host memory per idle zone (MemAvailable drop / zones): ${(perZone / 1024).toFixed(2)} MiB`);
  console.log(`  of which the zone's own init (PSS): ${(initAvg / 1024).toFixed(2)} MiB`);
  console.log(`  beyond its own processes: ${((perZone - initAvg) / 1024).toFixed(2)} MiB`);
  const bin = (c: string): string => path.join(TOP, "bin", c);
  const times = measure(
    [
      { name: "ls -l run directory (peer)", argv: ["ls", "-l", path.join(paths.runDir, "zone")], env },
      { name: `zoneadm list -v (${running} running)`, argv: [bin("zoneadm"), "list", "-v"], env },
      { name: "zoneadm list -cp", argv: [bin("zoneadm"), "list", "-cp"], env },
    ],
    30,
  );
  console.log(report(`\nlisting at ${running} running zones`, times, "ls -l run directory (peer)"));
  for (const n of names.slice(0, running)) await platform.halt(n);
}

runInRoot({ dir, env }, main);
