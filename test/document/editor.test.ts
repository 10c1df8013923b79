// zonecfg's resources: add/set/end for each type, select and remove, singletons, clear and cancel.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { applyEdit } from "../../src/document/editor.js";
import { Cursor } from "../../src/document/grammar.js";
import { lex } from "../../src/document/lexer.js";
import { blankZone, cloneZone, type ZoneConfig } from "../../src/document/model.js";
import { RESOURCES } from "../../src/document/resources.js";
import { editor, rctl, rejects, run, scopeOf } from "./editorsupport.js";

/** One valid `add ... end` block per resource type, and what it must leave in the model. */
const SAMPLES: Record<string, { text: string; check(z: ZoneConfig): void }> = {
  fs: {
    text: "add fs\nset dir=/mnt/data\nset special=/srv/data\nset type=lofs\nadd options [ro,nodevices]\nend",
    check: (z) => assert.deepEqual(z.fs, [{ dir: "/mnt/data", special: "/srv/data", raw: "", type: "lofs", options: ["ro", "nodevices"] }]),
  },
  net: {
    text: "add net; set address=192.168.1.10/24; set physical=eth0; set defrouter=192.168.1.1; end",
    check: (z) => assert.deepEqual(z.net, [{ address: "192.168.1.10/24", allowedAddress: "", physical: "eth0", defrouter: "192.168.1.1" }]),
  },
  device: {
    text: 'add device; set match="/dev/cua/a00[2-5]"; end',
    check: (z) => assert.deepEqual(z.device, [{ match: "/dev/cua/a00[2-5]" }]),
  },
  rctl: {
    text: "add rctl; set name=zone.max-lwps; add value (priv=privileged,limit=500,action=deny); end",
    check: (z) => assert.deepEqual(z.rctl, [{ name: "zone.max-lwps", values: [{ priv: "privileged", limit: 500, action: "deny" }] }]),
  },
  service: {
    text: "add service; set name=db; set caller=web,app; end",
    check: (z) => assert.deepEqual(z.service, [{ name: "db", caller: ["web", "app"] }]),
  },
  attr: {
    text: 'add attr; set name=comment; set type=string; set value="hello, world = 1"; end',
    check: (z) => assert.deepEqual(z.attr, [{ name: "comment", type: "string", value: "hello, world = 1" }]),
  },
  dataset: {
    text: "add dataset; set name=/srv/zones/ds; end",
    check: (z) => assert.deepEqual(z.dataset, [{ name: "/srv/zones/ds" }]),
  },
  "dedicated-cpu": {
    text: "add dedicated-cpu; set ncpus=1-2; set importance=10; end",
    check: (z) => assert.deepEqual(z.dedicatedCpu, { ncpus: "1-2", importance: "10" }),
  },
  "capped-cpu": {
    text: "add capped-cpu; set ncpus=.75; end",
    check: (z) => assert.deepEqual(z.rctl, [{ name: "zone.cpu-cap", values: [{ priv: "privileged", limit: 75, action: "deny" }] }]),
  },
  "capped-memory": {
    text: "add capped-memory; set physical=50M; set swap=1G; set locked=10M; end",
    check: (z) => {
      assert.deepEqual(z.cappedMemory, { physical: 50 * 1024 * 1024 });
      assert.deepEqual(rctl(z, "zone.max-swap")?.values, [{ priv: "privileged", limit: 1024 ** 3, action: "deny" }]);
      assert.deepEqual(rctl(z, "zone.max-locked-memory")?.values, [{ priv: "privileged", limit: 10 * 1024 * 1024, action: "deny" }]);
      assert.equal(z.rctl.length, 2);
    },
  },
  admin: {
    text: "add admin; set user=alice; set auths=login,manage; end",
    check: (z) => assert.deepEqual(z.admin, [{ user: "alice", auths: "login,manage" }]),
  },
  "security-flags": {
    text: "add security-flags; set lower=none; set default=aslr; set upper=all; end",
    check: (z) => assert.deepEqual(z.securityFlags, { lower: "none", default: "aslr", upper: "all" }),
  },
};

describe("add/set/end for every resource type", () => {
  test("every resource type of RESOURCES has a sample here", () => {
    assert.deepEqual(RESOURCES.map((r) => r.type).sort(), Object.keys(SAMPLES).sort());
  });

  for (const spec of RESOURCES) {
    test(`${spec.type}: add, set, end stores it; select and remove find it`, () => {
      const sample = SAMPLES[spec.type];
      assert.ok(sample, `no sample for ${spec.type}`);
      const ed = editor(sample.text);
      assert.equal(ed.scope, null, "end closes the scope");
      sample.check(ed.zone);
      assert.equal(spec.read(ed.zone).length, 1);
      // select by the first property it has, end without change: nothing changes
      const rec = spec.read(ed.zone)[0]!;
      const before = cloneZone(ed.zone);
      const key = spec.props.find((p) => typeof rec[p.name] === "string")!.name;
      const pair = spec.singleton ? "" : ` ${key}=${JSON.stringify(rec[key])}`;
      run(ed, `select ${spec.type}${pair}`);
      const scope = scopeOf(ed);
      assert.ok(scope);
      assert.equal(scope.spec.type, spec.type);
      assert.deepEqual(scope.rec, rec);
      run(ed, "end");
      assert.deepEqual(ed.zone, before);
      // remove it again
      run(ed, `remove ${spec.type}${pair}`);
      assert.equal(spec.read(ed.zone).length, 0);
      assert.deepEqual(ed.zone, blankZone("z1"));
    });
  }

  test("add in global scope opens a scope that names the resource", () => {
    const ed = editor("add fs");
    assert.equal(ed.scope?.spec.type, "fs");
    assert.equal(ed.scope?.index, -1);
    assert.deepEqual(ed.scope?.rec, {});
    assert.deepEqual(ed.zone.fs, [], "nothing is stored before end");
  });

  test("unknown resource type", () => {
    rejects(editor(), "add filesystem", "unknown resource type", '"filesystem"');
  });

  test("non-editing commands are left to the caller", () => {
    const ed = editor();
    const c = new Cursor(lex("commit")[0]!);
    assert.equal(applyEdit(ed, c.word("command"), c), false);
  });
});

describe("select and remove", () => {
  const TWO_FS =
    "add fs; set dir=/a; set special=/x; set type=lofs; end\n" + "add fs; set dir=/b; set special=/x; set type=lofs; add options ro; end\n";

  test("select picks one resource by prop=value and end replaces it in place", () => {
    const ed = editor(TWO_FS);
    run(ed, "select fs dir=/b; set special=/y; add options nodevices; end");
    assert.deepEqual(ed.zone.fs, [
      { dir: "/a", special: "/x", raw: "", type: "lofs", options: [] },
      { dir: "/b", special: "/y", raw: "", type: "lofs", options: ["ro", "nodevices"] },
    ]);
  });

  test("select with two pairs", () => {
    const ed = editor(TWO_FS);
    run(ed, "select fs special=/x dir=/a");
    assert.equal(ed.scope?.index, 0);
  });

  test("select that matches several resources is refused", () => {
    const ed = editor(TWO_FS);
    rejects(ed, "select fs type=lofs", "2 fs resources match");
    assert.equal(ed.scope, null);
  });

  test("select that matches nothing names the pairs", () => {
    rejects(editor(TWO_FS), "select fs dir=/nope", "no fs resource matches", 'dir="/nope"');
  });

  test("select with an unknown property", () => {
    rejects(editor(TWO_FS), "select fs colour=red", "fs has no property", '"colour"');
  });

  test("select with more than 3 pairs is refused", () => {
    rejects(editor(TWO_FS), "select fs dir=/a dir=/a dir=/a dir=/a", "at most 3");
  });

  test("select inside a resource scope is refused", () => {
    rejects(editor(TWO_FS + "select fs dir=/a"), "select fs dir=/b", "already editing a fs resource");
  });

  test("remove with several matches needs -F and changes nothing without it", () => {
    const ed = editor(TWO_FS);
    const before = cloneZone(ed.zone);
    rejects(ed, "remove fs", "2 fs resources match", "-F");
    assert.deepEqual(ed.zone, before);
    rejects(ed, "remove fs type=lofs", "-F");
    run(ed, "remove -F fs");
    assert.deepEqual(ed.zone.fs, []);
  });

  test("remove -F with pairs removes only the matching ones", () => {
    const ed = editor(TWO_FS + "add fs; set dir=/c; set special=/other; set type=lofs; end");
    run(ed, "remove -F fs special=/x");
    assert.deepEqual(
      ed.zone.fs.map((f) => f.dir),
      ["/c"],
    );
  });

  test("remove one by prop=value", () => {
    const ed = editor(TWO_FS);
    run(ed, "remove fs dir=/a");
    assert.deepEqual(
      ed.zone.fs.map((f) => f.dir),
      ["/b"],
    );
  });

  test("remove that matches nothing", () => {
    rejects(editor(TWO_FS), "remove fs dir=/zzz", "no fs resource matches");
    rejects(editor(), "remove net", "no net resource matches");
  });

  test("remove with an unknown option", () => {
    rejects(editor(TWO_FS), "remove -R fs", "unknown option '-R'");
  });

  test("net resources are selected by physical and address", () => {
    const ed = editor(
      "add net; set physical=eth0; set address=10.0.0.1; end\n" + "add net; set physical=eth0; set address=10.0.0.2; end\n",
    );
    rejects(ed, "select net physical=eth0", "2 net resources match");
    run(ed, "select net physical=eth0 address=10.0.0.2; set address=10.0.0.3/8; end");
    assert.deepEqual(
      ed.zone.net.map((n) => n.address),
      ["10.0.0.1", "10.0.0.3/8"],
    );
  });
});

describe("singleton resources", () => {
  for (const spec of RESOURCES.filter((r) => r.singleton)) {
    test(`${spec.type}: a second add is refused; select needs no pairs`, () => {
      const ed = editor(SAMPLES[spec.type]!.text);
      const before = cloneZone(ed.zone);
      rejects(ed, `add ${spec.type}`, "already exists", `select ${spec.type}`);
      assert.equal(ed.scope, null);
      assert.deepEqual(ed.zone, before);
      run(ed, `select ${spec.type}`);
      assert.equal(scopeOf(ed)?.index, 0);
    });
  }

  test("the singleton set is the one of zonecfg(8)", () => {
    assert.deepEqual(
      RESOURCES.filter((r) => r.singleton)
        .map((r) => r.type)
        .sort(),
      ["capped-cpu", "capped-memory", "dedicated-cpu", "security-flags"],
    );
  });

  test("non-singletons can be added twice", () => {
    const ed = editor(SAMPLES.device!.text + "\nadd device; set match=/dev/null; end");
    assert.equal(ed.zone.device.length, 2);
  });

  test("dedicated-cpu: select and change", () => {
    const ed = editor(SAMPLES["dedicated-cpu"]!.text + "\nselect dedicated-cpu; set ncpus=4; clear importance; end");
    assert.deepEqual(ed.zone.dedicatedCpu, { ncpus: "4", importance: "" });
  });
});

describe("clear and cancel inside a resource", () => {
  test("clear drops a resource property", () => {
    const ed = editor("add fs; set dir=/a; set special=/b; set raw=/r; set type=lofs; add options ro; clear raw; clear options; end");
    assert.deepEqual(ed.zone.fs, [{ dir: "/a", special: "/b", raw: "", type: "lofs", options: [] }]);
  });

  test("clear of an unknown resource property", () => {
    rejects(editor("add fs"), "clear colour", "fs has no property", '"colour"');
  });

  test("cancel drops a resource being added", () => {
    const ed = editor("add fs; set dir=/a; set special=/b; set type=lofs; cancel");
    assert.equal(ed.scope, null);
    assert.deepEqual(ed.zone, blankZone("z1"));
  });

  test("cancel drops changes to a selected resource", () => {
    const ed = editor(SAMPLES.fs!.text);
    const before = cloneZone(ed.zone);
    run(ed, "select fs dir=/mnt/data; set dir=/elsewhere; clear options; cancel");
    assert.deepEqual(ed.zone, before);
  });

  test("end and cancel are refused outside a resource", () => {
    rejects(editor(), "end", "'end' is only valid while editing a resource");
    rejects(editor(), "cancel", "'cancel' is only valid while editing a resource");
  });

  test("a failed end keeps the scope open and the zone unchanged", () => {
    const ed = editor("add fs; set dir=/a; set special=/b");
    rejects(ed, "end", "fs: type not specified");
    assert.equal(ed.scope?.spec.type, "fs");
    assert.deepEqual(ed.zone.fs, []);
    run(ed, "set type=lofs; end");
    assert.equal(ed.zone.fs.length, 1);
  });
});
