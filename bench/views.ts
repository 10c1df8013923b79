/**
 * The in-zone view service at scale: N minimal zones (default 200), each with a 256 MiB
 * memory cap and an init that reads its /proc/meminfo and /proc/cpuinfo once a second,
 * served by one lxcfs (src/daemon/lxcfs.ts), booted through the same Platform code the
 * daemon runs. Reports lxcfs's CPU (its utime+stime over the window, as a share of one
 * CPU) and its RSS before the zones, once they all run, and at the end; and the
 * cost of one zone's `cat /proc/meminfo` through lxcfs beside its `cat /proc/version`
 * (plain procfs), measured from inside the zone while the others read.
 *
 *   node dist/bench/views.js [zones] [seconds]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { chooseRuntime } from "../src/platform/oci/runtime.js";
import { zonePaths } from "../src/document/store/paths.js";
import { Platform } from "../src/platform/platform.js";
import { Repository } from "../src/document/store/repository.js";
import { SlotRegistry } from "../src/platform/slots.js";
import { LxcfsService } from "../src/daemon/lxcfs.js";
import { ZoneRoot } from "../src/platform/zonefs.js";
import { benchRoot, installMinimalZones, runInRoot } from "./root.js";

const want = Math.min(1000, Number(process.argv[2] ?? 200));
const seconds = Number(process.argv[3] ?? 60);
const { dir, env } = benchRoot("views");
const paths = zonePaths(env);
const repo = new Repository(paths);
const platform = new Platform(paths, repo, chooseRuntime(paths.runDir, env), new SlotRegistry());
const lxcfs = new LxcfsService(paths, (l) => console.log(`  [zoneadmd] ${l}`));
platform.views = (name) => lxcfs.ensure(name);
const TICKS = 100; // USER_HZ

/** utime+stime in ticks and RSS in KiB of `pid`. */
function usage(pid: number): { ticks: number; rssKiB: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const rss = Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return { ticks: Number(f[11]) + Number(f[12]), rssKiB: rss };
}

/**
 * Mean µs per read of `file` inside the zone: busybox has no sub-second clock, so one
 * exec reading it `rounds` times is timed from the host beside one reading it zero
 * times (the exec's own cost), best of three each, interleaved.
 */
function inZoneLatency(zone: string, file: string, rounds: number): number {
  const rt = chooseRuntime(paths.runDir, env);
  const once = (n: number): number => {
    const script = `i=0; while [ $i -lt ${n} ]; do cat ${file} >/dev/null; i=$((i+1)); done`;
    const t = process.hrtime.bigint();
    const r = spawnSync(rt.name, ["--root", path.join(paths.runDir, rt.name), "exec", zone, "/bin/sh", "-c", script], { encoding: "utf8", env });
    if (r.status !== 0) throw new Error(`${rt.name} exec in ${zone} failed: ${r.stderr.trim()}`);
    return Number(process.hrtime.bigint() - t) / 1000;
  };
  let empty = Infinity;
  let full = Infinity;
  for (let i = 0; i < 3; i++) {
    empty = Math.min(empty, once(0));
    full = Math.min(full, once(rounds));
  }
  return (full - empty) / rounds;
}

async function main(): Promise<void> {
  const names = await installMinimalZones(paths, repo, platform, "v", want, (z) => {
    z.cappedMemory = { physical: 256 * 1024 * 1024 };
  });
  // Each round is counted in /reads, so the reads really done are known, not just asked.
  const reader = ["/bin/sh", "-c", "n=0; while :; do cat /proc/meminfo /proc/cpuinfo >/dev/null && n=$((n+1)); echo $n >/reads; sleep 1; done"];
  let running = 0;
  let pid = 0;
  let first = { ticks: 0, rssKiB: 0 };
  const t0 = Date.now();
  for (const n of names) {
    try {
      await platform.boot(n, reader);
      running++;
    } catch (e) {
      console.log(`stopped at ${running} zones: ${(e as Error).message}`);
      break;
    }
    if (running === 1) {
      pid = lxcfs.running();
      first = usage(pid);
    }
  }
  if (pid === 0) throw new Error("lxcfs did not start");
  console.log(`${running} minimal zones reading /proc/meminfo and /proc/cpuinfo once a second; booted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`lxcfs ${pid} after the first zone: RSS ${(first.rssKiB / 1024).toFixed(1)} MiB`);
  await new Promise((r) => setTimeout(r, 3000));
  const booted = names.slice(0, running);
  const rounds0 = rounds(booted);
  const start = usage(pid);
  const w0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const end = usage(pid);
  const wall = (Date.now() - w0) / 1000;
  const done = (rounds(booted) - rounds0) * 2;
  const cpu = (end.ticks - start.ticks) / TICKS / wall;
  console.log(`over ${wall.toFixed(1)} s with ${running} zones: ${(done / wall).toFixed(0)} reads/s done (${running * 2} asked); lxcfs CPU ${(cpu * 100).toFixed(1)}% of one CPU; RSS ${(start.rssKiB / 1024).toFixed(1)} MiB at start, ${(end.rssKiB / 1024).toFixed(1)} MiB at end`);
  const viaLxcfs = inZoneLatency(names[0]!, "/proc/meminfo", 500);
  const procfs = inZoneLatency(names[0]!, "/proc/version", 500);
  console.log(`one zone's cat meanwhile: /proc/meminfo (lxcfs) ${viaLxcfs.toFixed(0)} µs, /proc/version (procfs) ${procfs.toFixed(0)} µs: lxcfs adds ${(viaLxcfs - procfs).toFixed(0)} µs a read`);
  // kill -9 of lxcfs with every zone running: how long until a zone reads its cap again.
  process.kill(pid, "SIGKILL");
  const k0 = Date.now();
  const rt = chooseRuntime(paths.runDir, env);
  for (;;) {
    lxcfs.check();
    const r = spawnSync(rt.name, ["--root", path.join(paths.runDir, rt.name), "exec", names[0]!, "/bin/cat", "/proc/meminfo"], { encoding: "utf8", env });
    if (r.status === 0 && /^MemTotal:\s+262144 kB$/m.test(r.stdout)) break;
    if (Date.now() - k0 > 30_000) throw new Error("no zone view 30 s after kill -9 of lxcfs");
    await new Promise((res) => setTimeout(res, 50));
  }
  console.log(`kill -9 of lxcfs ${pid} with ${running} zones running: ${names[0]} reads its cap again after ${Date.now() - k0} ms (new lxcfs ${lxcfs.running()}; the service checks every second)`);
  for (const n of booted) await platform.halt(n);
}

/** Rounds of reads the zones have done so far, from each zone's /reads. */
function rounds(zones: string[]): number {
  let sum = 0;
  for (const n of zones) {
    const zr = ZoneRoot.open(path.join(paths.zonesDir, n, "root"));
    try {
      sum += Number(zr.readFile("reads", 32).toString().trim()) || 0;
    } catch {
      // not written yet
    } finally {
      zr.close();
    }
  }
  return sum;
}

runInRoot({ dir, env }, main);
