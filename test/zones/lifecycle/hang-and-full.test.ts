/**
 * No hang and a full disk (issue 12): with zoneadmd stopped (SIGSTOP) every client call
 * ends within its timeout with one line, SIGINT and SIGTERM end a waiting client at once,
 * and an operation the client gave up on never runs later. With the repository and run
 * state on a full file system, halt still stops the zone, commands fail with one line
 * and leave no empty file, zoneadmd starts, and once there is room the state is right.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { readRun } from "../../../src/document/store/runstate.js";

const FAST = { ZONES_CLIENT_TIMEOUT_MS: "1000" };

function stateOf(root: ZoneTestRoot, zone: string): string {
  return root.ok("zoneadm", ["-z", zone, "list", "-p"]).split(":")[2]!;
}

/** The daemon's pid as it says itself (ping), also when it has no pid file. */
function daemonPid(root: ZoneTestRoot): number {
  const log = fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8");
  const m = [...log.matchAll(/zoneadmd (\d+) serving/g)].pop();
  assert.ok(m, "zoneadmd logged its start");
  return Number(m[1]);
}

/** Processes in the zone's pid namespace (its init's), seen from the host. */
function zoneProcesses(root: ZoneTestRoot, zone: string): number[] {
  const init = readRun(root.paths, zone)?.pid ?? initPid;
  const ns = (p: string): string => {
    try {
      return fs.readlinkSync(`/proc/${p}/ns/pid`);
    } catch {
      return "";
    }
  };
  if (initPid === 0) initPid = init;
  const want = ns(String(init));
  if (want === "") return [];
  // A zombie is no process of the zone's any more: its parent has yet to reap it.
  const zombie = (p: string): boolean => {
    try {
      const st = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      return st[st.lastIndexOf(")") + 2] === "Z";
    } catch {
      return true;
    }
  };
  return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d) && ns(d) === want && !zombie(d)).map(Number);
}
let initPid = 0;

function run(root: ZoneTestRoot, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { status: number; stderr: string } {
  const r = spawnSync(path.join(BIN, cmd), args, { env: { ...root.env, ...env }, encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stderr: r.stderr };
}

function oneLine(stderr: string, re: RegExp): void {
  const lines = stderr.split("\n").filter(Boolean);
  assert.equal(lines.length, 1, `one line: ${JSON.stringify(stderr)}`);
  assert.match(lines[0]!, re);
  assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
}

describe("zoneadmd stopped: no client hangs", { concurrency: false }, () => {
  const root = new ZoneTestRoot("hang");
  let pid = 0;
  before(() => {
    root.ok("zonecfg", ["-z", "h", `create; set zonepath=${path.join(root.dir, "zones/h")}; set brand=minimal`]);
    root.ok("zoneadm", ["-z", "h", "install"]);
    root.ok("zoneadm", ["-z", "h", "boot"]);
    pid = root.daemonPid()!;
    process.kill(pid, "SIGSTOP");
  });
  after(() => {
    if (pid) process.kill(pid, "SIGCONT");
    root.run("zoneadm", ["-z", "h", "halt"]);
    root.run("zoneadm", ["-z", "h", "uninstall", "-F"]);
    root.remove();
  });

  test("zoneadm halt fails within the timeout, with one line; zlogin, which asks the daemon nothing, logs in", () => {
    const sock = path.join(root.paths.runDir, "zoneadmd.sock");
    const r = run(root, "zoneadm", ["-z", "h", "halt"], FAST);
    assert.equal(r.status, 1, `zoneadm: ${r.stderr}`);
    oneLine(r.stderr, new RegExp(`^zoneadm: zone 'h': zoneadmd at ${sock} did not answer in 1 s`));
    // zlogin needs a daemon listening (one that has reconciled), not one answering.
    const z = run(root, "zlogin", ["h", "true"], FAST);
    assert.equal(z.status, 0, `zlogin: ${z.stderr}`);
  });

  for (const [sig, code] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    test(`${sig} ends a client waiting for zoneadmd at once (exit ${code})`, async () => {
      // stderr to a file: a pipe would be a socket too (see below).
      const errFile = path.join(root.dir, `stderr-${sig}`);
      const errFd = fs.openSync(errFile, "w");
      const child = spawn(path.join(BIN, "zoneadm"), ["-z", "h", "halt"], { env: root.env, stdio: ["ignore", "ignore", errFd] });
      fs.closeSync(errFd);
      const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
      // Waiting means connected: its signal handlers are in place by then (client.ts).
      // A descriptor may close between the listing and its readlink (node opens and closes some as it starts).
      const link = (f: string): string => {
        try {
          return fs.readlinkSync(`/proc/${child.pid}/fd/${f}`);
        } catch {
          return "";
        }
      };
      while (!fs.readdirSync(`/proc/${child.pid}/fd`).some((f) => link(f).startsWith("socket:"))) await new Promise((r) => setTimeout(r, 10));
      child.kill(sig);
      assert.equal(await exited, code);
      oneLine(fs.readFileSync(errFile, "utf8"), new RegExp(`^zoneadm: zone 'h': interrupted by ${sig} while waiting for zoneadmd`));
    });
  }

  test("SIGCONT: the zone is fine, and the halts given up on were not run", async () => {
    process.kill(pid, "SIGCONT");
    root.ok("zlogin", ["h", "true"]);
    assert.equal(stateOf(root, "h"), "running");
    const log = fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8");
    assert.match(log, /zone 'h': halt: not started: its client left before it said go/);
  });
});

describe("a full disk", { concurrency: false }, () => {
  const root = new ZoneTestRoot("full");
  const mounts = [path.join(root.dir, "etc"), path.join(root.dir, "run")];
  const fills = mounts.map((m) => path.join(m, "fill"));
  before(() => {
    for (const m of mounts) {
      fs.mkdirSync(m, { recursive: true });
      const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", m], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    }
    root.ok("zonecfg", ["-z", "f", `create; set zonepath=${path.join(root.dir, "zones/f")}; set brand=minimal`]);
    root.ok("zoneadm", ["-z", "f", "install"]);
    root.ok("zoneadm", ["-z", "f", "boot"]);
    root.ok("zlogin", ["f", "sleep 600 </dev/null >/dev/null 2>&1 &"]);
    for (const f of fills) spawnSync("dd", ["if=/dev/zero", `of=${f}`, "bs=64k"], { encoding: "utf8" });
  });
  after(() => {
    for (const f of fills) fs.rmSync(f, { force: true });
    root.run("zoneadm", ["-z", "f", "halt"]);
    root.run("zoneadm", ["-z", "f", "uninstall", "-F"]);
    try {
      process.kill(daemonPid(root), "SIGKILL");
    } catch {
      // gone, or it never started
    }
    // Everything the root's own cleanup reads lies on these mounts: clean, then unmount.
    for (const id of root.containers()) spawnSync("runc", ["--root", path.join(root.paths.runDir, "runc"), "delete", "--force", id]);
    for (const m of mounts) spawnSync("umount", ["-l", m]);
    root.remove();
  });

  test("the file systems are full", () => {
    for (const m of mounts) assert.throws(() => fs.writeFileSync(path.join(m, "probe"), "x".repeat(65536)), /ENOSPC/);
    for (const m of mounts) fs.rmSync(path.join(m, "probe"), { force: true });
  });

  test("zlogin fails with one line and leaves no file in the zone's run directory", () => {
    const dir = path.join(root.paths.runDir, "zone/f");
    const before = fs.readdirSync(dir).sort();
    const r = run(root, "zlogin", ["f", "true"]);
    assert.equal(r.status, 1, r.stderr);
    oneLine(r.stderr, /^zlogin: zone 'f': cannot write .*exec-\d+\.json: .*ENOSPC/);
    assert.deepEqual(fs.readdirSync(dir).sort(), before);
  });

  test("halt stops the zone and says in one line that its state is not recorded yet", () => {
    assert.ok(zoneProcesses(root, "f").length > 0, "the zone has processes");
    const r = run(root, "zoneadm", ["-z", "f", "halt"]);
    const left = zoneProcesses(root, "f");
    assert.deepEqual(left.map((p) => fs.readFileSync(`/proc/${p}/cmdline`, "utf8")), []);
    assert.deepEqual(root.containers(), []);
    assert.equal(r.status, 1, r.stderr);
    oneLine(r.stderr, /^zoneadm: zone 'f': halted, but its state could not be recorded: .*ENOSPC.*zoneadmd records it when the disk has room$/);
  });

  test("zoneadmd starts again while the disk is full, and commands answer in one line", () => {
    process.kill(daemonPid(root), "SIGKILL");
    fs.rmSync(path.join(root.paths.runDir, "zoneadmd.log"));
    assert.match(root.ok("zoneadm", ["list", "-p"]), /:f:/);
    // zlogin starts the daemon (whose reconcile halts the zone again: no state written).
    const r = run(root, "zlogin", ["f", "true"]);
    assert.equal(r.status, 1, r.stderr);
    oneLine(r.stderr, /^zlogin: zone 'f': zone is not running$/);
    assert.match(root.ok("zoneadm", ["runtime"]), /^(runc|crun) /);
    const boot = run(root, "zoneadm", ["-z", "f", "boot"]);
    assert.equal(boot.status, 1, boot.stderr);
    oneLine(boot.stderr, /^zoneadm: zone 'f': /);
  });

  test("with room again, the zone is installed, and boots", async () => {
    for (const f of fills) fs.rmSync(f, { force: true });
    const deadline = Date.now() + 30_000;
    while (stateOf(root, "f") !== "installed" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(stateOf(root, "f"), "installed");
    root.ok("zoneadm", ["-z", "f", "boot"]);
    root.ok("zlogin", ["f", "true"]);
    root.ok("zoneadm", ["-z", "f", "halt"]);
    assert.equal(stateOf(root, "f"), "installed");
  });
});

describe("a zone fills the disk it shares with the repository", { concurrency: false }, () => {
  const root = new ZoneTestRoot("fullz");
  before(() => {
    // The whole root — repository, run state and the zone's tree — on one small file system.
    const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=24m,mode=0755", "tmpfs", root.dir], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    root.ok("zonecfg", ["-z", "g", `create; set zonepath=${path.join(root.dir, "zones/g")}; set brand=minimal`]);
    root.ok("zoneadm", ["-z", "g", "install"]);
    root.ok("zoneadm", ["-z", "g", "boot"]);
  });
  after(() => {
    fs.rmSync(path.join(root.dir, "hostfill"), { force: true });
    root.run("zoneadm", ["-z", "g", "halt"]);
    root.run("zoneadm", ["-z", "g", "uninstall", "-F"]);
    const pid = fs.existsSync(path.join(root.paths.runDir, "zoneadmd.log")) ? daemonPid(root) : 0;
    if (pid) process.kill(pid, "SIGKILL");
    for (const id of root.containers()) spawnSync("runc", ["--root", path.join(root.paths.runDir, "runc"), "delete", "--force", id]);
    for (const m of [path.join(root.dir, "zones/g/root/bin")]) spawnSync("umount", ["-l", m]);
    spawnSync("umount", ["-l", root.dir]);
    root.remove();
  });

  test("halt stops it and uninstall -F removes it, though the disk is full", () => {
    const init = readRun(root.paths, "g")!.pid;
    // The zone's root fills the file system from inside.
    run(root, "zlogin", ["g", "dd if=/dev/zero of=/fill bs=64k 2>/dev/null; true"]);
    const halt = run(root, "zoneadm", ["-z", "g", "halt"]);
    assert.ok(halt.status === 0 || /could not be recorded/.test(halt.stderr), halt.stderr);
    assert.ok(!fs.existsSync(`/proc/${init}`) || /\) Z/.test(fs.readFileSync(`/proc/${init}/stat`, "utf8")), "the zone's init is gone");
    // Whatever the teardown freed, the host fills it again: no room for any state write.
    spawnSync("dd", ["if=/dev/zero", `of=${path.join(root.dir, "hostfill")}`, "bs=4k"], { encoding: "utf8" });
    assert.throws(() => fs.writeFileSync(path.join(root.dir, "probe"), "x".repeat(8192)), /ENOSPC/);
    fs.rmSync(path.join(root.dir, "probe"), { force: true });
    const un = run(root, "zoneadm", ["-z", "g", "uninstall", "-F"]);
    assert.equal(un.status, 0, un.stderr);
    assert.equal(stateOf(root, "g"), "configured");
    assert.ok(!fs.existsSync(path.join(root.dir, "zones/g/root")), "the zone's tree is gone");
  });
});
