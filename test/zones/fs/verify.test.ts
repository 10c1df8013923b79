/**
 * What zonecfg (commit, verify) and zoneadm verify refuse of fs and dataset resources,
 * each with one line naming it: system directories of the zone, options a type cannot
 * honour, a special that is missing or of the wrong kind, a host disk already mounted,
 * an image attached to a loop device mounted elsewhere, a dir the brand owns, datasets
 * in the host's system directories or nested in one another.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("fsverify");
const host = path.join(root.dir, "host");
const img = path.join(host, "busy.img");
const stage = path.join(host, "stage");
let loop = "";

after(() => {
  try {
    spawnSync("umount", [stage]);
    if (loop) spawnSync("losetup", ["-d", loop]);
  } finally {
    root.remove();
  }
});

let n = 0;
/** zonecfg's commit runs verify: the configuration must be refused with `message`. */
function refusedAtCommit(body: string, message: RegExp, brand = "minimal"): void {
  const z = `v${n++}`;
  const r = root.run("zonecfg", ["-z", z, `create; set zonepath=${path.join(root.dir, "zones", z)}; set brand=${brand}; ${body}`]);
  assert.notEqual(r.status, 0, `${body} must be refused`);
  assert.match(r.stderr, message);
}

/** Committed, then refused by zoneadm verify with `message` on one line. */
function refusedOnHost(body: string, message: RegExp, brand = "minimal"): void {
  const z = `h${n++}`;
  root.ok("zonecfg", ["-z", z, `create; set zonepath=${path.join(root.dir, "zones", z)}; set brand=${brand}; ${body}`]);
  const r = root.run("zoneadm", ["-z", z, "verify"]);
  assert.equal(r.status, 1, `${body} must fail verify`);
  assert.match(r.stderr, message);
  assert.equal(r.stderr.trim().split("\n").length, 1, JSON.stringify(r.stderr));
}

const lofs = (dir: string, special = host, opts = ""): string => `add fs; set dir=${dir}; set special=${special}; set type=lofs; ${opts ? `add options [${opts}];` : ""} end`;

describe("verify refuses fs and dataset resources that cannot take effect", () => {
  before(() => {
    fs.mkdirSync(stage, { recursive: true });
    fs.writeFileSync(path.join(host, "file"), "x");
    fs.writeFileSync(img, "");
    fs.truncateSync(img, 16 << 20);
    assert.equal(spawnSync("mkfs.ext4", ["-q", "-F", img]).status, 0);
    const r = spawnSync("losetup", ["--find", "--show", img], { encoding: "utf8" });
    loop = r.stdout.trim();
    assert.equal(spawnSync("mount", [loop, stage]).status, 0);
  });

  test("system directories of the zone", () => {
    for (const dir of ["/proc", "/proc/x", "/dev/shm/x", "/sys/fs", "/run", "/run/zones", "/etc/zonename"])
      refusedAtCommit(lofs(dir), new RegExp(`fs dir "${dir}" is a system directory of the zone`));
  });

  test("options a type cannot honour", () => {
    refusedAtCommit(lofs("/a", host, "size=1m"), /fs "\/a": option "size=1m" is for tmpfs only/);
    refusedAtCommit(lofs("/a", host, "bogus"), /fs "\/a": option "bogus" is not supported for type "lofs"/);
    refusedAtCommit(`add fs; set dir=/t; set special=swap; set type=tmpfs; add options [idmap]; end`, /fs "\/t": option "idmap" is for lofs and block/);
    refusedAtCommit(`add fs; set dir=/t; set special=swap; set type=tmpfs; add options [size=lots]; end`, /fs "\/t": option "size=lots" must be size=N/);
    refusedAtCommit(`add fs; set dir=/t; set special=swap; set type=tmpfs; add options [mode=999]; end`, /fs "\/t": option "mode=999" must be an octal mode/);
    refusedAtCommit(`add fs; set dir=/i; set special=${img}; set type=ext4; add options [errors=panic]; end`, /fs "\/i": option "errors=panic" is not supported for type "ext4"/);
  });

  test("datasets in the host's system directories, or nested", () => {
    refusedAtCommit(`add dataset; set name=/etc/web; end`, /dataset "\/etc\/web": .*"\/etc" is the host's system directory/);
    refusedAtCommit(`add dataset; set name=/var; end`, /dataset "\/var": .*"\/var\/lib" is the host's system directory/);
    refusedAtCommit(`add dataset; set name=${host}; end; add dataset; set name=${host}/sub; end`, /are nested/);
  });

  test("specials that are missing, or of the wrong kind", () => {
    refusedOnHost(lofs("/a", path.join(host, "nope")), /fs "\/a": special ".*\/nope" does not exist/);
    refusedOnHost(lofs("/a", path.join(host, "file")), /fs "\/a": special ".*\/file" is not a directory/);
    refusedOnHost(`add fs; set dir=/i; set special=${host}; set type=ext4; end`, /fs "\/i": special ".*" is neither a block device nor an image file/);
  });

  test("a host disk that is mounted, and an image attached to a loop device mounted elsewhere", () => {
    refusedOnHost(`add fs; set dir=/i; set special=/dev/vda; set type=ext4; end`, /fs "\/i": special "\/dev\/vda" cannot be given to the zone: it is mounted on the host at "\/"/);
    refusedOnHost(`add fs; set dir=/i; set special=${img}; set type=ext4; end`, /fs "\/i": special ".*busy.img" cannot be given to the zone: it is attached to \/dev\/loop[0-9]+, mounted at ".*\/stage"/);
  });

  test("a lofs of the zone's own zonepath, or of a tree holding it", () => {
    refusedOnHost(lofs("/a", root.dir), /fs "\/a": special ".*" overlaps the zone's zonepath/);
  });

  test("a dir inside a tree the brand shares from the host", () => {
    refusedOnHost(lofs("/usr/local/x"), /fs "\/usr\/local\/x": dir is inside "\/usr", which the sparse brand shares read-only from the host/, "sparse");
  });
});
