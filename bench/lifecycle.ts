/**
 * Zone lifecycle, side by side with the nearest peers in one run (p50/p99):
 *   - sparse install (zoneadm install) beside cp -a of the host's /etc
 *   - boot ready->running inside the daemon's code (Platform.boot) beside `runc start`
 *   - `zoneadm boot` end to end beside `runc run -d` of a minimal tree
 *   - `zlogin Z true` beside `nsenter -a` and `runc exec`
 *   - `zoneadm halt` beside `runc kill` + `runc delete`
 *   - create + install + boot of minimal zones: zones per second
 *
 *   node dist/bench/lifecycle.js [rounds]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { BUSYBOX_TREE, installMinimal } from "../src/lib/brands/minimal.js";
import { idmappedBind, MOUNT_ATTR_RDONLY, mountsBelow, unmount } from "../src/lib/idmap.js";
import { blankZone } from "../src/lib/model.js";
import { makeRuntime } from "../src/lib/oci/runtime.js";
import { zoneSpec } from "../src/lib/oci/spec.js";
import { zonePaths } from "../src/lib/paths.js";
import { Platform, removeCgroups } from "../src/lib/platform.js";
import { Repository } from "../src/lib/repository.js";
import { readRun } from "../src/lib/runstate.js";
import { SLOT_SIZE, SlotRegistry } from "../src/lib/slots.js";
import { percentile } from "./stats.js";
import { benchRoot } from "./root.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const rounds = Number(process.argv[2] ?? 50);
const { dir, env } = benchRoot("life");
const paths = zonePaths(env);
const slots = new SlotRegistry();
const results = new Map<string, number[]>();

function sh(argv: string[], e: NodeJS.ProcessEnv = env): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { env: e, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
}

function timed(name: string, fn: () => void): void {
  const t0 = process.hrtime.bigint();
  fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  (results.get(name) ?? results.set(name, []).get(name)!).push(ms);
}

async function timedAsync(name: string, fn: () => Promise<unknown>): Promise<void> {
  const t0 = process.hrtime.bigint();
  await fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  (results.get(name) ?? results.set(name, []).get(name)!).push(ms);
}

function report(title: string, pairs: Array<[string, string]>): void {
  console.log(`\n${title}`);
  console.log(`${"case".padEnd(44)} ${"p50 ms".padStart(9)} ${"p99 ms".padStart(9)}  ratio to peer (p50)`);
  for (const [ours, peer] of pairs) {
    for (const name of [ours, peer]) {
      const t = [...(results.get(name) ?? [])].sort((a, b) => a - b);
      if (t.length === 0) continue;
      const ratio = name === ours && results.get(peer)?.length ? ` ${(percentile(t, 50) / percentile([...results.get(peer)!].sort((a, b) => a - b), 50)).toFixed(2)}x` : "";
      console.log(`${name.padEnd(44)} ${percentile(t, 50).toFixed(2).padStart(9)} ${percentile(t, 99).toFixed(2).padStart(9)} ${ratio}`);
    }
  }
}

const bin = (c: string): string => path.join(TOP, "bin", c);
const peerUuid = `bench-peer-${process.pid}`;

async function main(): Promise<void> {
  console.log(`Zone lifecycle benchmark: ${rounds} rounds, ${os.cpus().length} CPUs, runtime ${makeRuntime("runc", paths.runDir).version().version}`);

  // --- sparse install, beside copying the host's /etc
  for (let i = 0; i < rounds; i++) {
    sh([bin("zonecfg"), "-z", "inst", `create; set zonepath=${dir}/zones/inst`]);
    timed("zoneadm install (sparse)", () => sh([bin("zoneadm"), "-z", "inst", "install"]));
    sh([bin("zoneadm"), "-z", "inst", "uninstall", "-F"]);
    sh([bin("zonecfg"), "-z", "inst", "delete -F"]);
    timed("cp -a /etc (peer)", () => sh(["cp", "-a", "/etc", `${dir}/etc-copy`]));
    fs.rmSync(`${dir}/etc-copy`, { recursive: true });
  }
  report("Install", [["zoneadm install (sparse)", "cp -a /etc (peer)"]]);

  // --- a peer container: a minimal tree run by plain runc
  const peerBase = slots.allocate(peerUuid, paths.configDir, "peer") * SLOT_SIZE;
  const peerBundle = path.join(dir, "peer");
  fs.mkdirSync(path.join(peerBundle, "root"), { recursive: true });
  await installMinimal(path.join(peerBundle, "root"), peerBase, blankZone("peer"));
  // The same shared busybox tree our minimal zones get, so both run the same init.
  await idmappedBind(BUSYBOX_TREE, path.join(peerBundle, "root/bin"), peerBase, SLOT_SIZE, MOUNT_ATTR_RDONLY);
  const peerSpec = zoneSpec({ zone: blankZone("peer"), base: peerBase, root: path.join(peerBundle, "root"), init: ["/sbin/init"], cgroupParent: `${paths.hostPrefix}-peer`, zoneId: 0 });
  peerSpec.process.terminal = false; // plain runc run -d, no console socket
  fs.writeFileSync(path.join(peerBundle, "config.json"), JSON.stringify(peerSpec));
  const runc = ["runc", "--root", path.join(dir, "peer-state")];
  const log = fs.openSync(path.join(dir, "peer.log"), "a");
  const runcQuiet = (args: string[]): void => {
    const r = spawnSync(runc[0]!, [...runc.slice(1), ...args], { stdio: ["ignore", log, log] });
    if (r.status !== 0) throw new Error(`runc ${args.join(" ")} failed`);
  };

  // --- boot and halt end to end, beside runc run -d / kill + delete
  sh([bin("zonecfg"), "-z", "mini", `create; set zonepath=${dir}/zones/mini; set brand=minimal`]);
  sh([bin("zoneadm"), "-z", "mini", "install"]);
  for (let i = 0; i < rounds; i++) {
    timed("zoneadm boot (installed->running)", () => sh([bin("zoneadm"), "-z", "mini", "boot"]));
    timed("zoneadm halt", () => sh([bin("zoneadm"), "-z", "mini", "halt"]));
    timed("runc run -d (peer)", () => runcQuiet(["run", "-d", "--bundle", peerBundle, "peer"]));
    timed("runc kill + delete (peer)", () => {
      runcQuiet(["kill", "peer", "KILL"]);
      runcQuiet(["delete", "--force", "peer"]);
    });
  }
  report("Boot and halt, end to end", [
    ["zoneadm boot (installed->running)", "runc run -d (peer)"],
    ["zoneadm halt", "runc kill + delete (peer)"],
  ]);

  // --- zlogin beside nsenter and runc exec, on running zones
  sh([bin("zoneadm"), "-z", "mini", "boot"]);
  runcQuiet(["run", "-d", "--bundle", peerBundle, "peer"]);
  const init = readRun(paths, "mini")!.pid;
  for (let i = 0; i < rounds * 2; i++) {
    timed("zlogin mini true", () => sh([bin("zlogin"), "mini", "true"]));
    timed("nsenter -a -t init true (peer)", () => sh(["nsenter", "-a", "-t", String(init), "/bin/true"]));
    timed("runc exec true (peer)", () => runcQuiet(["exec", "peer", "/bin/true"]));
  }
  report("Running a command in a zone", [
    ["zlogin mini true", "nsenter -a -t init true (peer)"],
    ["zlogin mini true", "runc exec true (peer)"],
  ]);
  sh([bin("zoneadm"), "-z", "mini", "halt"]);
  runcQuiet(["kill", "peer", "KILL"]);
  runcQuiet(["delete", "--force", "peer"]);

  // --- ready->running inside the daemon's code, beside runc start of a created container
  const own = { ...paths, runDir: path.join(dir, "inproc-run"), hostPrefix: `${paths.hostPrefix}-inproc` };
  const platform = new Platform(own, new Repository(paths), makeRuntime("runc", own.runDir), slots);
  for (let i = 0; i < rounds; i++) {
    await platform.ready("mini");
    await timedAsync("Platform.boot ready->running (in daemon)", () => platform.boot("mini"));
    await platform.halt("mini");
    runcQuiet(["create", "--bundle", peerBundle, "peer"]);
    timed("runc start (peer)", () => runcQuiet(["start", "peer"]));
    runcQuiet(["kill", "peer", "KILL"]);
    runcQuiet(["delete", "--force", "peer"]);
  }
  report("Boot ready->running", [["Platform.boot ready->running (in daemon)", "runc start (peer)"]]);

  // --- create + install + boot of minimal zones
  const n = Math.max(10, Math.min(rounds, 60));
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    sh([bin("zonecfg"), "-z", `m${i}`, `create; set zonepath=${dir}/zones/m${i}; set brand=minimal`]);
    sh([bin("zoneadm"), "-z", `m${i}`, "install"]);
    sh([bin("zoneadm"), "-z", `m${i}`, "boot"]);
  }
  const secs = (Date.now() - t0) / 1000;
  console.log(`\ncreate + install + boot of ${n} minimal zones: ${secs.toFixed(2)} s, ${(n / secs).toFixed(1)} zones/s (one after another, each a fresh zonecfg and zoneadm process)`);
  for (let i = 0; i < n; i++) {
    sh([bin("zoneadm"), "-z", `m${i}`, "halt"]);
    sh([bin("zoneadm"), "-z", `m${i}`, "uninstall", "-F"]);
  }
  fs.closeSync(log);
}

function cleanup(): void {
  try {
    const pid = Number(fs.readFileSync(path.join(paths.runDir, "zoneadmd.pid"), "utf8"));
    process.kill(pid, "SIGTERM");
  } catch {
    // no daemon
  }
  for (const state of [path.join(dir, "peer-state"), path.join(paths.runDir, "runc"), path.join(dir, "inproc-run", "runc")]) {
    const r = spawnSync("runc", ["--root", state, "list", "-q"], { encoding: "utf8" });
    for (const id of (r.stdout ?? "").split("\n").filter(Boolean)) spawnSync("runc", ["--root", state, "delete", "--force", id]);
  }
  for (const m of mountsBelow(dir)) unmount(m);
  const repo = new Repository(paths);
  for (const e of repo.list()) {
    removeCgroups(paths.hostPrefix, e.name);
    removeCgroups(`${paths.hostPrefix}-inproc`, e.name);
    slots.release(e.uuid);
  }
  removeCgroups(`${paths.hostPrefix}-peer`, "peer");
  slots.release(peerUuid);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().then(cleanup, (e: Error) => {
  console.error(e.message);
  cleanup();
  process.exitCode = 1;
});
