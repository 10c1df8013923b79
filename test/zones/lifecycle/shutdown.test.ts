/**
 * Clean stops: zoneadm shutdown [-r] asks the zone's init to stop in its own way, and
 * reboot, halt and poweroff run by the zone's root inside end only that zone, with the
 * daemon following (reboot comes back, the others go to installed).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { Repository } from "../../../src/document/store/repository.js";
import { readRun } from "../../../src/document/store/runstate.js";
import { until as waitUntil } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("stop");
after(() => root.remove());
const zp = path.join(root.dir, "zones/sz");
const state = (): string => new Repository(root.paths).find("sz")?.state ?? "absent";
const initPid = (): number | undefined => readRun(root.paths, "sz")?.pid;

/** Shutdowns wait for inits: up to 15 s. */
const until = (what: string, cond: () => boolean, ms = 15_000): Promise<void> => waitUntil(what, cond, ms);

describe("shutdown and reboot", { concurrency: false }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "sz", `create; set zonepath=${zp}; set brand=minimal`]);
    root.ok("zoneadm", ["-z", "sz", "install"]);
    // A service whose stop leaves a mark: proof that shutdown ran the zone's own stop scripts.
    fs.writeFileSync(path.join(zp, "root/etc/rc.d/S10mark"), '#!/bin/sh\n[ "$1" = stop ] && echo stopped >> /var/log/mark\nexit 0\n', { mode: 0o755 });
    const base = fs.statSync(path.join(zp, "root/etc")).uid;
    fs.chownSync(path.join(zp, "root/etc/rc.d/S10mark"), base, base);
    root.ok("zoneadm", ["-z", "sz", "boot"]);
  });
  after(() => {
    root.run("zoneadm", ["-z", "sz", "halt"]);
    root.run("zoneadm", ["-z", "sz", "uninstall", "-F"]);
  });

  test("zoneadm shutdown runs the zone's stop scripts, then the zone is installed", () => {
    root.ok("zoneadm", ["-z", "sz", "shutdown"]);
    assert.equal(state(), "installed");
    assert.equal(fs.readFileSync(path.join(zp, "root/var/log/mark"), "utf8"), "stopped\n");
    assert.match(root.run("zoneadm", ["-z", "sz", "shutdown"]).stderr, /must be running before shutdown/);
  });

  test("zoneadm shutdown -r brings the zone back with a new init", () => {
    root.ok("zoneadm", ["-z", "sz", "boot"]);
    const before = initPid();
    root.ok("zoneadm", ["-z", "sz", "shutdown", "-r"]);
    assert.equal(state(), "running");
    assert.notEqual(initPid(), before);
    assert.equal(fs.readFileSync(path.join(zp, "root/var/log/mark"), "utf8"), "stopped\nstopped\n");
  });

  test("reboot by the zone's root restarts only that zone", async () => {
    const before = initPid()!;
    root.run("zlogin", ["sz", "reboot"]);
    await until("a new init", () => state() === "running" && initPid() !== undefined && initPid() !== before);
    assert.equal(root.ok("zlogin", ["sz", "echo back"]), "back\n");
    assert.match(fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8"), /zone 'sz': halting: its init rebooted the zone/);
  });

  test("poweroff and halt by the zone's root stop the zone", async () => {
    root.run("zlogin", ["sz", "poweroff"]);
    await until("installed after poweroff", () => state() === "installed");
    root.ok("zoneadm", ["-z", "sz", "boot"]);
    root.run("zlogin", ["sz", "halt"]);
    await until("installed after halt", () => state() === "installed");
    assert.deepEqual(root.containers(), []);
  });
});
