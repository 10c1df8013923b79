/**
 * Brand debian beside its peers, one run, interleaved round by round (ours, nspawn,
 * LXC): install from the cached image (peers: an overlay of the same tree mounted),
 * boot to systemd's `running`, a command inside, power-off by systemd; then clone and
 * the disk a fresh zone takes. Peers boot the same image generation the zones use,
 * through a throwaway overlay each (peers/overlay.ts), in a user namespace mapping a
 * uid slot of the bench's own; a peer that is not installed is skipped with a line.
 * Both peers are unprivileged in that sense (nspawn --private-users, LXC lxc.idmap with
 * Debian's debian.userns.conf): the container's root is not host root, as a zone's is
 * not, so like is compared with like; LXC then comes up `degraded`, its
 * sys-kernel-debug.mount failing (debugfs cannot be mounted from a user namespace).
 * Our boot is polled with nsenter into the zone's init, the probe the nspawn peer
 * gets; the clone's boot is polled with zlogin, the administrator's way.
 * With --density N: host memory per idle debian zone at N zones, beside M nspawn
 * containers of the same tree (--nspawn-density M, default min(N, 10); 0: none),
 * read after --settle S seconds (default 20).
 *
 *   node dist/bench/debian.js [rounds] [--density N] [--nspawn-density M] [--settle S] [--no-peers]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Samples } from "./peers/table.js";
import { benchRoot, removeBenchRoot } from "./root.js";
import { releaseTree } from "../src/platform/images.js";
import { readRun } from "../src/document/store/runstate.js";
import { q } from "../src/native/errors.js";
import { zonePaths } from "../src/document/store/paths.js";
import { SLOT_SIZE, SlotRegistry } from "../src/platform/slots.js";
import { PeerRoot } from "./peers/overlay.js";
import { PeerGroup } from "./peers/groups.js";
import { LxcBoot, NspawnBoot, userspaceMs } from "./peers/systemd.js";
import { cgroupsLeft, removeCgroupTree, SubIds, sleepMs, which } from "./peers/util.js";
import { density, type Made } from "./debian-density.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const args = process.argv.slice(2);
const flag = (name: string): number | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : Number(args[i + 1]);
};
const rounds = Number(args.find((a, i) => /^\d+$/.test(a) && (i === 0 || !args[i - 1]!.startsWith("--"))) ?? 5);
const dense = flag("--density") ?? 0;
const denseNspawn = flag("--nspawn-density") ?? Math.min(dense, 10);
const peersWanted = !args.includes("--no-peers");
const root = benchRoot("debian");
const paths = zonePaths(root.env);
const S = new Samples();
const bin = (c: string): string => path.join(TOP, "bin", c);
const zp = (z: string): string => path.join(root.dir, "zones", z);
const slots = new SlotRegistry();
const peerUuid = `bench-debian-peer-${process.pid}`;
/** The bench's groups: nspawn's below this process's own, LXC's at each hierarchy's root (where zones' are). */
const TOP_GROUP = `zones-bench-deb-${process.pid}`;
const made: Made & { lxc: LxcBoot[]; ids?: SubIds } = { zones: [], peers: [], nspawn: [], lxc: [], slots: [] };

const INSTALL = "zoneadm install (from the cached image)";
const BOOT = "zoneadm boot, to systemd running (nsenter polls)";
const BOOT_CMD = "  of which zoneadm boot returns";
const SD = "  of which systemd's own startup (systemd-analyze)";
const NS_SD = "  of which systemd's own startup (nspawn peer)";
const LXC_SD = "  of which systemd's own startup (LXC peer)";
const NODE = "  node -e 0 (node's start, which every zoneadm pays)";
const BOOT_ZLOGIN = "zoneadm boot of the clone, to running (zlogin polls)";
const LOGIN = "zlogin true";
const SHUT = "zoneadm shutdown (systemd powers off)";
const CLONE = "zoneadm clone";
const OVL = "overlay of the tree mounted (the peers' install)";
const NS_BOOT = "systemd-nspawn -b, to systemd running (peer)";
const NS_EXEC = "nsenter -t init -a /bin/true (nspawn peer)";
const NS_OFF = "SIGRTMIN+4 to init, to nspawn gone (peer)";
const LXC_BOOT = "lxc-start -d, to systemd running (peer)";
const LXC_EXEC = "lxc-attach -- /bin/true (peer)";
const LXC_OFF = "lxc-stop (SIGRTMIN+4), to stopped (peer)";

/**
 * Set by SIGINT/SIGTERM: the next command throws, so the run unwinds through the one
 * cleanup (zones, peers, groups) instead of leaving containers running; a second signal
 * ends the process as it stands.
 */
let stopping = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error(`${sig}: stopping after this step, then cleaning up (again to quit at once)`);
  });
}

function sh(argv: string[], env: NodeJS.ProcessEnv = root.env): string {
  if (stopping) throw new Error("interrupted");
  const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Poll the zone until systemd has finished starting; the state it reached. `via`
 * "nsenter": into the zone's init's namespaces, the probe the nspawn peer gets (so the
 * boots compare, not the probes); "zlogin": the administrator's own way.
 */
function untilRunning(z: string, via: "nsenter" | "zlogin" = "zlogin"): string {
  const end = Date.now() + 60_000;
  const argv = via === "zlogin" ? [bin("zlogin"), z] : ["nsenter", "-t", String(readRun(paths, z)?.pid ?? 0), "-a"];
  for (;;) {
    const r = spawnSync(argv[0]!, [...argv.slice(1), "systemctl", "is-system-running"], { env: root.env, encoding: "utf8" });
    if (/^(running|degraded)/.test(r.stdout)) return r.stdout.trim();
    if (Date.now() > end) throw new Error(`zone ${q(z)}: systemd did not finish starting in 60 s: ${q(r.stdout.trim())}`);
    sleepMs(10); // the peers' polls pause as long (peers/systemd.ts)
  }
}

function failedUnits(z: string): string[] {
  const r = spawnSync(bin("zlogin"), [z, "systemctl", "--failed", "--no-legend", "--plain"], { env: root.env, encoding: "utf8" });
  return (r.stdout ?? "").split("\n").map((l) => l.split(" ")[0]!).filter(Boolean);
}

/** The image generation a zone was installed from (its record), which the peers then boot. */
function zoneTree(z: string): string {
  return (JSON.parse(fs.readFileSync(path.join(zp(z), "image.json"), "utf8")) as { tree: string }).tree;
}

function release(z: string): void {
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(zp(z), "image.json"), "utf8")) as { tree: string; hold: string };
    releaseTree(rec.tree, rec.hold);
  } catch {
    // not installed
  }
}

/** Reached states, with the failed units of a degraded one, counted over the rounds. */
const states = new Map<string, Map<string, number>>();
function sawState(who: string, state: string, failed: () => string[]): void {
  const s = state === "degraded" ? `degraded (${failed().join(", ") || "no unit listed"})` : state;
  const m = states.get(who) ?? states.set(who, new Map()).get(who)!;
  m.set(s, (m.get(s) ?? 0) + 1);
}

/** Density peer `j`'s own uid slot (bench-debian-peer-<pid>-<j>). */
function slotBase(j: number): number {
  const uuid = `${peerUuid}-${j}`;
  made.slots.push(uuid);
  return slots.allocate(uuid, paths.configDir, `debian-peer-${j}`) * SLOT_SIZE;
}

/** Record systemd's own startup time from `systemd-analyze time` output, outside any timed span. */
function userspace(label: string, text: string): void {
  const ms = userspaceMs(text);
  if (ms !== null) S.add(label, ms);
}

async function nspawnRound(i: number, tree: string, base: number, log: number): Promise<void> {
  if (stopping) throw new Error("interrupted");
  let peer: PeerRoot | undefined;
  await S.timedAsync(OVL, async () => void (peer = await PeerRoot.make(path.join(root.dir, `nsp${i}`), tree, base, `nsp${i}`)));
  made.peers.push(peer!);
  const group = new PeerGroup(`${TOP_GROUP}/n${i}`);
  const nb = new NspawnBoot(peer!, group, `zbd${process.pid}n${i}`, base, SLOT_SIZE, log);
  made.nspawn.push(nb);
  let state = "";
  S.timed(NS_BOOT, () => {
    nb.start();
    state = nb.untilRunning();
  });
  sawState("systemd-nspawn", state, () => nb.failed());
  userspace(NS_SD, nb.analyze());
  S.timed(NS_EXEC, () => nb.exec());
  await S.timedAsync(NS_OFF, () => nb.poweroff());
  nb.propagate();
  group.remove();
  peer!.remove();
  forget(made.nspawn, nb);
  forget(made.peers, peer!);
}

async function lxcRound(i: number, tree: string, base: number, log: number): Promise<void> {
  if (stopping) throw new Error("interrupted");
  let peer: PeerRoot | undefined;
  await S.timedAsync(OVL, async () => void (peer = await PeerRoot.make(path.join(root.dir, `lxc${i}`), tree, base, `lxc${i}`)));
  made.peers.push(peer!);
  const lb = new LxcBoot(path.join(root.dir, "lxcpath"), `lxc${i}`, peer!, base, SLOT_SIZE, `${TOP_GROUP}-lxc/l${i}`, log);
  made.lxc.push(lb);
  let state = "";
  S.timed(LXC_BOOT, () => {
    lb.start();
    state = lb.untilRunning();
  });
  sawState("LXC", state, () => lb.failed());
  userspace(LXC_SD, lb.analyze());
  S.timed(LXC_EXEC, () => lb.exec());
  S.timed(LXC_OFF, () => lb.poweroff());
  lb.kill(); // stopped already: this drops its config
  peer!.remove();
  forget(made.lxc, lb);
  forget(made.peers, peer!);
}

/** A peer cleaned up at the end of its round is no business of the final cleanup. */
function forget<T>(list: T[], x: T): void {
  const i = list.indexOf(x);
  if (i >= 0) list.splice(i, 1);
}

async function main(): Promise<void> {
  const nspawnOk = peersWanted && which("systemd-nspawn") !== null && which("nsenter") !== null;
  const lxcOk = peersWanted && which("lxc-start") !== null && which("lxc-attach") !== null;
  console.log(`Brand debian: ${rounds} rounds, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  if (!nspawnOk) console.log(`  systemd-nspawn: skipped: ${peersWanted ? "systemd-nspawn or nsenter not found (apt-get install -y systemd-container util-linux)" : "--no-peers"}`);
  if (!lxcOk) console.log(`  LXC: skipped: ${peersWanted ? "lxc-start not found (apt-get install -y lxc)" : "--no-peers"}`);
  const log = fs.openSync(path.join(root.dir, "peers.log"), "a");
  made.slots.push(peerUuid);
  const base = slots.allocate(peerUuid, paths.configDir, "debian-peer") * SLOT_SIZE;
  if (lxcOk) {
    // newuidmap (which LXC uses even as root) maps only ranges /etc/subuid grants.
    made.ids = new SubIds(base, SLOT_SIZE);
    made.ids.add();
  }
  // Any zoneadm command started by root starts the root's zoneadmd: not in the first install's time.
  sh([bin("zoneadm"), "list", "-cv"]);
  const disk: number[] = [];
  const booted: number[] = [];
  let tree = "";
  for (let i = 0; i < rounds; i++) {
    const z = `d${i}`;
    const c = `c${i}`;
    made.zones.push(z, c);
    sh([bin("zonecfg"), "-z", z, `create; set zonepath=${zp(z)}; set brand=debian`]);
    sh([bin("zonecfg"), "-z", c, `create; set zonepath=${zp(c)}; set brand=debian`]);
    S.timed(INSTALL, () => sh([bin("zoneadm"), "-z", z, "install"]));
    disk.push(Number(sh(["du", "-sk", zp(z)]).split("\t")[0]));
    if (i === 0) {
      tree = zoneTree(z);
      console.log(`  image tree (zones' lower layer, the peers' too): ${tree}`);
      if (nspawnOk) console.log(`  systemd-nspawn ${out(["systemd-nspawn", "--version"]).split("\n")[0]}: -b --register=no --keep-unit --private-users=<slot>:65536 --private-network`);
      if (lxcOk) console.log(`  LXC ${out(["lxc-start", "--version"]).trim()}: debian.common.conf + debian.userns.conf (lxcfs hooks cleared), lxc.idmap <slot>, lxc.net.0.type = empty, -P ${path.join(root.dir, "lxcpath")}`);
    }
    let state = "";
    S.timed(BOOT, () => {
      S.timed(BOOT_CMD, () => sh([bin("zoneadm"), "-z", z, "boot"]));
      state = untilRunning(z, "nsenter");
    });
    sawState("zone", state, () => failedUnits(z));
    userspace(SD, out(["nsenter", "-t", String(readRun(paths, z)?.pid ?? 0), "-a", "systemd-analyze", "time"]));
    S.timed(LOGIN, () => sh([bin("zlogin"), z, "true"]));
    S.timed(NODE, () => sh(["node", "-e", "0"]));
    S.timed(SHUT, () => sh([bin("zoneadm"), "-z", z, "shutdown"]));
    booted.push(Number(sh(["du", "-sk", zp(z)]).split("\t")[0]));
    S.timed(CLONE, () => sh([bin("zoneadm"), "-z", c, "clone", z]));
    // The clone boots too, polled the administrator's way: what `zoneadm boot` + zlogin cost.
    S.timed(BOOT_ZLOGIN, () => {
      sh([bin("zoneadm"), "-z", c, "boot"]);
      untilRunning(c, "zlogin");
    });
    sh([bin("zoneadm"), "-z", c, "halt"]);
    if (nspawnOk) await nspawnRound(i, tree, base, log);
    if (lxcOk) await lxcRound(i, tree, base, log);
  }
  S.report("debian zones and their peers on the same tree (ms)", [
    [INSTALL, [OVL]],
    [BOOT, [NS_BOOT, LXC_BOOT]],
    [BOOT_CMD, [NODE]],
    [SD, [NS_SD, LXC_SD]],
    [BOOT_ZLOGIN, [NS_BOOT]],
    [LOGIN, [NS_EXEC, LXC_EXEC]],
    [SHUT, [NS_OFF, LXC_OFF]],
    [CLONE, []],
  ]);
  console.log("\nstate systemd reached, over the rounds");
  for (const [who, m] of states) for (const [s, n] of m) console.log(`  ${who.padEnd(15)} ${n} x ${s}`);
  const ours = S.p(BOOT, 50);
  const ns = S.p(NS_BOOT, 50);
  if (ours !== null && ns !== null) console.log(`\nAim: boot to running faster than nspawn on the same tree: ours p50 ${ours.toFixed(0)} ms, nspawn p50 ${ns.toFixed(0)} ms: ${ours < ns ? "met" : "NOT met"}`);
  const p50 = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  if (disk.length) console.log(`disk of a zone (du -sk of its zonepath): p50 ${p50(disk)} KiB fresh, ${p50(booted)} KiB after one boot (its journal, mostly)`);
  if (dense > 0) {
    await density({ root, paths, sh, untilRunning: (z) => untilRunning(z, "nsenter"), bin, zp, tree, slotBase, log, zones: dense, nspawn: nspawnOk ? denseNspawn : 0, group: TOP_GROUP, settle: flag("--settle") ?? 20, stopping: () => stopping, made });
  }
}

function out(argv: string[]): string {
  return spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" }).stdout ?? "";
}

/** Everything the run made, also after a failure: zones, peers, overlays, groups, sub-ids, the slot. */
async function cleanup(): Promise<void> {
  for (const nb of made.nspawn) nb.kill();
  for (const lb of made.lxc) lb.kill();
  for (const p of made.peers) p.remove();
  for (const z of made.zones) {
    spawnSync(bin("zoneadm"), ["-z", z, "halt"], { env: root.env, stdio: "ignore" });
    release(z);
  }
  made.ids?.remove();
  for (const u of made.slots) slots.release(u);
  const left = [...PeerGroup.removeTop(TOP_GROUP)];
  removeCgroupTree(`${TOP_GROUP}-lxc`);
  left.push(...cgroupsLeft(`${TOP_GROUP}-lxc`));
  await removeBenchRoot(root);
  // The zones' own groups (their systemd's subtrees included) go with halt and the root's removal.
  left.push(...cgroupsLeft(paths.hostPrefix));
  if (left.length) console.error(`left behind: ${left.join(", ")}`);
}

main()
  .catch((err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 1;
  })
  .finally(cleanup);
