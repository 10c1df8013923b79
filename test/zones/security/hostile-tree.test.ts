/**
 * A zone's root tampers with its own tree, and the global zone (zoneadmd, host root)
 * must never act outside it: /etc/zonename and /etc made links into the host, mount
 * points replaced, moved or renamed with newlines and non-UTF-8 bytes, links planted
 * before uninstall, a FIFO where /etc/passwd was. Host victims live in this test's
 * root, so the cleanup finds whatever a broken platform would have mounted on them.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { mountsBelow } from "../../../src/platform/idmap.js";
import { Repository } from "../../../src/document/store/repository.js";
import { SlotRegistry } from "../../../src/platform/slots.js";
import { unmountZoneRoot } from "../../../src/platform/rootremoval.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("hostile");
const zp = (n: string): string => path.join(root.dir, "zones", n);
const zr = (n: string): string => path.join(zp(n), "root");
const host = path.join(root.dir, "host");
after(() => {
  try {
    // Mounts with names mountinfo must escape, in case the platform left them.
    for (const n of ["hm", "hs"]) if (fs.existsSync(zr(n))) unmountZoneRoot(zr(n));
  } finally {
    root.remove();
  }
});
const repo = (): Repository => new Repository(root.paths);
const state = (n: string): string => repo().find(n)?.state ?? "absent";
const base = (n: string): number => new SlotRegistry().find(repo().find(n)!.uuid)!.slot * 65536;

/** A host directory with one file, and a listing to check it is untouched. */
function victimDir(name: string): string {
  const d = path.join(host, name);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, "keep"), "host data\n");
  return d;
}
const listing = (d: string): string[] => fs.readdirSync(d).sort();

/** Each test starts from a running zone, so that any one of them can run alone. */
function running(zone: string): void {
  if (state(zone) !== "running") root.ok("zoneadm", ["-z", zone, "boot"]);
}

/** A boot that must fail with one line naming the path, leaving nothing mounted. */
function bootRefused(zone: string, message: RegExp): void {
  const r = root.run("zoneadm", ["-z", zone, "boot"]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, message);
  assert.equal(r.stderr.split("\n").length, 2, `one line: ${JSON.stringify(r.stderr)}`);
  assert.deepEqual([...mountsBelow(zp(zone)), ...mountsBelow(host)], [], "no mount under the zonepath nor on a host target");
  assert.equal(state(zone), "installed");
}

describe("a zone's root tampers with its tree", { concurrency: false }, () => {
  before(() => {
    fs.mkdirSync(host, { mode: 0o755 });
    root.ok("zonecfg", ["-z", "hm", `create; set zonepath=${zp("hm")}; set brand=minimal`]);
    root.ok("zonecfg", ["-z", "hs", `create; set zonepath=${zp("hs")}`]);
    root.ok("zoneadm", ["-z", "hm", "install"]);
    root.ok("zoneadm", ["-z", "hs", "install"]);
  });

  test("(a) /etc/zonename made a link to a host file: the reboot writes a fresh file inside the zone", () => {
    running("hm");
    const victim = path.join(host, "victim");
    fs.writeFileSync(victim, "precious\n");
    const absent = path.join(host, "absent");
    for (const target of [victim, absent]) {
      root.ok("zlogin", ["hm", `rm -f /etc/zonename && ln -s ${target} /etc/zonename`]);
      root.ok("zoneadm", ["-z", "hm", "reboot"]);
      assert.equal(fs.readFileSync(victim, "utf8"), "precious\n", "the host file is unchanged");
      assert.ok(!fs.existsSync(absent), "no host file is created");
      const st = fs.lstatSync(path.join(zr("hm"), "etc/zonename"));
      assert.ok(st.isFile(), "the link is replaced by a regular file");
      assert.equal(st.uid, base("hm"));
      assert.equal(root.ok("zlogin", ["hm", "cat /etc/zonename"]), "hm\n");
    }
    assert.equal(fs.readdirSync(path.join(zr("hm"), "etc")).filter((f) => f.includes("zonefs")).length, 0, "no temporary file left");
  });

  test("(b, c) minimal: /bin a link to a host directory, a regular file, missing: boot refuses, naming it", () => {
    const hostBin = victimDir("bin");
    running("hm");
    root.ok("zoneadm", ["-z", "hm", "halt"]);
    // A running zone's /bin is a busy mount point; its root owns the tree on disk and
    // can leave it like this (planted here while halted, owned by the zone's root).
    const bin = path.join(zr("hm"), "bin");
    fs.renameSync(bin, `${bin}.zone`);
    fs.symlinkSync(hostBin, bin);
    fs.lchownSync(bin, base("hm"), base("hm"));
    bootRefused("hm", /^zoneadm: zone 'hm': mount point "\/bin" is a symbolic link in the zone; refusing to follow it$/m);
    assert.deepEqual(listing(hostBin), ["keep"]);
    fs.unlinkSync(bin);
    fs.writeFileSync(bin, "");
    bootRefused("hm", /^zoneadm: zone 'hm': mount point "\/bin" is not a directory in the zone$/m);
    fs.unlinkSync(bin);
    bootRefused("hm", /^zoneadm: zone 'hm': mount point "\/bin" does not exist in the zone$/m);
    fs.renameSync(`${bin}.zone`, bin);
    root.ok("zoneadm", ["-z", "hm", "boot"]);
    assert.equal(root.ok("zlogin", ["hm", "zonename"]), "hm\n");
  });

  test("(b) sparse: /etc replaced by a link to a host directory: boot refuses; fixed, it boots", () => {
    const hostEtc = victimDir("etc");
    for (const d of ["alternatives", "ssl"]) fs.mkdirSync(path.join(hostEtc, d));
    running("hs");
    root.ok("zlogin", ["hs", `mv /etc /etc.real && ln -s ${hostEtc} /etc`]);
    root.ok("zoneadm", ["-z", "hs", "halt"]);
    assert.deepEqual(mountsBelow(zp("hs")), []);
    bootRefused("hs", /^zoneadm: zone 'hs': mount point "\/etc\/alternatives": "\/etc" is a symbolic link in the zone; refusing to follow it$/m);
    assert.deepEqual(listing(hostEtc), ["alternatives", "keep", "ssl"], "no zonename or other file written on the host");
    assert.deepEqual(listing(path.join(hostEtc, "ssl")), []);
    // The global zone's administrator repairs the tree; the zone boots again.
    fs.unlinkSync(path.join(zr("hs"), "etc"));
    fs.renameSync(path.join(zr("hs"), "etc.real"), path.join(zr("hs"), "etc"));
    root.ok("zoneadm", ["-z", "hs", "boot"]);
    assert.equal(root.ok("zlogin", ["hs", "cat /etc/zonename"]), "hs\n");
  });

  test("(d, c) sparse: the zone renames /etc, holding shared mounts, to a name with a newline: halt removes every mount", () => {
    running("hs");
    // Backslash, tab, a byte that is not UTF-8, and a newline: mountinfo escapes them.
    root.ok("zlogin", ["hs", "d=$(printf '/etc.\\134\\011\\377x\\ny') && mv /etc \"$d\" && mkdir /etc && touch /etc/ssl"]);
    assert.equal(fs.readdirSync(zr("hs"), { encoding: "buffer" }).filter((n) => n.includes("\n")).length, 1, "the directory holding the shared mounts is renamed");
    root.ok("zoneadm", ["-z", "hs", "halt"]);
    assert.deepEqual([...mountsBelow(zp("hs")), ...mountsBelow(host)], [], "no mount under the zonepath remains");
    bootRefused("hs", /^zoneadm: zone 'hs': mount point "\/etc\/alternatives" does not exist in the zone$/m);
    fs.mkdirSync(path.join(zr("hs"), "etc/alternatives"));
    bootRefused("hs", /^zoneadm: zone 'hs': mount point "\/etc\/ssl" is not a directory in the zone$/m);
    root.ok("zoneadm", ["-z", "hs", "uninstall", "-F"]);
    assert.equal(state("hs"), "configured");
    assert.ok(!fs.existsSync(zp("hs")));
  });

  test("(e) uninstall with links to a host directory planted in the tree, and a FIFO for /etc/passwd", () => {
    // Links point only at this test's own host directories: a removal that wrongly
    // followed one must not be able to reach anything else of the host.
    const victim = victimDir("data");
    running("hm");
    root.ok("zlogin", ["hm", `ln -s ${victim} /evil && mkdir -p /d/e && ln -s ${victim} /d/e/sub && ln -s ${victim}/keep /d/f && ln -s ${host} /d/up`]);
    root.ok("zlogin", ["hm", "rm /etc/passwd && mkfifo /etc/passwd"]);
    // Readers of the zone's account file refuse the FIFO at once instead of blocking on it.
    const login = root.run("zlogin", ["hm", "true"]);
    assert.equal(login.status, 1);
    assert.match(login.stderr, /^zlogin: zone 'hm': "\/etc\/passwd" in the zone is not a regular file$/m);
    assert.equal(root.run("zipcs", ["-z", "hm"]).status, 0);
    root.ok("zoneadm", ["-z", "hm", "halt"]);
    // A mount left in the tree is never deleted through.
    const leftover = path.join(zr("hm"), "mnt\nx");
    fs.mkdirSync(leftover);
    assert.equal(spawnSync("mount", ["--bind", victim, leftover]).status, 0);
    try {
      const r = root.run("zoneadm", ["-z", "hm", "uninstall", "-F"]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^zoneadm: zone 'hm': ".*\/mnt\\nx" is still mounted; halt the zone first\n$/, "one line, the name escaped");
    } finally {
      unmountZoneRoot(zr("hm"));
    }
    root.ok("zoneadm", ["-z", "hm", "uninstall", "-F"]);
    assert.equal(state("hm"), "configured");
    assert.ok(!fs.existsSync(zp("hm")));
    assert.deepEqual(listing(victim), ["keep"], "the host directory and its file survive");
    assert.equal(fs.readFileSync(path.join(victim, "keep"), "utf8"), "host data\n");
  });
});
