/**
 * `add fs` and `add dataset` take effect on a real zone: a read-only lofs stays
 * read-only whatever the zone's root tries (also with sys_admin), plain and id-mapped
 * lofs show host root's files as nobody and as the zone's root, a tmpfs is the zone
 * root's and full at its size, an ext4 image is loop-mounted (fsck'd from raw), survives
 * a reboot and its loop device is gone after halt, and a dataset is the zone's at its
 * host path. Host trees live in this test's root, so cleanup finds anything left.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { mountsBelow } from "../../../src/platform/idmap.js";
import { Repository } from "../../../src/document/store/repository.js";
import { SlotRegistry } from "../../../src/platform/slots.js";
import { until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("fs");
const zp = (n: string): string => path.join(root.dir, "zones", n);
const host = path.join(root.dir, "host");
const share = path.join(host, "share");
const ds = path.join(host, "ds");
const img = path.join(host, "disk.img");
const base = (n: string): number => new SlotRegistry().find(new Repository(root.paths).find(n)!.uuid)!.slot * 65536;

/** Loop devices backed by the test's image. */
function loops(): string[] {
  const out: string[] = [];
  for (const n of fs.readdirSync("/sys/block").filter((n) => n.startsWith("loop"))) {
    try {
      if (fs.readFileSync(`/sys/block/${n}/loop/backing_file`, "utf8").trim() === img) out.push(n);
    } catch {
      // not attached
    }
  }
  return out;
}

after(() => {
  try {
    for (const z of ["fa", "fb", "fc"]) root.run("zoneadm", ["-z", z, "halt"]);
  } finally {
    root.remove();
    for (const l of loops()) spawnSync("losetup", ["-d", `/dev/${l}`]);
  }
});

/** Run `script` in zone `z` as its root; stdout+stderr and the status. */
function inZone(z: string, script: string): { status: number; out: string } {
  const r = root.run("zlogin", [z, script]);
  return { status: r.status, out: r.stdout + r.stderr };
}

const FS = (): string =>
  [
    `add fs; set dir=/data; set special=${share}; set type=lofs; add options [ro,nosuid,noexec]; end`,
    `add fs; set dir=/idm; set special=${share}; set type=lofs; add options idmap; end`,
    `add fs; set dir=/scratch; set special=swap; set type=tmpfs; add options [size=4m,mode=1777]; end`,
    `add fs; set dir=/mnt/img; set special=${img}; set raw=${img}; set type=ext4; add options idmap; end`,
    `add dataset; set name=${ds}; end`,
  ].join("; ");

describe("fs and dataset resources on a real zone", { concurrency: false }, () => {
  before(() => {
    fs.mkdirSync(share, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(share, "f"), "host file\n");
    fs.writeFileSync(path.join(share, "run.sh"), "#!/bin/sh\necho ran\n", { mode: 0o755 });
    fs.mkdirSync(ds, { mode: 0o755 });
    fs.writeFileSync(path.join(ds, "x"), "dataset file\n");
    fs.writeFileSync(img, "");
    fs.truncateSync(img, 32 << 20);
    assert.equal(spawnSync("mkfs.ext4", ["-q", "-F", img]).status, 0);
    root.ok("zonecfg", ["-z", "fa", `create; set zonepath=${zp("fa")}; set brand=minimal; set limitpriv=default,sys_admin; ${FS()}`]);
    root.ok("zoneadm", ["-z", "fa", "verify"]);
    root.ok("zoneadm", ["-z", "fa", "install"]);
    root.ok("zoneadm", ["-z", "fa", "boot"]);
  });

  test("a read-only lofs stays read-only for a zone root with sys_admin", () => {
    const attacks = [
      "touch /data/w",
      "touch /proc/self/root/data/w",
      "mount -o remount,rw /data && touch /data/w",
      "mount -o remount,bind,rw /data && touch /data/w",
      "mkdir -p /b && mount --bind /data /b && touch /b/w",
      "mkdir -p /b2 && mount -o bind,rw /data /b2 && touch /b2/w",
      "umount /data; touch /data/w && test -e /data/f",
    ];
    for (const a of attacks) {
      const r = inZone("fa", a);
      assert.notEqual(r.status, 0, `${a} must fail: ${r.out}`);
    }
    assert.deepEqual(fs.readdirSync(share).sort(), ["f", "run.sh"], "nothing was written to the host tree");
    assert.match(inZone("fa", "/data/run.sh; echo rc=$?").out, /Permission denied[\s\S]*rc=126|rc=126/, "noexec holds");
    assert.match(inZone("fa", "grep ' /data ' /proc/self/mountinfo").out, /ro,nosuid,nodev,noexec/);
  });

  test("plain lofs shows host root's files as nobody; idmap as the zone's root, and writes land as host root", () => {
    assert.match(inZone("fa", "stat -c '%u:%g' /data/f").out, /^65534:65534$/m);
    assert.match(inZone("fa", "stat -c '%u:%g' /idm/f").out, /^0:0$/m);
    assert.equal(inZone("fa", "echo z > /idm/fromzone").status, 0);
    assert.equal(fs.statSync(path.join(share, "fromzone")).uid, 0);
    fs.rmSync(path.join(share, "fromzone"));
  });

  test("a tmpfs is the zone root's, with its mode, and full at its size", () => {
    assert.match(inZone("fa", "stat -c '%u:%g %a' /scratch").out, /^0:0 1777$/m);
    const r = inZone("fa", "dd if=/dev/zero of=/scratch/big bs=1M count=8");
    assert.notEqual(r.status, 0);
    assert.match(r.out, /No space left on device/);
    assert.notEqual(inZone("fa", "mount -o remount,size=64m /scratch").status, 0, "the zone's root cannot raise the size");
  });

  test("an ext4 image is loop-mounted id-mapped, survives a reboot, and its loop device goes at halt", async () => {
    assert.equal(loops().length, 1);
    root.ok("zoneadm", ["-z", "fa", "verify"]); // its own loop device, mounted in its own root, is no conflict
    assert.match(inZone("fa", "stat -c '%u' /mnt/img").out, /^0$/m);
    assert.equal(inZone("fa", "echo kept > /mnt/img/k").status, 0);
    root.ok("zoneadm", ["-z", "fa", "reboot"]);
    assert.match(inZone("fa", "cat /mnt/img/k").out, /kept/);
    assert.equal(inZone("fa", "test -d /data && test -f /data/f && test -d /scratch").status, 0, "every fs is there again after a reboot");
    root.ok("zoneadm", ["-z", "fa", "halt"]);
    assert.deepEqual(mountsBelow(zp("fa")), []);
    await until("the loop device detached", () => loops().length === 0, 5000);
    // Made at ready, before init is started: a ready zone has them all.
    root.ok("zoneadm", ["-z", "fa", "ready"]);
    const zr = path.join(zp("fa"), "root");
    for (const d of ["data", "idm", "scratch", "mnt/img", ds.slice(1)]) assert.ok(mountsBelow(zr).includes(path.join(zr, d)), `${d} is mounted at ready`);
    root.ok("zoneadm", ["-z", "fa", "halt"]);
    root.ok("zoneadm", ["-z", "fa", "boot"]);
  });

  test("a dataset appears at its path, the zone root's, writable; its files are the slot's on the host", () => {
    assert.match(inZone("fa", `stat -c '%u:%g' ${ds} ${ds}/x`).out, /^0:0\n0:0$/m);
    assert.equal(inZone("fa", `echo w > ${ds}/w`).status, 0);
    assert.equal(fs.statSync(path.join(ds, "w")).uid, base("fa"));
    assert.equal(fs.statSync(path.join(ds, "x")).uid, base("fa"));
  });

  test("a second zone cannot be given the same or a nested dataset; verify names the other zone", () => {
    for (const name of [ds, path.join(ds, "sub")]) {
      fs.mkdirSync(name, { recursive: true });
      root.ok("zonecfg", ["-z", "fb", `create; set zonepath=${zp("fb")}; set brand=minimal; add dataset; set name=${name}; end`]);
      const r = root.run("zoneadm", ["-z", "fb", "verify"]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`dataset "${name}" is already delegated to zone 'fa'`));
      root.ok("zonecfg", ["-z", "fb", "delete -F"]);
    }
  });

  test("a block fs that cannot be mounted, or whose raw fsck fails: boot refused with one line, no loop device left", () => {
    const zeros = path.join(host, "zeros.img");
    fs.writeFileSync(zeros, Buffer.alloc(1 << 20));
    const cases: Array<[string, RegExp]> = [
      [`add fs; set dir=/x; set special=${img}; set type=xfs; end`, /zone 'fc': fs "\/x": cannot create xfs: /],
      [`add fs; set dir=/x; set special=${img}; set raw=${zeros}; set type=ext4; end`, /zone 'fc': fs "\/x": fsck -p ".*zeros.img" exited [0-9]+: /],
    ];
    root.ok("zoneadm", ["-z", "fa", "halt"]);
    try {
      for (const [body, message] of cases) {
        root.ok("zonecfg", ["-z", "fc", `create; set zonepath=${zp("fc")}; set brand=minimal; ${body}`]);
        root.ok("zoneadm", ["-z", "fc", "install"]);
        const r = root.run("zoneadm", ["-z", "fc", "boot"]);
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.split("\n").filter((l) => l && !/warning: runc/.test(l)).length, 1, JSON.stringify(r.stderr));
        assert.deepEqual(loops(), [], "no loop device left");
        assert.deepEqual(mountsBelow(zp("fc")), []);
        root.ok("zoneadm", ["-z", "fc", "uninstall", "-F"]);
        root.ok("zonecfg", ["-z", "fc", "delete -F"]);
      }
    } finally {
      root.ok("zoneadm", ["-z", "fa", "boot"]);
    }
  });
});
