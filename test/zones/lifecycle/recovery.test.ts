/**
 * Recovery of real zones: run state zoneadmd cannot read is rebuilt from the kernel
 * after a kill -9, a zone whose init died with the daemon is not listed as running, a
 * console lost with its holder is logged, and a zone that reboots itself in a loop is
 * halted at the limit.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { after, test } from "node:test";
import { mountsBelow } from "../../../src/platform/idmap.js";
import { BIN } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("recovery");
after(() => root.remove());

/** Console holders of this root: processes whose environment carries ZONES_CONSOLE_HOLDER naming it. */
function holders(): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`, "utf8");
      if (env.includes("ZONES_CONSOLE_HOLDER") && env.includes(root.dir)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

const stateOf = (z: string): string => root.ok("zoneadm", ["list", "-cp"]).split("\n").find((l) => l.split(":")[1] === z)?.split(":")[2] ?? "";

/** A minimal zone `name`, configured, installed and booted; its zonepath. */
function bootMinimal(name: string): string {
  const zp = path.join(root.dir, "zones", name);
  root.ok("zonecfg", ["-z", name, `create; set zonepath=${zp}; set brand=minimal`]);
  root.ok("zoneadm", ["-z", name, "install"]);
  root.ok("zoneadm", ["-z", name, "boot"]);
  return zp;
}

function killDaemon(): void {
  root.killDaemon();
}

test("corrupt zone.json and kill -9 of zoneadmd: the zone runs on, found again", () => {
  root.ok("zonecfg", ["-z", "c", `create; set zonepath=${path.join(root.dir, "zones", "c")}; set brand=minimal`]);
  root.ok("zoneadm", ["-z", "c", "install"]);
  root.ok("zoneadm", ["-z", "c", "boot"]);
  try {
    const before = JSON.parse(fs.readFileSync(path.join(root.paths.runDir, "zone", "c", "zone.json"), "utf8")) as { pid: number };
    fs.writeFileSync(path.join(root.paths.runDir, "zone", "c", "zone.json"), "{not json");
    killDaemon();
    assert.equal(stateOf("c"), "running");
    assert.match(root.ok("zoneadm", ["list", "-p"]), /:c:running:/);
    root.ok("zlogin", ["c", "true"]);
    const after = JSON.parse(fs.readFileSync(path.join(root.paths.runDir, "zone", "c", "zone.json"), "utf8")) as { pid: number };
    assert.equal(after.pid, before.pid, "the init pid is unchanged");
  } finally {
    root.run("zoneadm", ["-z", "c", "halt"]);
  }
  assert.equal(stateOf("c"), "installed");
  assert.deepEqual(holders(), [], "no console holder left");
  assert.deepEqual(mountsBelow(path.join(root.dir, "zones", "c")), []);
});

test("a zone whose init died while zoneadmd was down is listed as installed, not running", () => {
  const zp = bootMinimal("g");
  try {
    const { pid } = JSON.parse(fs.readFileSync(path.join(root.paths.runDir, "zone", "g", "zone.json"), "utf8")) as { pid: number };
    killDaemon();
    process.kill(pid, "SIGKILL");
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + 5000; Date.now() < end && fs.existsSync(`/proc/${pid}/ns`); ) Atomics.wait(pause, 0, 0, 5);
    // The index still says running; list must not repeat it: root's list starts zoneadmd,
    // which reconciles (the init is gone: the zone is halted) before it answers.
    assert.match(root.ok("zoneadm", ["-z", "g", "list", "-p"]), /^-:g:installed:/m);
    assert.equal(stateOf("g"), "installed");
  } finally {
    if (stateOf("g") !== "installed") root.run("zoneadm", ["-z", "g", "halt"]);
  }
  assert.deepEqual(holders(), [], "no console holder left");
  assert.deepEqual(mountsBelow(zp), []);
});

test("root's zoneadm list still lists, with a warning, when zoneadmd cannot be started", () => {
  const zp = bootMinimal("u");
  killDaemon();
  // Another process holds the daemon's lock: each zoneadmd started exits at once.
  const lock = path.join(root.paths.runDir, "zoneadmd.lock");
  // In a process group of its own, so that flock and its sleep both go at the end.
  const holder = spawn("flock", ["-x", "-o", lock, "sleep", "60"], { stdio: "ignore", detached: true });
  try {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + 5000; Date.now() < end && spawnSync("flock", ["-xn", lock, "true"]).status === 0; ) Atomics.wait(pause, 0, 0, 10);
    const r = spawnSync(path.join(BIN, "zoneadm"), ["list", "-p"], { env: { ...root.env, ZONES_CLIENT_TIMEOUT_MS: "800" }, encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /:u:running:/);
    assert.match(r.stderr, /^zoneadm: warning: cannot reach zoneadmd .*: the states of running zones are as zoneadmd last recorded them$/m);
  } finally {
    process.kill(-holder.pid!, "SIGKILL");
    root.run("zoneadm", ["-z", "u", "halt"]);
  }
  assert.equal(stateOf("u"), "installed");
  assert.deepEqual(mountsBelow(zp), []);
});

test("a console whose holder died with zoneadmd is logged as lost; the next boot gives the zone a console again", () => {
  const zp = bootMinimal("h");
  const runFile = path.join(root.paths.runDir, "zone", "h", "zone.json");
  const holderOf = (): number => (JSON.parse(fs.readFileSync(runFile, "utf8")) as { consoleHolder: number }).consoleHolder;
  try {
    killDaemon();
    const holder = holderOf();
    process.kill(holder, "SIGKILL");
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + 5000; Date.now() < end && fs.existsSync(`/proc/${holder}/environ`); ) Atomics.wait(pause, 0, 0, 5);
    root.ok("zoneadm", ["list"]); // starts zoneadmd: the zone is running
    const log = fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8");
    assert.match(log, new RegExp(`zone 'h': console not recovered: its holder ${holder} is gone`));
    root.ok("zoneadm", ["-z", "h", "reboot"]);
    assert.notEqual(holderOf(), holder);
    assert.ok(fs.existsSync(`/proc/${holderOf()}/environ`), "the reboot's holder runs");
  } finally {
    root.run("zoneadm", ["-z", "h", "halt"]);
  }
  assert.deepEqual(holders(), [], "no console holder left");
  assert.deepEqual(mountsBelow(zp), []);
});

test("a zone whose rc script reboots it is halted after 10 reboots in 60 s", { timeout: 120_000 }, async () => {
  const zp = path.join(root.dir, "zones", "r");
  root.ok("zonecfg", ["-z", "r", `create; set zonepath=${zp}; set brand=minimal`]);
  root.ok("zoneadm", ["-z", "r", "install"]);
  fs.writeFileSync(path.join(zp, "root", "etc", "rc.d", "S99loop"), "#!/bin/sh\n[ \"$1\" = start ] && reboot -f\nexit 0\n", { mode: 0o755 });
  try {
    root.ok("zoneadm", ["-z", "r", "boot"]);
    const end = Date.now() + 90_000;
    const log = path.join(root.paths.runDir, "zoneadmd.log");
    while (Date.now() < end && !fs.readFileSync(log, "utf8").includes("zone 'r': rebooted 10 times in 60 s")) await new Promise((r) => setTimeout(r, 200));
    assert.match(fs.readFileSync(log, "utf8"), /zone 'r': rebooted 10 times in 60 s/);
    assert.equal(stateOf("r"), "installed");
    // zoneadm list says why, until the zone boots again.
    assert.match(root.run("zoneadm", ["list", "-cv"]).stderr, /^zoneadm: warning: zone 'r': rebooted 10 times in 60 s; halted \(zoneadm boot to try again\)$/m);
  } finally {
    if (stateOf("r") !== "installed") root.run("zoneadm", ["-z", "r", "halt"]);
  }
  assert.deepEqual(holders(), []);
  assert.deepEqual(mountsBelow(zp), []);
});
