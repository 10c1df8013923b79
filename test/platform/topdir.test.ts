/**
 * The zones directory as an ext4 top directory (src/platform/topdir.ts): install marks
 * the root's default zonepath parent, and only that; a file system without the flag
 * costs nothing but the hint.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { markTopDir } from "../../src/platform/topdir.js";
import { ZoneTestRoot } from "../support/zones.js";

/** The attribute letters lsattr shows for directory `dir`, or undefined where it cannot tell. */
function attrs(dir: string): string | undefined {
  const r = spawnSync("lsattr", ["-d", dir], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split(" ")[0] : undefined;
}

const onExt4 = attrs(os.tmpdir()) !== undefined;

describe("the zones directory as a top directory", { skip: onExt4 ? false : `${os.tmpdir()} has no ext4 attributes` }, () => {
  const root = new ZoneTestRoot("topdir");
  after(() => root.remove());

  test("markTopDir sets T, keeps the other flags and repeats harmlessly", () => {
    const dir = fs.mkdtempSync(path.join(root.dir, "d-"));
    spawnSync("chattr", ["+d", dir]);
    const before = attrs(dir)!;
    assert.equal(markTopDir(dir), true);
    assert.equal(markTopDir(dir), true);
    const now = attrs(dir)!;
    assert.ok(now.includes("T"), `lsattr: ${now}`);
    assert.equal(now.replace("T", "-"), before, "no other flag changed");
  });

  test("a file system without the flag, or no directory, is only a false", () => {
    assert.equal(markTopDir("/dev/shm"), false);
    assert.equal(markTopDir(path.join(root.dir, "absent")), false);
  });

  test("install marks the default zonepath parent, and no other zonepath's parent", () => {
    root.minimalZone("t");
    const elsewhere = path.join(root.dir, "other");
    fs.mkdirSync(elsewhere, { mode: 0o755 });
    root.ok("zonecfg", ["-z", "u", `create; set zonepath=${path.join(elsewhere, "u")}; set brand=minimal`]);
    root.ok("zoneadm", ["-z", "t", "install"]);
    root.ok("zoneadm", ["-z", "u", "install"]);
    assert.ok(attrs(root.paths.zonesDir)!.includes("T"), `${root.paths.zonesDir}: ${attrs(root.paths.zonesDir)}`);
    assert.ok(!attrs(elsewhere)!.includes("T"), `an administrator's directory is left alone: ${attrs(elsewhere)}`);
    root.ok("zoneadm", ["-z", "t", "uninstall", "-F"]);
    root.ok("zoneadm", ["-z", "u", "uninstall", "-F"]);
  });
});
