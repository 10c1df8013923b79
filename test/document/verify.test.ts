// verifyZone on valid zones, the zonepath and the global properties.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { cloneZone } from "../../src/document/model.js";
import { checkZonepath, symlinkOnPath, verifyZone } from "../../src/document/verify.js";
import { ZoneError } from "../../src/native/errors.js";
import { hasProblem, tmp, useTempDir, validExclusive, validShared } from "./verifysupport.js";

useTempDir();

describe("verifyZone: valid zones", () => {
  test("a fully valid shared-IP zone has no problems", () => {
    assert.deepEqual(verifyZone(validShared(), []), []);
  });

  test("a fully valid exclusive-IP zone has no problems", () => {
    assert.deepEqual(verifyZone(validExclusive(), []), []);
  });

  test("valid zones side by side do not overlap", () => {
    const a = validShared();
    const b = validExclusive();
    assert.deepEqual(verifyZone(a, [{ name: b.zonename, zonepath: b.zonepath }]), []);
    assert.deepEqual(verifyZone(b, [{ name: a.zonename, zonepath: a.zonepath }]), []);
  });

  test("verify does not change the zone", () => {
    const z = validShared();
    const copy = cloneZone(z);
    verifyZone(z, []);
    assert.deepEqual(z, copy);
  });

  test("a zone with one problem reports exactly that one", () => {
    const z = validShared();
    z.hostid = "xyz";
    assert.equal(verifyZone(z, []).length, 1);
  });

  test("every problem is reported at once", () => {
    const z = validShared();
    z.zonepath = "";
    z.hostid = "xyz";
    z.brand = "lx";
    z.attr.push({ name: "zonefoo", type: "string", value: "" });
    const problems = verifyZone(z, []);
    assert.ok(problems.length >= 4, JSON.stringify(problems));
  });
});

describe("verifyZone: zonepath", () => {
  test("missing zonepath", () => {
    const z = validShared();
    z.zonepath = "";
    hasProblem(z, [], "zonepath not specified");
  });

  test("relative zonepath", () => {
    const z = validShared();
    z.zonepath = "zones/web";
    hasProblem(z, [], "zonepath must be absolute", '"zones/web"');
  });

  test('zonepath "/"', () => {
    const z = validShared();
    z.zonepath = "/";
    hasProblem(z, [], 'zonepath must not be "/"');
  });

  test("zonepath with '..' or a trailing slash", () => {
    const z = validShared();
    z.zonepath = "/zones/../etc";
    hasProblem(z, [], "zonepath", '"/zones/../etc"');
    z.zonepath = "/zones/web/";
    hasProblem(z, [], "zonepath", '"/zones/web/"');
  });

  test("host system directories", () => {
    for (const p of ["/usr", "/etc", "/proc/1", "/sys/fs", "/dev/shm", "/etc/zones/x"]) {
      const z = validShared();
      z.zonepath = p;
      hasProblem(z, [], "host system directory", JSON.stringify(p));
    }
    assert.doesNotThrow(() => checkZonepath("/usr2/zone"));
  });

  test("overlapping another zone: ours inside theirs", () => {
    const z = validShared();
    const other = { name: "outer", zonepath: path.dirname(z.zonepath) };
    hasProblem(z, [other], "overlaps", "'outer'", JSON.stringify(z.zonepath), JSON.stringify(other.zonepath));
  });

  test("overlapping another zone: theirs inside ours", () => {
    const z = validShared();
    const other = { name: "inner", zonepath: path.join(z.zonepath, "root", "nested") };
    hasProblem(z, [other], "overlaps", "'inner'", JSON.stringify(other.zonepath));
  });

  test("overlapping another zone: the same path", () => {
    const z = validShared();
    hasProblem(z, [{ name: "twin", zonepath: z.zonepath }], "overlaps", "'twin'");
  });

  test("a sibling whose name shares a prefix does not overlap", () => {
    const z = validShared();
    assert.deepEqual(verifyZone(z, [{ name: "web2", zonepath: z.zonepath + "2" }]), []);
  });

  test("the zone itself (same name) and zones without a zonepath are ignored", () => {
    const z = validShared();
    assert.deepEqual(
      verifyZone(z, [
        { name: "web", zonepath: z.zonepath },
        { name: "nopath", zonepath: "" },
      ]),
      [],
    );
  });

  test("a symbolic link on the path is refused and named", () => {
    const real = path.join(tmp, "real");
    const link = path.join(tmp, "link");
    fs.mkdirSync(real, { recursive: true });
    fs.symlinkSync(real, link);
    const z = validShared();
    z.zonepath = path.join(link, "web");
    hasProblem(z, [], "symbolic link", JSON.stringify(link));
    assert.equal(symlinkOnPath(path.join(link, "a", "b")), link);
    assert.equal(symlinkOnPath(path.join(real, "web")), undefined);
    // the zonepath itself a symlink
    z.zonepath = link;
    hasProblem(z, [], "symbolic link", JSON.stringify(link));
    assert.throws(() => checkZonepath(link), (e: unknown) => e instanceof ZoneError && e.message.includes("symbolic link"));
  });
});

describe("verifyZone: global properties", () => {
  test("invalid zone names", () => {
    for (const name of ["-web", "a b", "web:1", "", "x".repeat(65)]) {
      const z = validShared();
      z.zonename = name;
      hasProblem(z, [], "invalid zone name", JSON.stringify(name));
    }
  });

  test('"global" is reserved', () => {
    const z = validShared();
    z.zonename = "global";
    hasProblem(z, [], "reserved", '"global"');
  });

  test("SUNW names are reserved", () => {
    const z = validShared();
    z.zonename = "SUNWdefault";
    hasProblem(z, [], "reserved", "SUNW");
  });

  test("unknown brand", () => {
    const z = validShared();
    z.brand = "lx";
    hasProblem(z, [], "unknown brand", '"lx"');
  });

  test("hostid greater than FFFFFFFE or not hex", () => {
    for (const h of ["FFFFFFFF", "0x100000000", "123456789", "xyz", "12 34", "-1", "0x"]) {
      const z = validShared();
      z.hostid = h;
      hasProblem(z, [], "hostid", JSON.stringify(h));
    }
    for (const h of ["0", "fffffffe", "0xFFFFFFFE", "1a2b"]) {
      const z = validShared();
      z.hostid = h;
      assert.deepEqual(verifyZone(z, []), [], h);
    }
  });

  test("limitpriv with an unknown capability", () => {
    const z = validShared();
    z.limitpriv = "default,frobnicate";
    hasProblem(z, [], "limitpriv", "unknown capability", '"frobnicate"');
  });

  test("limitpriv with default not first", () => {
    const z = validShared();
    z.limitpriv = "sys_time,default";
    hasProblem(z, [], "limitpriv", "'default' may only come first");
  });

  test("limitpriv granting a prohibited capability", () => {
    for (const v of ["default,sys_module", "default,CAP_SYS_RAWIO"]) {
      const z = validShared();
      z.limitpriv = v;
      hasProblem(z, [], "limitpriv", "never granted");
    }
    const z = validShared();
    z.limitpriv = "default,sys_admin,-sys_module";
    assert.deepEqual(verifyZone(z, []), [], "removing a prohibited capability is fine");
  });

  test("limitpriv with an empty entry", () => {
    const z = validShared();
    z.limitpriv = "default,,sys_time";
    hasProblem(z, [], "limitpriv has an empty entry");
  });

  test("bad scheduling class, pool and fs-allowed", () => {
    const z = validShared();
    z.schedulingClass = "SCHED_OTHER";
    z.pool = "bad pool";
    z.fsAllowed = "ext4,";
    hasProblem(z, [], "scheduling-class", '"SCHED_OTHER"');
    hasProblem(z, [], "pool", '"bad pool"');
    hasProblem(z, [], "fs-allowed", '"ext4,"');
  });

  test("bootargs longer than 1024 characters", () => {
    const z = validShared();
    z.bootargs = "x".repeat(1025);
    hasProblem(z, [], "bootargs is longer than 1024");
  });
});
