/**
 * Boot arguments and hostid on a real zone: bootargs reach the zone's init as its
 * argv (-i picks the init), `zoneadm boot -- args` replaces them for one boot, reboot
 * uses the property again; hostid is what `hostid` prints in the zone, written at
 * each ready without following a link the zone left at /etc/hostid.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { zoneRunDir } from "../../../src/document/store/runstate.js";
import { until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("bootargs");
after(() => root.remove());
const zp = path.join(root.dir, "zones/ba");
const argvFile = path.join(zp, "root/var/log/argv");
let base = 0;

/** Boot (with `extra` after boot), wait for the test init to write its argv, return it. */
async function bootedArgv(extra: string[] = [], verb = "boot"): Promise<string> {
  fs.rmSync(argvFile, { force: true });
  root.ok("zoneadm", ["-z", "ba", verb, ...extra]);
  await until("the init's argv", () => fs.existsSync(argvFile) && fs.readFileSync(argvFile, "utf8").endsWith("\n"));
  return fs.readFileSync(argvFile, "utf8");
}

describe("bootargs and hostid", { concurrency: false }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "ba", `create; set zonepath=${zp}; set brand=minimal`]);
    root.ok("zoneadm", ["-z", "ba", "install"]);
    base = fs.statSync(path.join(zp, "root/etc")).uid;
    // An init that says what it was given, then stays up as the zone's init.
    const init = path.join(zp, "root/root/argv-init");
    fs.writeFileSync(init, '#!/bin/sh\necho "$0 $*" > /var/log/argv\nexec sleep 1000\n', { mode: 0o755 });
    fs.chownSync(init, base, base);
  });
  after(() => {
    root.run("zoneadm", ["-z", "ba", "halt"]);
    root.run("zoneadm", ["-z", "ba", "uninstall", "-F"]);
  });

  test("bootargs: -i picks the init, the other words are its arguments", async () => {
    root.ok("zonecfg", ["-z", "ba", 'set bootargs="-i /root/argv-init one two"']);
    assert.equal(await bootedArgv(), "/root/argv-init one two\n");
  });

  test("zoneadm reboot boots with the bootargs property again", async () => {
    assert.equal(await bootedArgv([], "reboot"), "/root/argv-init one two\n");
    root.ok("zoneadm", ["-z", "ba", "halt"]);
  });

  test("zoneadm boot -- args replace bootargs for that boot", async () => {
    assert.equal(await bootedArgv(["--", "-i", "/root/argv-init", "three"]), "/root/argv-init three\n");
    root.ok("zoneadm", ["-z", "ba", "halt"]);
  });

  test("without -i the words go to the brand's init (busybox init ignores -m verbose)", () => {
    root.ok("zonecfg", ["-z", "ba", 'set bootargs="-m verbose"']);
    root.ok("zoneadm", ["-z", "ba", "boot"]);
    const spec = JSON.parse(fs.readFileSync(path.join(zoneRunDir(root.paths, "ba"), "config.json"), "utf8")) as { process: { args: string[] } };
    assert.deepEqual(spec.process.args, ["/sbin/init", "-m", "verbose"]);
    // busybox init blanks its argv in place (ps shows "init"): the length is what it was given.
    assert.equal(root.ok("zlogin", ["ba", "cat /proc/1/cmdline"]), "init".padEnd("/sbin/init -m verbose ".length, "\0"));
    assert.equal(root.ok("zlogin", ["ba", "echo up"]), "up\n");
    root.ok("zoneadm", ["-z", "ba", "halt"]);
  });

  test("-s boots busybox init single-user: the console shell, no /etc/rc.d services", async () => {
    const script = path.join(zp, "root/etc/rc.d/S10mark");
    fs.writeFileSync(script, '#!/bin/sh\n[ "$1" = start ] && echo started >> /var/log/started\nexit 0\n', { mode: 0o755 });
    fs.chownSync(script, base, base);
    const started = path.join(zp, "root/var/log/started");
    root.ok("zonecfg", ["-z", "ba", "clear bootargs"]);
    root.ok("zoneadm", ["-z", "ba", "boot"]);
    await until("rc.d started", () => fs.existsSync(started));
    root.ok("zoneadm", ["-z", "ba", "halt"]);
    fs.rmSync(started);
    root.ok("zoneadm", ["-z", "ba", "boot", "--", "-s"]);
    await until("the console shell", () => / -\/bin\/sh$/m.test(root.ok("zps", ["-z", "ba"])));
    assert.ok(!fs.existsSync(started), "single-user: no services started");
    root.ok("zoneadm", ["-z", "ba", "halt"]);
    fs.rmSync(script);
  });

  test("a bad -i is refused by zonecfg and by zoneadm boot, one line each", () => {
    const c = root.run("zonecfg", ["-z", "ba", 'set bootargs="-i sbin/init"']);
    assert.notEqual(c.status, 0);
    assert.match(c.stderr, /-i needs an absolute path to the init: "sbin\/init"/);
    const b = root.run("zoneadm", ["-z", "ba", "boot", "--", "-i"]);
    assert.notEqual(b.status, 0);
    assert.match(b.stderr, /-i needs an absolute path to the init: ""$/m);
    assert.equal(new Set(b.stderr.trim().split("\n")).size, 1);
  });

  test("hostid: the zone's gethostid() returns it, rewritten at each ready", () => {
    root.ok("zonecfg", ["-z", "ba", "clear bootargs; set hostid=0x1234abcd"]);
    root.ok("zoneadm", ["-z", "ba", "boot"]);
    assert.equal(root.ok("zlogin", ["ba", "hostid"]), "1234abcd\n");
    root.ok("zoneadm", ["-z", "ba", "halt"]);
    root.ok("zonecfg", ["-z", "ba", "set hostid=fe0042"]);
    root.ok("zoneadm", ["-z", "ba", "boot"]);
    assert.equal(root.ok("zlogin", ["ba", "hostid"]), "00fe0042\n");
    root.ok("zoneadm", ["-z", "ba", "halt"]);
  });

  test("hostid: a link the zone left at /etc/hostid is replaced, not followed", () => {
    const victim = path.join(root.dir, "victim");
    fs.writeFileSync(victim, "host file\n");
    const hostid = path.join(zp, "root/etc/hostid");
    fs.rmSync(hostid, { force: true });
    fs.symlinkSync(victim, hostid);
    fs.lchownSync(hostid, base, base);
    root.ok("zoneadm", ["-z", "ba", "boot"]);
    assert.equal(fs.readFileSync(victim, "utf8"), "host file\n");
    assert.ok(fs.lstatSync(hostid).isFile());
    assert.equal(root.ok("zlogin", ["ba", "hostid"]), "00fe0042\n");
    root.ok("zoneadm", ["-z", "ba", "halt"]);
  });
});
