/**
 * The zones service as shipped: systemd/zones.service passes systemd-analyze verify
 * (where systemd-analyze is installed), runs svc-zones start and stop, and
 * scripts/install-service.sh installs it, saying what it did, without failing on a
 * host whose PID 1 is not systemd, and not at all for a private ZONES_ROOT.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { BIN, TOP } from "../../support/helpers.js";

const UNIT = path.join(TOP, "systemd/zones.service");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "zones-unit-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
const noAnalyze = analyze.error ? "systemd-analyze is not installed (Debian: systemd)" : false;

describe("systemd/zones.service", () => {
  test("starts and stops through svc-zones, after the network, for multi-user.target", () => {
    const text = fs.readFileSync(UNIT, "utf8");
    assert.match(text, /^ExecStart=-\/usr\/local\/bin\/svc-zones start$/m);
    assert.match(text, /^ExecStop=\/usr\/local\/bin\/svc-zones stop$/m);
    assert.match(text, /^Type=oneshot$/m);
    assert.match(text, /^RemainAfterExit=yes$/m);
    assert.match(text, /^WantedBy=multi-user.target$/m);
    assert.match(text, /^After=.*network-online.target/m);
  });

  test("systemd-analyze verify finds no problem", { skip: noAnalyze }, () => {
    // The unit names the installed command; here the checkout's bin/svc-zones stands in.
    const unit = path.join(tmp, "zones.service");
    fs.writeFileSync(unit, fs.readFileSync(UNIT, "utf8").replaceAll("/usr/local/bin/svc-zones", path.join(BIN, "svc-zones")));
    const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.split("\n").filter((l) => l.includes("zones.service")).join("\n"), "", "no warning about the unit");
    // The check can fail: a unit naming a command that does not exist is refused.
    fs.writeFileSync(unit, fs.readFileSync(UNIT, "utf8").replaceAll("/usr/local/bin/svc-zones", path.join(tmp, "missing")));
    assert.notEqual(spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" }).status, 0);
  });

  test("install-service.sh installs the unit and says whether it enabled it", () => {
    const dir = path.join(tmp, "units");
    const env: NodeJS.ProcessEnv = { ...process.env, UNIT_DIR: dir };
    delete env.ZONES_ROOT;
    const r = spawnSync("bash", [path.join(TOP, "scripts/install-service.sh")], { env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(dir, "zones.service"), "utf8"), fs.readFileSync(UNIT, "utf8"));
    assert.match(r.stdout, /zones service installed as .*zones.service, not enabled/);
  });

  test("install-service.sh installs nothing for a private ZONES_ROOT", () => {
    const dir = path.join(tmp, "private");
    const r = spawnSync("bash", [path.join(TOP, "scripts/install-service.sh")], { env: { ...process.env, UNIT_DIR: dir, ZONES_ROOT: tmp }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!fs.existsSync(dir));
    assert.match(r.stdout, /ZONES_ROOT is set .* not installed/);
  });

  test("svc-zones refuses anything but start or stop", () => {
    const r = spawnSync(path.join(BIN, "svc-zones"), ["restart"], { env: { ...process.env, ZONES_ROOT: tmp }, encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "svc-zones: usage: svc-zones start | stop\n");
  });
});
