/**
 * Host memory per idle debian zone at N zones (bench/debian.ts --density N): N zones
 * installed from the cache and booted one after another, each to systemd's `running`
 * before the next starts (the stagger: two CPUs would otherwise thrash), left to
 * settle, then the host's MemAvailable drop and the sum of the zones' memory cgroups,
 * per zone. Then, the zones halted, the same for M systemd-nspawn containers of the
 * same tree (each its own overlay, uid slot and group below the bench's). nspawn makes
 * its user namespaces as host root, and the kernel charges a namespace's inotify
 * instances to its owner as well: at 7 a container (systemd 5, dbus, logind), root's
 * 128 stop the 19th container in "initializing". Zones' namespaces are made as their
 * slot uid (platform/idmap.ts), so their count is each zone's own.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { BenchRoot } from "./root.js";
import type { ZonePaths } from "../src/document/store/paths.js";
import { SLOT_SIZE } from "../src/platform/slots.js";
import { groupMemory, PeerGroup, type GroupMemory } from "./peers/groups.js";
import { PeerRoot } from "./peers/overlay.js";
import { NspawnBoot } from "./peers/systemd.js";

export interface Made {
  zones: string[];
  peers: PeerRoot[];
  nspawn: NspawnBoot[];
  /** Uids of the uid slots taken for peers, released at cleanup. */
  slots: string[];
}

export interface DensityOptions {
  root: BenchRoot;
  paths: ZonePaths;
  sh: (argv: string[]) => string;
  untilRunning: (zone: string) => string;
  bin: (cmd: string) => string;
  zp: (zone: string) => string;
  /** The image generation the peers boot (the zones' lower layer); "": the first density zone's. */
  tree: string;
  /**
   * A uid slot for peer container `j`, as each zone has its own: the kernel's per-user
   * limits (inotify instances: 128 a uid here) would stop the 20th systemd sharing one.
   */
  slotBase: (j: number) => number;
  log: number;
  zones: number;
  nspawn: number;
  /** The bench's top group name (peers/groups.ts). */
  group: string;
  /** True once the run was interrupted (SIGINT): stop starting containers. */
  stopping: () => boolean;
  /** Seconds to let everything settle before memory is read. */
  settle: number;
  made: Made;
}

const MiB = 1024 * 1024;

function memAvailable(): number {
  return Number(/^MemAvailable:\s+(\d+)/m.exec(fs.readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
}

/** MemAvailable as the median of three reads a second apart: other tenants' noise shows less. */
async function memAvailableSteady(): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1000));
    v.push(memAvailable());
  }
  return v.sort((a, b) => a - b)[1]!;
}

async function settle(secs: number): Promise<void> {
  spawnSync("sync");
  await new Promise((r) => setTimeout(r, secs * 1000));
}

function sum(ms: GroupMemory[]): GroupMemory {
  return ms.reduce((a, m) => ({ usage: a.usage + m.usage, rss: a.rss + m.rss, cache: a.cache + m.cache, shmem: a.shmem + m.shmem }), { usage: 0, rss: 0, cache: 0, shmem: 0 });
}

const mib = (b: number, n: number): string => (b / n / MiB).toFixed(1);

/**
 * The cgroups' sum is the figure to trust on a shared machine (v1's usage counts the
 * kernel memory charged to the group too); MemAvailable moves with every other tenant,
 * so it is read across two short windows, the boots and the halts, and both are shown.
 */
function report(label: string, n: number, bootDrop: number, haltRise: number, cg: GroupMemory, secs: number, extra: string): void {
  console.log(`${label}: ${n} running, booted in ${secs.toFixed(1)} s`);
  console.log(`  cgroup memory per one: ${mib(cg.usage, n)} MiB = anon ${mib(cg.rss, n)} + page cache ${mib(cg.cache, n)} (of it tmpfs ${mib(cg.shmem, n)}) + kernel ${mib(cg.usage - cg.rss - cg.cache, n)}`);
  if (extra) console.log(`  ${extra}`);
  console.log(`  host MemAvailable per one (noisy: other tenants): drop over the boots ${mib(bootDrop, n)} MiB, rise over the halts ${mib(haltRise, n)} MiB`);
}

/** Resident memory of a process, bytes (0 if gone). */
function rss(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function daemonPid(paths: ZonePaths): number {
  try {
    return Number(fs.readFileSync(path.join(paths.runDir, "zoneadmd.pid"), "utf8")) || 0;
  } catch {
    return 0;
  }
}

/** The memory cgroup of zone `z` (runc's cgroupfs path /<hostPrefix>/<zone>). */
function zoneMemoryDir(paths: ZonePaths, z: string): string {
  const v1 = "/sys/fs/cgroup/memory";
  return path.join(fs.existsSync(path.join(v1, "cgroup.procs")) ? v1 : "/sys/fs/cgroup", paths.hostPrefix, z);
}

export async function density(o: DensityOptions): Promise<{ zone: number; nspawn?: number }> {
  console.log(`\nDensity: ${o.zones} debian zones, then ${o.nspawn} systemd-nspawn containers of the same tree; ${o.settle} s to settle`);
  const names = Array.from({ length: o.zones }, (_, i) => `e${i}`);
  for (const n of names) {
    o.made.zones.push(n);
    o.sh([o.bin("zonecfg"), "-z", n, `create; set zonepath=${o.zp(n)}; set brand=debian`]);
    o.sh([o.bin("zoneadm"), "-z", n, "install"]);
  }
  // With no rounds before, the tree is the one the first zone was installed from.
  const tree = o.tree || (JSON.parse(fs.readFileSync(path.join(o.zp(names[0]!), "image.json"), "utf8")) as { tree: string }).tree;
  await settle(2);
  const before = await memAvailableSteady();
  const daemon = daemonPid(o.paths);
  const daemonBefore = rss(daemon);
  const t0 = Date.now();
  let running = 0;
  for (const n of names) {
    try {
      o.sh([o.bin("zoneadm"), "-z", n, "boot"]);
      o.untilRunning(n);
      running++;
    } catch (e) {
      console.log(`  stopped at ${running} zones: ${(e as Error).message.split("\n")[0]}`);
      break;
    }
  }
  const secs = (Date.now() - t0) / 1000;
  await settle(o.settle);
  const up = await memAvailableSteady();
  const cg = sum(names.slice(0, running).map((n) => groupMemory(zoneMemoryDir(o.paths, n))));
  const daemonGrowth = rss(daemon) - daemonBefore;
  for (const n of names.slice(0, running)) o.sh([o.bin("zoneadm"), "-z", n, "halt"]);
  await settle(2);
  const down = await memAvailableSteady();
  const n = Math.max(1, running);
  report("debian zones", running, before - up, down - up, cg, secs, `zoneadmd's resident memory: ${mib(daemonBefore, 1)} MiB before the boots, grew by ${mib(daemonGrowth, 1)} MiB (${mib(daemonGrowth, n)} per zone)`);
  const result: { zone: number; nspawn?: number } = { zone: (cg.usage + Math.max(0, daemonGrowth)) / n };
  if (o.nspawn <= 0) return result;

  await settle(2);
  const before2 = await memAvailableSteady();
  const t1 = Date.now();
  const groups: PeerGroup[] = [];
  const boots: NspawnBoot[] = [];
  for (let j = 0; j < o.nspawn; j++) {
    if (o.stopping()) throw new Error("interrupted");
    try {
      const base = o.slotBase(j);
      const peer = await PeerRoot.make(path.join(o.root.dir, `dn${j}`), tree, base, `dn${j}`);
      o.made.peers.push(peer);
      const g = new PeerGroup(`${o.group}/dn${j}`);
      groups.push(g);
      const nb = new NspawnBoot(peer, g, `zbd${process.pid}d${j}`, base, SLOT_SIZE, o.log);
      o.made.nspawn.push(nb);
      boots.push(nb);
      nb.start();
      nb.untilRunning();
    } catch (e) {
      console.log(`  nspawn: stopped at ${j}: ${(e as Error).message.split("\n")[0]}`);
      // The peers' output goes with the root: its last lines say why, before they go.
      const tail = fs.readFileSync(path.join(o.root.dir, "peers.log"), "utf8").split("\n").filter(Boolean).slice(-3);
      for (const l of tail) console.log(`    peers.log: ${JSON.stringify(l)}`);
      // Measured here: each container's systemd, dbus and logind hold 7 inotify instances,
      // and a user namespace charges them to its owner too: nspawn's are all host root's.
      console.log(`    (nspawn's user namespaces are host root's: their inotify instances count against root's fs.inotify.max_user_instances, ${fs.readFileSync("/proc/sys/fs/inotify/max_user_instances", "utf8").trim()} here; a zone's namespace is its slot uid's)`);
      break;
    }
  }
  const secs2 = (Date.now() - t1) / 1000;
  await settle(o.settle);
  const up2 = await memAvailableSteady();
  const cg2 = sum(groups.map((g) => g.memory()));
  for (const nb of boots) await nb.poweroff();
  await settle(2);
  const down2 = await memAvailableSteady();
  const n2 = Math.max(1, boots.length);
  report("systemd-nspawn containers", boots.length, before2 - up2, down2 - up2, cg2, secs2, "(each group holds its nspawn process too)");
  result.nspawn = cg2.usage / n2;
  console.log(`  zone (cgroup + zoneadmd's growth) / nspawn container (cgroup, nspawn in it): ${(result.zone / result.nspawn).toFixed(2)}x`);
  for (const nb of boots) nb.propagate();
  for (const g of groups) g.remove();
  for (const p of o.made.peers.splice(0)) p.remove();
  o.made.nspawn.splice(0);
  return result;
}
