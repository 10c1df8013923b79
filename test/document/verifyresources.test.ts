// verifyZone on a zone's networking, duplicate resources and each resource type.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import type { ZoneConfig } from "../../src/document/model.js";
import { verifyZone } from "../../src/document/verify.js";
import { hasProblem, useTempDir, validExclusive, validShared } from "./verifysupport.js";

useTempDir();

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
    ["admin user", (z) => z.admin.push({ user: "alice", auths: "login" }), ["admin user", '"alice"', "more than once"]],
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
