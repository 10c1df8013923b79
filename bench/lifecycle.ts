/**
 * Zone lifecycle, side by side with the nearest peers in one run (p50/p99), every
 * peer's rounds interleaved with ours in the same loops:
 *   - sparse install (zoneadm install) beside cp -a of the host's /etc
 *   - `zoneadm boot` / `zoneadm halt` beside runc, LXC and systemd-nspawn on one busybox tree
 *   - `zonecfg` create + commit, and node's own start (`node -e 0`)
 *   - `zlogin Z true` beside `nsenter -a`, `runc exec`, `lxc-attach`, a fresh nspawn
 *   - boot ready->running inside the daemon's code (Platform.boot) beside `runc start`
 *   - create + install + boot of minimal zones (zones/s) beside runc and LXC starts
 *   - Aims: ours against node's start + the runtime's own cost, from this run's p50s
 * LXC and nspawn are skipped, with a line saying so, where they are not installed.
 *
 *   node dist/bench/lifecycle.js [rounds]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { BUSYBOX_TREE, installMinimal } from "../src/platform/brands/minimal.js";
import { idmappedBind, MOUNT_ATTR_RDONLY, mountsBelow, unmount } from "../src/platform/idmap.js";
import { blankZone } from "../src/document/model.js";
import { makeRuntime } from "../src/platform/oci/runtime.js";
import { zoneSpec } from "../src/platform/oci/spec.js";
import { zonePaths } from "../src/document/store/paths.js";
import { Platform } from "../src/platform/platform.js";
import { removeCgroups } from "../src/platform/teardown.js";
import { Repository } from "../src/document/store/repository.js";
import { readRun } from "../src/document/store/runstate.js";
import { SLOT_SIZE, SlotRegistry } from "../src/platform/slots.js";
import { LxcPeer } from "./peers/lxc.js";
import { NspawnPeer } from "./peers/nspawn.js";
import { Samples } from "./peers/table.js";
import { cgroupsLeft } from "./peers/util.js";
import { benchRoot } from "./root.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const rounds = Number(process.argv[2] ?? 50);
const { dir, env } = benchRoot("life");
const paths = zonePaths(env);
const slots = new SlotRegistry();
const S = new Samples();
const NODE = "node -e 0 (node's start)";
const peerUuid = `bench-peer-${process.pid}`;
const bin = (c: string): string => path.join(TOP, "bin", c);
let lxc: LxcPeer | null = null;
let nspawn: NspawnPeer | null = null;
let log = -1;

function sh(argv: string[], e: NodeJS.ProcessEnv = env): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { env: e, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
}

/** Node's own start, as bin/ scripts run it (no NODE_EXTRA_CA_CERTS: env has it removed). */
const nodeStart = (): void => S.timed(NODE, () => sh(["node", "-e", "0"]));

const runc = ["runc", "--root", path.join(dir, "peer-state")];
function runcQuiet(args: string[]): void {
  const r = spawnSync(runc[0]!, [...runc.slice(1), ...args], { stdio: ["ignore", log, log] });
  if (r.status !== 0) throw new Error(`runc ${args.join(" ")} failed`);
}

/** A runc bundle whose root is the shared peer tree (`id` names its cgroup and hostname). */
function writeBundle(bundle: string, root: string, id: string, base: number): void {
  const spec = zoneSpec({ zone: blankZone(id), base, root, init: ["/sbin/init"], cgroupParent: `${paths.hostPrefix}-peer`, zoneId: 0 });
  spec.process.terminal = false; // plain runc run -d, no console socket
  fs.mkdirSync(bundle, { recursive: true });
  fs.writeFileSync(path.join(bundle, "config.json"), JSON.stringify(spec));
}

/** N starts one after another, as zones per second. */
function rate(label: string, n: number, start: (i: number) => void): void {
  const t0 = Date.now();
  for (let i = 0; i < n; i++) start(i);
  const secs = (Date.now() - t0) / 1000;
  console.log(`${label.padEnd(58)} ${secs.toFixed(2).padStart(6)} s ${(n / secs).toFixed(1).padStart(7)} /s`);
}

async function main(): Promise<void> {
  console.log(`Zone lifecycle benchmark: ${rounds} rounds, ${os.cpus().length} CPUs, runtime ${makeRuntime("runc", paths.runDir).version().version}`);

  // --- sparse install, beside copying the host's /etc
  for (let i = 0; i < rounds; i++) {
    sh([bin("zonecfg"), "-z", "inst", `create; set zonepath=${dir}/zones/inst`]);
    S.timed("zoneadm install (sparse)", () => sh([bin("zoneadm"), "-z", "inst", "install"]));
    sh([bin("zoneadm"), "-z", "inst", "uninstall", "-F"]);
    sh([bin("zonecfg"), "-z", "inst", "delete -F"]);
    S.timed("cp -a /etc (peer)", () => sh(["cp", "-a", "/etc", `${dir}/etc-copy`]));
    fs.rmSync(`${dir}/etc-copy`, { recursive: true });
  }
  S.report("Install", [["zoneadm install (sparse)", ["cp -a /etc (peer)"]]]);

  // --- the peers: one minimal busybox tree (the shared busybox /bin our minimal zones get,
  // so every peer runs the same init), owned by a uid slot of its own
  const peerBase = slots.allocate(peerUuid, paths.configDir, "peer") * SLOT_SIZE;
  const peerBundle = path.join(dir, "peer");
  const peerRoot = path.join(peerBundle, "root");
  fs.mkdirSync(peerRoot, { recursive: true });
  await installMinimal(peerRoot, peerBase, blankZone("peer"));
  await idmappedBind(BUSYBOX_TREE, path.join(peerRoot, "bin"), peerBase, SLOT_SIZE, MOUNT_ATTR_RDONLY);
  writeBundle(peerBundle, peerRoot, "peer", peerBase);
  log = fs.openSync(path.join(dir, "peer.log"), "a");
  console.log("\nPeers (same busybox tree, same uid range, no network; container init = busybox /sbin/init):");
  console.log("  runc: our own OCI spec (capabilities, seccomp, masked paths), runc run -d / exec / kill + delete");
  const lxcMissing = LxcPeer.missing();
  if (lxcMissing) console.log(`  LXC: skipped: ${lxcMissing}`);
  else {
    lxc = new LxcPeer(dir, peerRoot, peerBase, SLOT_SIZE, log);
    lxc.define("lxcpeer");
    console.log(`  LXC ${spawnSync("lxc-start", ["--version"], { encoding: "utf8" }).stdout.trim()}: Debian's common.conf + userns.conf (lxcfs hooks cleared), lxc.idmap, lxc.net.0.type = empty, -P ${lxc.lxcpath}`);
  }
  const nspawnMissing = NspawnPeer.missing();
  if (nspawnMissing) console.log(`  systemd-nspawn: skipped: ${nspawnMissing}`);
  else {
    nspawn = new NspawnPeer(peerRoot, peerBase, SLOT_SIZE, log);
    console.log("  systemd-nspawn: --register=no --keep-unit --private-users=<base>:65536 --private-network;");
    console.log("    boot = start in the background until the tree's /sbin/init runs as the container's pid 1 (0.2 ms polls);");
    console.log("    halt = SIGTERM to nspawn (--kill-signal=SIGKILL) until nspawn exits; no exec into a running");
    console.log("    container without machined, so the command row is a fresh container running /bin/true to completion");
  }
  const LXC_START = "lxc-start -d (peer)";
  const LXC_STOP = "lxc-stop -k (peer)";
  const NS_BOOT = "systemd-nspawn /sbin/init, to init running (peer)";
  const NS_STOP = "systemd-nspawn SIGTERM, to nspawn gone (peer)";

  // --- boot and halt end to end, beside runc, LXC and nspawn; zonecfg and node's start
  sh([bin("zonecfg"), "-z", "mini", `create; set zonepath=${dir}/zones/mini; set brand=minimal`]);
  sh([bin("zoneadm"), "-z", "mini", "install"]);
  for (let i = 0; i < rounds; i++) {
    S.timed("zoneadm boot (installed->running)", () => sh([bin("zoneadm"), "-z", "mini", "boot"]));
    S.timed("zoneadm halt", () => sh([bin("zoneadm"), "-z", "mini", "halt"]));
    S.timed("runc run -d (peer)", () => runcQuiet(["run", "-d", "--bundle", peerBundle, "peer"]));
    S.timed("runc kill + delete (peer)", () => {
      runcQuiet(["kill", "peer", "KILL"]);
      runcQuiet(["delete", "--force", "peer"]);
    });
    if (lxc) {
      S.timed(LXC_START, () => lxc!.start("lxcpeer"));
      S.timed(LXC_STOP, () => lxc!.stop("lxcpeer"));
    }
    if (nspawn) {
      nspawn.enter(); // outside the timing: moving between cgroups can take milliseconds
      S.timed(NS_BOOT, () => nspawn!.start());
      nspawn.leave();
      await S.timedAsync(NS_STOP, () => nspawn!.stop());
    }
    nodeStart();
    S.timed("zonecfg -z zc \"create; set zonepath=...; commit\"", () => sh([bin("zonecfg"), "-z", "zc", `create; set zonepath=${dir}/zones/zc; commit`]));
    sh([bin("zonecfg"), "-z", "zc", "delete -F"]);
  }
  S.report("Boot and halt, end to end", [
    ["zoneadm boot (installed->running)", ["runc run -d (peer)", LXC_START, NS_BOOT]],
    ["zoneadm halt", ["runc kill + delete (peer)", LXC_STOP, NS_STOP]],
    ["zonecfg -z zc \"create; set zonepath=...; commit\"", [NODE]],
  ]);

  // --- zlogin beside nsenter, runc exec, lxc-attach and a fresh nspawn, on running zones
  sh([bin("zoneadm"), "-z", "mini", "boot"]);
  runcQuiet(["run", "-d", "--bundle", peerBundle, "peer"]);
  lxc?.start("lxcpeer");
  const init = readRun(paths, "mini")!.pid;
  const NS_TRUE = "systemd-nspawn /bin/true, fresh container (peer)";
  for (let i = 0; i < rounds * 2; i++) {
    S.timed("zlogin mini true", () => sh([bin("zlogin"), "mini", "true"]));
    S.timed("nsenter -a -t init true (peer)", () => sh(["nsenter", "-a", "-t", String(init), "/bin/true"]));
    S.timed("runc exec true (peer)", () => runcQuiet(["exec", "peer", "/bin/true"]));
    if (lxc) S.timed("lxc-attach -- /bin/true (peer)", () => lxc!.exec("lxcpeer"));
    if (nspawn) {
      nspawn.enter();
      S.timed(NS_TRUE, () => nspawn!.runTrue());
      nspawn.leave();
    }
    nodeStart();
  }
  S.report("Running a command in a zone", [["zlogin mini true", ["nsenter -a -t init true (peer)", "runc exec true (peer)", "lxc-attach -- /bin/true (peer)", NS_TRUE, NODE]]]);
  sh([bin("zoneadm"), "-z", "mini", "halt"]);
  runcQuiet(["kill", "peer", "KILL"]);
  runcQuiet(["delete", "--force", "peer"]);
  lxc?.stop("lxcpeer");

  // --- ready->running inside the daemon's code, beside runc start of a created container
  const own = { ...paths, runDir: path.join(dir, "inproc-run"), hostPrefix: `${paths.hostPrefix}-inproc` };
  const platform = new Platform(own, new Repository(paths), makeRuntime("runc", own.runDir), slots);
  for (let i = 0; i < rounds; i++) {
    await platform.ready("mini");
    await S.timedAsync("Platform.boot ready->running (in daemon)", () => platform.boot("mini"));
    await platform.halt("mini");
    runcQuiet(["create", "--bundle", peerBundle, "peer"]);
    S.timed("runc start (peer)", () => runcQuiet(["start", "peer"]));
    runcQuiet(["kill", "peer", "KILL"]);
    runcQuiet(["delete", "--force", "peer"]);
  }
  S.report("Boot ready->running", [["Platform.boot ready->running (in daemon)", ["runc start (peer)"]]]);

  // --- N at once: ours create + install + boot; the peers start an existing tree
  const n = Math.max(10, Math.min(rounds, 60));
  console.log(`\n${n} one after another (each a fresh process; peers reuse the one tree, no install)`);
  rate("zonecfg create + zoneadm install + boot (minimal)", n, (i) => {
    sh([bin("zonecfg"), "-z", `m${i}`, `create; set zonepath=${dir}/zones/m${i}; set brand=minimal`]);
    sh([bin("zoneadm"), "-z", `m${i}`, "install"]);
    sh([bin("zoneadm"), "-z", `m${i}`, "boot"]);
  });
  for (let i = 0; i < n; i++) writeBundle(path.join(dir, `peerN/${i}`), peerRoot, `peer${i}`, peerBase);
  rate("runc run -d of N bundles (peer)", n, (i) => runcQuiet(["run", "-d", "--bundle", path.join(dir, `peerN/${i}`), `peer${i}`]));
  if (lxc) {
    for (let i = 0; i < n; i++) lxc.define(`lxc${i}`);
    rate("copy an LXC config + lxc-start -d (peer)", n, (i) => lxc!.start(`lxc${i}`));
  }
  for (let i = 0; i < n; i++) {
    sh([bin("zoneadm"), "-z", `m${i}`, "halt"]);
    sh([bin("zoneadm"), "-z", `m${i}`, "uninstall", "-F"]);
    runcQuiet(["kill", `peer${i}`, "KILL"]);
    runcQuiet(["delete", "--force", `peer${i}`]);
    lxc?.stop(`lxc${i}`);
  }

  S.aims(NODE, [
    { label: "zlogin mini true <= node + runc exec + 5 ms", ours: "zlogin mini true", runtime: ["runc exec true (peer)"], slack: 5 },
    { label: "zoneadm boot <= node + runc run -d + 10 ms", ours: "zoneadm boot (installed->running)", runtime: ["runc run -d (peer)"], slack: 10 },
    { label: "zoneadm halt <= node + runc kill+delete + 10 ms", ours: "zoneadm halt", runtime: ["runc kill + delete (peer)"], slack: 10 },
    { label: "zonecfg create+commit <= node + 10 ms", ours: "zonecfg -z zc \"create; set zonepath=...; commit\"", runtime: [], slack: 10 },
  ]);
}

/** Remove every trace, also after a failure; print what could not be removed. */
function cleanup(): void {
  try {
    const pid = Number(fs.readFileSync(path.join(paths.runDir, "zoneadmd.pid"), "utf8"));
    process.kill(pid, "SIGTERM");
  } catch {
    // no daemon
  }
  const left: string[] = [];
  for (const state of [path.join(dir, "peer-state"), path.join(paths.runDir, "runc"), path.join(dir, "inproc-run", "runc")]) {
    const ids = (): string[] => (spawnSync("runc", ["--root", state, "list", "-q"], { encoding: "utf8" }).stdout ?? "").split("\n").filter(Boolean);
    for (const id of ids()) spawnSync("runc", ["--root", state, "delete", "--force", id]);
    left.push(...ids().map((id) => `runc container "${id}" in "${state}"`));
  }
  if (lxc) left.push(...lxc.cleanup());
  if (nspawn) left.push(...nspawn.cleanup());
  for (const m of mountsBelow(dir)) unmount(m);
  left.push(...mountsBelow(dir).map((m) => `mount "${m}"`));
  const repo = new Repository(paths);
  for (const e of repo.list()) {
    removeCgroups(paths.hostPrefix, e.name);
    removeCgroups(`${paths.hostPrefix}-inproc`, e.name);
    slots.release(e.uuid);
  }
  for (let i = 0; i < 60; i++) removeCgroups(`${paths.hostPrefix}-peer`, `peer${i}`);
  removeCgroups(`${paths.hostPrefix}-peer`, "peer");
  left.push(...[paths.hostPrefix, `${paths.hostPrefix}-inproc`, `${paths.hostPrefix}-peer`].flatMap((g) => cgroupsLeft(g).map((c) => `cgroup "${c}"`)));
  slots.release(peerUuid);
  if (log >= 0) fs.closeSync(log);
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(left.length ? `\nCleanup: left behind: ${left.join("; ")}` : "\nCleanup: no containers, mounts or cgroups left");
}

let cleaned = false;
const once = (): void => {
  if (cleaned) return;
  cleaned = true;
  cleanup();
};
// Synchronous cleanup, then exit: main must not go on starting containers behind it.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    console.error(`lifecycle: ${sig}: cleaning up`);
    once();
    process.exit(130);
  });
}
main().then(once, (e: Error) => {
  console.error(e.message);
  once();
  process.exitCode = 1;
});
