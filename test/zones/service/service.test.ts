/**
 * The zones service (svc-zones, illumos svc:/system/zones): start boots exactly the
 * installed zones whose autoboot is true, a zone that cannot boot failing alone with
 * one line; stop shuts every running zone down cleanly and at once (the zones' own
 * stop scripts run), halting within the bound a zone whose init will not stop.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { Repository } from "../../../src/document/store/repository.js";
import { readRun } from "../../../src/document/store/runstate.js";
import { BIN, until, type Result } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("svc");
after(() => root.remove());
const zp = (n: string): string => path.join(root.dir, "zones", n);
const state = (n: string): string => new Repository(root.paths).find(n)?.state ?? "absent";
const ZONES = ["a", "b", "c"];

/** svc-zones with a bound above its own (a stubborn zone takes 30 s), timed. */
function svc(verb: string): Result & { ms: number } {
  const t0 = Date.now();
  const r = spawnSync(path.join(BIN, "svc-zones"), [verb], { env: root.env, encoding: "utf8", timeout: 150_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

const mark = (n: string): string => {
  try {
    return fs.readFileSync(path.join(zp(n), "root/var/log/mark"), "utf8");
  } catch {
    return "";
  }
};

describe("svc-zones start and stop", { concurrency: false }, () => {
  before(() => {
    for (const n of ZONES) {
      root.ok("zonecfg", ["-z", n, `create; set zonepath=${zp(n)}; set brand=minimal; set autoboot=${n !== "c"}`]);
      root.ok("zoneadm", ["-z", n, "install"]);
      // A service whose stop leaves a mark: proof that the zone was shut down, not halted.
      const script = path.join(zp(n), "root/etc/rc.d/S10mark");
      fs.writeFileSync(script, '#!/bin/sh\n[ "$1" = stop ] && echo stopped >> /var/log/mark\nexit 0\n', { mode: 0o755 });
      const base = fs.statSync(path.join(zp(n), "root/etc")).uid;
      fs.chownSync(script, base, base);
    }
    // Configured only: autoboot cannot boot it, and must not stop the others.
    root.ok("zonecfg", ["-z", "d", `create; set zonepath=${zp("d")}; set brand=minimal; set autoboot=true`]);
  });
  after(() => {
    for (const n of ZONES) {
      root.run("zoneadm", ["-z", n, "halt"]);
      root.run("zoneadm", ["-z", n, "uninstall", "-F"]);
    }
  });

  test("start boots exactly the autoboot zones; the one that cannot boot fails alone, in one line", () => {
    const r = svc("start");
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(r.stderr.trim().split("\n"), ["svc-zones: zone 'd': autoboot is true but the zone is configured, not installed"]);
    assert.match(r.stdout, /^svc-zones: booting zones: a b$/m);
    assert.deepEqual(ZONES.map(state), ["running", "running", "installed"]);
    assert.equal(root.ok("zlogin", ["a", "echo up"]), "up\n");
  });

  test("start again boots nothing: running zones are left as they are", () => {
    root.ok("zonecfg", ["-z", "d", "delete -F"]);
    const pids = ["a", "b"].map((n) => readRun(root.paths, n)!.pid);
    const r = svc("start");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout + r.stderr, "");
    assert.deepEqual(["a", "b"].map((n) => readRun(root.paths, n)!.pid), pids);
  });

  test("start after a crash boots the autoboot zones the index still calls running", async () => {
    // A crash: zoneadmd and a's init die without a word, the index still says running.
    const init = readRun(root.paths, "a")!.pid;
    root.killDaemon();
    process.kill(init, "SIGKILL");
    await until("a's init gone", () => !fs.existsSync(`/proc/${init}`) || fs.readFileSync(`/proc/${init}/stat`, "utf8").includes(") Z"));
    assert.equal(state("a"), "running");
    const b = readRun(root.paths, "b")!.pid;
    const r = svc("start");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^svc-zones: booting zones: a$/m);
    assert.equal(state("a"), "running");
    assert.notEqual(readRun(root.paths, "a")!.pid, init);
    assert.equal(readRun(root.paths, "b")!.pid, b, "b was left running as it was");
  });

  test("stop shuts every running zone down cleanly, in parallel", () => {
    root.ok("zoneadm", ["-z", "c", "boot"]);
    const r = svc("stop");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^svc-zones: shutting down zones: a b c$/m);
    assert.deepEqual(ZONES.map(state), ["installed", "installed", "installed"]);
    assert.deepEqual(ZONES.map(mark), ["stopped\n", "stopped\n", "stopped\n"], "each zone's stop scripts ran");
    assert.ok(r.ms < 20_000, `three clean shutdowns took ${r.ms} ms`);
    assert.deepEqual(root.containers(), []);
  });

  test("stop halts a zone whose init ignores the stop, within the bound, and the others still stop cleanly", () => {
    for (const n of ZONES) fs.rmSync(path.join(zp(n), "root/var/log/mark"), { force: true });
    root.ok("zoneadm", ["-z", "a", "boot"]);
    root.ok("zoneadm", ["-z", "b", "boot"]);
    // sleep as a namespace's init has no handler: the stop signal is never delivered.
    root.ok("zoneadm", ["-z", "c", "boot", "--", "-i", "/bin/sleep", "1000"]);
    const r = svc("stop");
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(ZONES.map(state), ["installed", "installed", "installed"]);
    assert.deepEqual(ZONES.map(mark), ["stopped\n", "stopped\n", ""]);
    assert.ok(r.ms >= 30_000 && r.ms < 60_000, `stop took ${r.ms} ms; the bound is 30 s for the init, then the halt`);
    assert.match(fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8"), /zone 'c': init still running after 30000 ms; halting/);
    assert.deepEqual(root.containers(), []);
  });

  test("stop halts a ready zone", () => {
    root.ok("zoneadm", ["-z", "c", "ready"]);
    const r = svc("stop");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^svc-zones: shutting down zones: c$/m);
    assert.equal(state("c"), "installed");
    assert.deepEqual(root.containers(), []);
  });

  test("stop with nothing running says nothing and succeeds", () => {
    const r = svc("stop");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout + r.stderr, "");
  });
});
