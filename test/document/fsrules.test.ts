/** Parsing of fs options per type (document/fsrules.ts): what each type honours, and the one-line refusals. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dirProblem, fsProblems, parseFsOptions } from "../../src/document/fsrules.js";
import { blankZone } from "../../src/document/model.js";

describe("fs options", () => {
  test("flags, idmap, tmpfs size and mode, block options passed on", () => {
    const l = parseFsOptions("/d", "lofs", ["ro", "nosuid", "nodevices", "noexec", "idmap"]);
    assert.deepEqual([l.readonly, l.nosuid, l.noexec, l.idmap], [true, true, true, true]);
    const t = parseFsOptions("/t", "tmpfs", ["size=512m", "mode=1777"]);
    assert.deepEqual([t.size, t.mode], ["512m", "1777"]);
    assert.equal(parseFsOptions("/t", "tmpfs", ["size=50%"]).size, "50%");
    assert.deepEqual(parseFsOptions("/i", "ext4", ["noatime", "errors=remount-ro", "idmap"]).passed, ["noatime", "errors=remount-ro"]);
    assert.equal(parseFsOptions("/d", "lofs", ["ro", "rw"]).readonly, false, "the last of ro and rw wins");
  });

  test("refusals name the fs and quote the option", () => {
    assert.throws(() => parseFsOptions("/d", "lofs", ["size=1m"]), /^ZoneError: fs "\/d": option "size=1m" is for tmpfs only$/);
    assert.throws(() => parseFsOptions("/t", "tmpfs", ["idmap"]), /fs "\/t": option "idmap" is for lofs and block/);
    assert.throws(() => parseFsOptions("/t", "tmpfs", ["size=0"]), /must be size=N/);
    assert.throws(() => parseFsOptions("/t", "tmpfs", ["mode=u+rwx"]), /must be an octal mode/);
    assert.throws(() => parseFsOptions("/i", "xfs", ["errors=panic"]), /option "errors=panic" is not supported for type "xfs"/);
    assert.throws(() => parseFsOptions("/t", "tmpfs", ["noatime"]), /not supported for type "tmpfs"/);
  });

  test("system directories", () => {
    for (const d of ["/proc", "/dev/x", "/sys", "/run/zones", "/etc/zonename"]) assert.match(dirProblem("fs dir", d) ?? "", /is a system directory of the zone/);
    for (const d of ["/data", "/etc", "/devx", "/running"]) assert.equal(dirProblem("fs dir", d), undefined);
  });

  test("raw on lofs or tmpfs, and a tmpfs special other than swap, are refused, not ignored", () => {
    const z = blankZone("r");
    z.fs = [
      { dir: "/a", special: "/srv", raw: "/dev/x", type: "lofs", options: [] },
      { dir: "/t", special: "/srv", raw: "", type: "tmpfs", options: [] },
      { dir: "/u", special: "swap", raw: "", type: "tmpfs", options: [] },
    ];
    assert.deepEqual(fsProblems(z), [
      `fs "/a": raw is for block file systems (fsck before mount); a lofs has none`,
      `fs "/t": a tmpfs has no special; write special=swap as illumos does (it is "/srv")`,
    ]);
  });

  test("an fs inside a lofs or a dataset is refused; inside a tmpfs it is fine", () => {
    const z = blankZone("n");
    z.fs = [
      { dir: "/data", special: "/srv/share", raw: "", type: "lofs", options: [] },
      { dir: "/data/sub", special: "swap", raw: "", type: "tmpfs", options: [] },
      { dir: "/t", special: "swap", raw: "", type: "tmpfs", options: [] },
      { dir: "/t/sub", special: "/srv/other", raw: "", type: "lofs", options: [] },
    ];
    z.dataset = [{ name: "/srv/ds" }];
    z.fs.push({ dir: "/srv/ds/in", special: "swap", raw: "", type: "tmpfs", options: [] });
    assert.deepEqual(fsProblems(z), [
      `fs "/data/sub": dir lies inside "/data", a host directory shown in the zone; mount it elsewhere`,
      `fs "/srv/ds/in": dir lies inside "/srv/ds", a host directory shown in the zone; mount it elsewhere`,
    ]);
  });
});
