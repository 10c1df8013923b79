import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { blankZone, cloneZone, type ZoneConfig } from "../../src/document/model.js";
import { checkZonepath, symlinkOnPath, verifyZone, type OtherZone } from "../../src/document/verify.js";
import { ZoneError } from "../../src/native/errors.js";

let tmp = "";

before(() => {
  // realpath: the zonepaths below must not pass through a symlink of the host (e.g. /tmp -> /private/tmp)
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "zones-verify-")));
});

after(() => {
  if (tmp !== "") fs.rmSync(tmp, { recursive: true, force: true });
});

/** A shared-IP zone that uses every resource type and is valid. */
function validShared(): ZoneConfig {
  const z = blankZone("web");
  z.zonepath = path.join(tmp, "zones", "web");
  z.autoboot = true;
  z.bootargs = "-m verbose";
  z.limitpriv = "default,sys_time,sys_admin,-kill,!cap_mknod";
  z.schedulingClass = "FSS";
  z.hostid = "FFFFFFFE";
  z.fsAllowed = "tmpfs,fuse";
  z.fs = [
    { dir: "/mnt/data", special: "/srv/data", raw: "", type: "lofs", options: ["ro", "nodevices"] },
    { dir: "/scratch", special: "swap", raw: "", type: "tmpfs", options: ["size=10m"] },
  ];
  z.net = [
    { address: "192.168.1.10/24", allowedAddress: "", physical: "eth0", defrouter: "192.168.1.1" },
    { address: "fe80::10/64", allowedAddress: "", physical: "eth0", defrouter: "" },
  ];
  z.device = [{ match: "/dev/null" }, { match: "/dev/cua/a00[2-5]" }];
  z.rctl = [
    { name: "zone.max-lwps", values: [{ priv: "privileged", limit: 1000, action: "deny" }] },
    { name: "zone.max-processes", values: [{ priv: "privileged", limit: 100, action: "deny" }, { priv: "basic", limit: 90, action: "signal=SIGTERM" }] },
    { name: "zone.cpu-shares", values: [{ priv: "privileged", limit: 10, action: "none" }] },
    { name: "zone.cpu-cap", values: [{ priv: "privileged", limit: 150, action: "deny" }] },
    { name: "zone.max-swap", values: [{ priv: "privileged", limit: 1024 ** 3, action: "deny" }] },
  ];
  z.attr = [
    { name: "comment", type: "string", value: "a web server" },
    { name: "vcpus", type: "uint", value: "4" },
  ];
  z.dataset = [{ name: "/srv/zones/web-data" }];
  z.cappedMemory = { physical: 512 * 1024 ** 2 };
  z.admin = [{ user: "alice", auths: "login,manage" }];
  z.securityFlags = { lower: "none", default: "aslr,forbidnullmap", upper: "all" };
  return z;
}

/** An exclusive-IP zone with a dedicated-cpu. */
function validExclusive(): ZoneConfig {
  const z = blankZone("db");
  z.zonepath = path.join(tmp, "zones", "db");
  z.ipType = "exclusive";
  z.net = [
    { address: "", allowedAddress: "10.0.0.5/24", physical: "vnic0", defrouter: "10.0.0.1" },
    { address: "", allowedAddress: "", physical: "vnic1", defrouter: "" },
  ];
  z.dedicatedCpu = { ncpus: "2-4", importance: "10" };
  return z;
}

/** verifyZone must report a problem holding every fragment. */
function hasProblem(z: ZoneConfig, others: readonly OtherZone[], ...fragments: string[]): string[] {
  const problems = verifyZone(z, others);
  assert.ok(
    problems.some((p) => fragments.every((f) => p.includes(f))),
    `no problem mentions ${fragments.map((f) => JSON.stringify(f)).join(" and ")}; got ${JSON.stringify(problems)}`,
  );
  return problems;
}

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

describe("verifyZone: networking", () => {
  test("bad CIDR address", () => {
    for (const a of ["10.0.0.1/33", "10.0.0.256", "fe80::1/129", "host.example", "10.0.0.1/24/8", "10.0.0.1/"]) {
      const z = validShared();
      z.net[0]!.address = a;
      hasProblem(z, [], "net address", JSON.stringify(a));
    }
  });

  test("shared-IP net needs an address", () => {
    const z = validShared();
    z.net[0]!.address = "";
    hasProblem(z, [], "physical=eth0", "address not specified");
  });

  test("shared-IP refuses allowed-address", () => {
    const z = validShared();
    z.net[0]!.allowedAddress = "192.168.1.10/24";
    hasProblem(z, [], "allowed-address is for exclusive-IP zones");
  });

  test("exclusive-IP refuses address", () => {
    const z = validExclusive();
    z.net[0]!.address = "10.0.0.5/24";
    hasProblem(z, [], "physical=vnic0", "address cannot be set for an exclusive-IP zone");
  });

  test("exclusive-IP: one net per physical link", () => {
    const z = validExclusive();
    z.net[1]!.physical = "vnic0";
    hasProblem(z, [], "net physical", '"vnic0"', "more than once");
  });

  test("shared-IP may use a link twice", () => {
    const z = validShared();
    assert.equal(z.net[0]!.physical, z.net[1]!.physical);
    assert.deepEqual(verifyZone(z, []), []);
  });

  test("bad defrouter and physical", () => {
    const z = validShared();
    z.net[0]!.defrouter = "gateway";
    hasProblem(z, [], "net defrouter", '"gateway"');
    const y = validShared();
    y.net[0]!.physical = "eth 0";
    hasProblem(y, [], "net physical", '"eth 0"');
  });
});

describe("verifyZone: duplicates", () => {
  const cases: Array<[string, (z: ZoneConfig) => void, string[]]> = [
    ["fs dir", (z) => z.fs.push({ ...z.fs[0]!, options: [] }), ["fs dir", '"/mnt/data"', "more than once"]],
    ["net address", (z) => z.net.push({ ...z.net[0]!, physical: "eth1" }), ["net address", '"192.168.1.10/24"', "more than once"]],
    ["device match", (z) => z.device.push({ match: "/dev/null" }), ["device match", '"/dev/null"', "more than once"]],
    ["rctl", (z) => z.rctl.push({ name: "zone.max-lwps", values: [{ priv: "privileged", limit: 5, action: "deny" }] }), ["rctl", '"zone.max-lwps"', "more than once"]],
    ["attr", (z) => z.attr.push({ name: "comment", type: "int", value: "1" }), ["attr", '"comment"', "more than once"]],
    ["dataset", (z) => z.dataset.push({ name: "/srv/zones/web-data" }), ["dataset", '"/srv/zones/web-data"', "more than once"]],
    ["admin user", (z) => z.admin.push({ user: "alice", auths: "clonefrom" }), ["admin user", '"alice"', "more than once"]],
  ];
  for (const [what, change, fragments] of cases) {
    test(what, () => {
      const z = validShared();
      change(z);
      const problems = hasProblem(z, [], ...fragments);
      assert.equal(problems.length, 1, JSON.stringify(problems));
    });
  }
});

describe("verifyZone: resources", () => {
  test("dedicated-cpu and pool are incompatible", () => {
    const z = validExclusive();
    z.pool = "pool1";
    hasProblem(z, [], "dedicated-cpu and pool are incompatible");
  });

  test("dedicated-cpu and cpu-shares are incompatible", () => {
    const z = validExclusive();
    z.rctl.push({ name: "zone.cpu-shares", values: [{ priv: "privileged", limit: 10, action: "none" }] });
    hasProblem(z, [], "dedicated-cpu and cpu-shares are incompatible");
  });

  test("dedicated-cpu and capped-cpu are incompatible", () => {
    const z = validExclusive();
    z.rctl.push({ name: "zone.cpu-cap", values: [{ priv: "privileged", limit: 50, action: "deny" }] });
    hasProblem(z, [], "dedicated-cpu and capped-cpu are incompatible");
  });

  test("cpu-shares and capped-cpu without dedicated-cpu are fine", () => {
    const z = validShared();
    assert.ok(z.rctl.some((r) => r.name === "zone.cpu-cap"));
    assert.deepEqual(verifyZone(z, []), []);
  });

  test("bad dedicated-cpu ncpus", () => {
    const z = validExclusive();
    z.dedicatedCpu = { ncpus: "4-2", importance: "" };
    hasProblem(z, [], "dedicated-cpu ncpus", '"4-2"');
  });

  test("device match outside /dev", () => {
    for (const m of ["/etc/shadow", "/devices/x", "/dev/../etc/shadow", "dev/null", "/dev/a b"]) {
      const z = validShared();
      z.device.push({ match: m });
      hasProblem(z, [], "device match", JSON.stringify(m));
    }
  });

  test("fs type proc is refused", () => {
    const z = validShared();
    z.fs.push({ dir: "/proc2", special: "proc", raw: "", type: "proc", options: [] });
    hasProblem(z, [], "fs type", '"proc"', "not allowed in a zone");
  });

  test("fs types nfs, autofs and mntfs are refused too; unknown types are named", () => {
    for (const t of ["nfs", "autofs", "mntfs", "sysfs"]) {
      const z = validShared();
      z.fs[1]!.type = t;
      hasProblem(z, [], "fs type", JSON.stringify(t), "not allowed");
    }
    const z = validShared();
    z.fs[1]!.type = "ufs";
    hasProblem(z, [], "unknown fs type", '"ufs"');
  });

  test('fs dir "/" is refused', () => {
    const z = validShared();
    z.fs[0]!.dir = "/";
    hasProblem(z, [], 'fs dir must not be "/"');
  });

  test("fs lofs special must be absolute; options without commas or blanks", () => {
    const z = validShared();
    z.fs[0]!.special = "srv/data";
    hasProblem(z, [], "fs special", '"srv/data"');
    const y = validShared();
    y.fs[0]!.options = ["ro,nodevices"];
    hasProblem(y, [], "fs option", '"ro,nodevices"');
  });

  test('attr name starting with "zone" is reserved', () => {
    const z = validShared();
    z.attr.push({ name: "zonename2", type: "string", value: "x" });
    hasProblem(z, [], "attr name", '"zonename2"', "reserved");
  });

  test("attr value must match its type", () => {
    const z = validShared();
    z.attr[1]!.value = "-4";
    hasProblem(z, [], "attr", '"vcpus"', "uint", '"-4"');
  });

  test("security-flags must satisfy lower ⊆ default ⊆ upper", () => {
    const cases: Array<[string, string, string]> = [
      ["aslr", "none", "all"],
      ["", "aslr,noexecstack", "aslr"],
      ["all", "", "aslr"],
      ["forbidnullmap", "aslr", ""],
    ];
    for (const [lower, dflt, upper] of cases) {
      const z = validShared();
      z.securityFlags = { lower, default: dflt, upper };
      hasProblem(z, [], "security-flags must satisfy lower ⊆ default ⊆ upper");
    }
    for (const [lower, dflt, upper] of [
      ["forbidnullmap", "", ""],
      ["", "", ""],
      ["forbidnullmap", "aslr,forbidnullmap", "all"],
      ["none", "aslr,forbidnullmap", "aslr,forbidnullmap"],
    ] as Array<[string, string, string]>) {
      const z = validShared();
      z.securityFlags = { lower, default: dflt, upper };
      assert.deepEqual(verifyZone(z, []), [], `${lower}|${dflt}|${upper}`);
    }
  });

  test("security-flags with an unknown flag", () => {
    const z = validShared();
    z.securityFlags = { lower: "", default: "aslr,nxstack", upper: "" };
    hasProblem(z, [], "security-flags default", '"nxstack"');
  });

  test("rctl values are checked: cpu-shares cannot deny, priv must be known", () => {
    const z = validShared();
    z.rctl.find((r) => r.name === "zone.cpu-shares")!.values[0]!.action = "deny";
    hasProblem(z, [], '"zone.cpu-shares"', "action", '"deny"');
    const y = validShared();
    y.rctl[0]!.values[0]!.priv = "system";
    hasProblem(y, [], '"zone.max-lwps"', "priv", '"system"');
  });

  test("rctl names are checked", () => {
    const z = validShared();
    z.rctl.push({ name: "zone.max-cheese", values: [{ priv: "privileged", limit: 1, action: "deny" }] });
    hasProblem(z, [], "unknown rctl", '"zone.max-cheese"');
  });

  test("admin auths and capped-memory are checked", () => {
    const z = validShared();
    z.admin[0]!.auths = "login,root";
    hasProblem(z, [], "admin auths", '"root"');
    const y = validShared();
    y.cappedMemory = { physical: 0 };
    assert.ok(verifyZone(y, []).length > 0, "capped-memory physical 0 is refused");
  });

  test("dataset names must be absolute host paths", () => {
    const z = validShared();
    z.dataset[0]!.name = "tank/web";
    hasProblem(z, [], "dataset name", '"tank/web"');
  });
});
