import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { applyEdit, ZoneEditor, type Scope } from "../../src/document/editor.js";
import { ZoneError } from "../../src/native/errors.js";
import { Cursor } from "../../src/document/grammar.js";
import { lex } from "../../src/document/lexer.js";
import { blankZone, cloneZone, type RctlResource, type ZoneConfig } from "../../src/document/model.js";
import { globalProp } from "../../src/document/properties.js";
import { RCTL_ALIASES, rctlDef } from "../../src/document/rctls.js";
import { RESOURCES, resourceSpec, type Rec } from "../../src/document/resources.js";

/** Feed zonecfg editing commands to the editor, one lexed command at a time. */
function run(ed: ZoneEditor, text: string): void {
  for (const cmd of lex(text)) {
    const c = new Cursor(cmd);
    const verb = c.word("command");
    if (!applyEdit(ed, verb, c)) throw new Error(`not an editing command: ${verb}`);
  }
}

/** The open scope, read through a call so that TypeScript does not keep an earlier narrowing. */
function scopeOf(ed: ZoneEditor): Scope | null {
  return ed.scope;
}

function editor(text = ""): ZoneEditor {
  const ed = new ZoneEditor(blankZone("z1"));
  run(ed, text);
  return ed;
}

/** `text` must fail with a ZoneError whose message holds every fragment. */
function rejects(ed: ZoneEditor, text: string, ...fragments: string[]): ZoneError {
  try {
    run(ed, text);
  } catch (e) {
    assert.ok(e instanceof ZoneError, `expected a ZoneError from ${JSON.stringify(text)}, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return e;
  }
  assert.fail(`expected ${JSON.stringify(text)} to fail`);
}

function rctl(z: ZoneConfig, name: string): RctlResource | undefined {
  return z.rctl.find((r) => r.name === name);
}

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

describe("list and complex-list properties", () => {
  test("set, add, remove and empty fs options", () => {
    const ed = editor("add fs; set dir=/a; set special=/b; set type=lofs; set options=ro");
    assert.deepEqual(ed.scope?.rec.options, ["ro"]);
    run(ed, "add options [nodevices,nosuid]; add options noexec");
    assert.deepEqual(ed.scope?.rec.options, ["ro", "nodevices", "nosuid", "noexec"]);
    run(ed, "remove options [nosuid,ro]");
    assert.deepEqual(ed.scope?.rec.options, ["nodevices", "noexec"]);
    rejects(ed, "remove options ro", "options has no such entry");
    run(ed, "set options=[]");
    assert.deepEqual(ed.scope?.rec.options, []);
    run(ed, 'add options "mode=755"; end');
    assert.deepEqual(ed.zone.fs[0]!.options, ["mode=755"]);
  });

  test("rctl values: set a list, add one, remove one", () => {
    const ed = editor("add rctl; set name=zone.max-processes");
    run(ed, "set value=[(priv=basic,limit=10,action=signal=SIGTERM),(priv=privileged,limit=20,action=deny)]");
    run(ed, "add value (priv=privileged,limit=30,action=none)");
    run(ed, "remove value (priv=privileged,limit=20,action=deny)");
    run(ed, "end");
    assert.deepEqual(rctl(ed.zone, "zone.max-processes")?.values, [
      { priv: "basic", limit: 10, action: "signal=SIGTERM" },
      { priv: "privileged", limit: 30, action: "none" },
    ]);
  });

  test("a simple property refuses add and remove", () => {
    const ed = editor("add fs");
    rejects(ed, "add dir /x", "dir is not a list");
    rejects(ed, "remove dir /x", "dir is not a list");
  });

  test("a simple property refuses a list value", () => {
    rejects(editor("add fs"), "set dir=[/a,/b]", "dir takes a simple value");
    rejects(editor(), "set bootargs=[a,b]", "bootargs takes a simple value");
  });

  test("rctl value refuses a simple value", () => {
    rejects(editor("add rctl; set name=zone.max-lwps"), "add value 5", "value takes complex values");
  });

  test("a resource property that does not exist", () => {
    rejects(editor("add net"), "set dir=/a", "net has no property", '"dir"');
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

describe("alias properties", () => {
  test("set max-lwps=100 is rctl zone.max-lwps (privileged,100,deny)", () => {
    const ed = editor("set max-lwps=100");
    assert.deepEqual(ed.zone.rctl, [{ name: "zone.max-lwps", values: [{ priv: "privileged", limit: 100, action: "deny" }] }]);
    assert.equal(globalProp("max-lwps")!.get(ed.zone), "100");
  });

  test("setting an alias again replaces the value, not the rctl", () => {
    const ed = editor("set max-lwps=100; set max-lwps=200");
    assert.deepEqual(ed.zone.rctl, [{ name: "zone.max-lwps", values: [{ priv: "privileged", limit: 200, action: "deny" }] }]);
  });

  test("set max-shm-memory=1G stores 1073741824 bytes", () => {
    const ed = editor("set max-shm-memory=1G");
    assert.deepEqual(rctl(ed.zone, "zone.max-shm-memory")?.values, [{ priv: "privileged", limit: 1073741824, action: "deny" }]);
    assert.equal(globalProp("max-shm-memory")!.get(ed.zone), "1G");
  });

  test("max-shm-memory takes K, M and T and plain bytes", () => {
    assert.equal(rctl(editor("set max-shm-memory=512K").zone, "zone.max-shm-memory")?.values[0]?.limit, 512 * 1024);
    assert.equal(rctl(editor("set max-shm-memory=3m").zone, "zone.max-shm-memory")?.values[0]?.limit, 3 * 1024 ** 2);
    assert.equal(rctl(editor("set max-shm-memory=2T").zone, "zone.max-shm-memory")?.values[0]?.limit, 2 * 1024 ** 4);
    assert.equal(rctl(editor("set max-shm-memory=1000").zone, "zone.max-shm-memory")?.values[0]?.limit, 1000);
  });

  test("set cpu-shares=5 uses action none (cpu-shares has no deny)", () => {
    const ed = editor("set cpu-shares=5");
    assert.deepEqual(ed.zone.rctl, [{ name: "zone.cpu-shares", values: [{ priv: "privileged", limit: 5, action: "none" }] }]);
  });

  test("every alias sets its zone.<name> rctl and reads it back", () => {
    for (const [alias, name] of Object.entries(RCTL_ALIASES)) {
      const ed = editor(`set ${alias}=7`);
      assert.equal(name, `zone.${alias}`);
      const expectedAction = rctlDef(name).actions.includes("deny") ? "deny" : "none";
      assert.deepEqual(ed.zone.rctl, [{ name, values: [{ priv: "privileged", limit: 7, action: expectedAction }] }], alias);
      assert.equal(globalProp(alias)!.get(ed.zone), "7", alias);
      run(ed, `clear ${alias}`);
      assert.deepEqual(ed.zone.rctl, [], `clear ${alias}`);
      assert.equal(globalProp(alias)!.get(ed.zone), "", alias);
    }
  });

  test("an alias reads an rctl added by hand", () => {
    const ed = editor("add rctl; set name=zone.max-processes; add value (priv=basic,limit=3,action=deny); add value (priv=privileged,limit=42,action=deny); end");
    assert.equal(globalProp("max-processes")!.get(ed.zone), "42");
  });

  test("bad alias values name the alias and the value", () => {
    rejects(editor(), "set max-lwps=lots", "max-lwps", '"lots"');
    rejects(editor(), "set max-shm-memory=1X", "max-shm-memory", '"1X"');
    rejects(editor(), "set cpu-shares=-1", "cpu-shares", '"-1"');
    rejects(editor(), "set max-lwps=99999999999999999999", "max-lwps", "too large");
  });

  test("capped-cpu ncpus=.75 is rctl zone.cpu-cap limit 75", () => {
    const ed = editor("add capped-cpu; set ncpus=.75; end");
    assert.deepEqual(rctl(ed.zone, "zone.cpu-cap")?.values, [{ priv: "privileged", limit: 75, action: "deny" }]);
    assert.deepEqual(resourceSpec("capped-cpu")!.read(ed.zone), [{ ncpus: "0.75" }]);
  });

  test("capped-cpu ncpus=1.25 is 125 percent; select/set changes the rctl", () => {
    const ed = editor("add capped-cpu; set ncpus=1.25; end");
    assert.equal(rctl(ed.zone, "zone.cpu-cap")?.values[0]?.limit, 125);
    run(ed, "select capped-cpu; set ncpus=3; end");
    assert.deepEqual(ed.zone.rctl, [{ name: "zone.cpu-cap", values: [{ priv: "privileged", limit: 300, action: "deny" }] }]);
  });

  test("capped-cpu refuses zero and non-numbers, naming the value", () => {
    rejects(editor("add capped-cpu; set ncpus=0"), "end", "capped-cpu ncpus", '"0"');
    rejects(editor("add capped-cpu; set ncpus=abc"), "end", "capped-cpu ncpus", '"abc"');
    rejects(editor("add capped-cpu"), "end", "capped-cpu: ncpus not specified");
  });

  test("capped-memory swap is zone.max-swap, locked is zone.max-locked-memory", () => {
    const ed = editor("add capped-memory; set swap=2G; end");
    assert.equal(ed.zone.cappedMemory, null, "physical not set");
    assert.deepEqual(ed.zone.rctl, [{ name: "zone.max-swap", values: [{ priv: "privileged", limit: 2 * 1024 ** 3, action: "deny" }] }]);
    run(ed, "select capped-memory; set locked=100M; end");
    assert.deepEqual(rctl(ed.zone, "zone.max-locked-memory")?.values, [{ priv: "privileged", limit: 100 * 1024 ** 2, action: "deny" }]);
    assert.deepEqual(resourceSpec("capped-memory")!.read(ed.zone), [{ swap: "2G", locked: "100M" }]);
  });

  test("capped-memory: clearing swap in select drops zone.max-swap", () => {
    const ed = editor("add capped-memory; set physical=1G; set swap=2G; end; select capped-memory; clear swap; end");
    assert.deepEqual(ed.zone.cappedMemory, { physical: 1024 ** 3 });
    assert.equal(rctl(ed.zone, "zone.max-swap"), undefined);
  });

  test("capped-memory needs at least one property, and physical > 0", () => {
    rejects(editor("add capped-memory"), "end", "set at least one of physical, swap and locked");
    rejects(editor("add capped-memory; set physical=0"), "end", "physical must be more than 0");
    rejects(editor("add capped-memory; set physical=lots"), "end", "capped-memory physical", '"lots"');
  });

  test("an rctl swap already present makes capped-memory exist", () => {
    const ed = editor("add rctl; set name=zone.max-swap; add value (priv=privileged,limit=1048576,action=deny); end");
    rejects(ed, "add capped-memory", "already exists");
    assert.deepEqual(resourceSpec("capped-memory")!.read(ed.zone), [{ swap: "1M" }]);
  });

  test("remove capped-memory drops physical, swap and locked; remove capped-cpu drops zone.cpu-cap", () => {
    const ed = editor("set max-lwps=10; add capped-memory; set physical=1G; set swap=2G; set locked=1M; end; add capped-cpu; set ncpus=2; end");
    run(ed, "remove capped-memory");
    assert.equal(ed.zone.cappedMemory, null);
    assert.deepEqual(
      ed.zone.rctl.map((r) => r.name),
      ["zone.max-lwps", "zone.cpu-cap"],
    );
    run(ed, "remove capped-cpu");
    assert.deepEqual(
      ed.zone.rctl.map((r) => r.name),
      ["zone.max-lwps"],
    );
  });

  test(
    "select capped-cpu; end without changes leaves a hand-made zone.cpu-cap rctl as it was",
    () => {
      const ed = editor("add rctl; set name=zone.cpu-cap; add value (priv=basic,limit=10,action=none); add value (priv=privileged,limit=50,action=none); end");
      const before = cloneZone(ed.zone);
      run(ed, "select capped-cpu; end");
      assert.deepEqual(ed.zone, before);
    },
  );

  test(
    "a failed end of capped-memory leaves the zone unchanged",
    () => {
      const ed = editor();
      rejects(ed, "add capped-memory; set physical=1G; set swap=bogus; end", "capped-memory swap", '"bogus"');
      run(ed, "cancel");
      assert.deepEqual(ed.zone, blankZone("z1"));
    },
  );
});

describe("global properties", () => {
  test("set and clear simple properties", () => {
    const ed = editor(
      'set zonepath=/zones/web; set autoboot=true; set bootargs="-m verbose"; set pool=pool_1; set limitpriv=default,sys_time; ' +
        "set scheduling-class=FSS; set ip-type=exclusive; set hostid=0x1234abcd; set fs-allowed=ext4,xfs; set brand=minimal; set nesting=true",
    );
    const z = ed.zone;
    assert.equal(z.zonepath, "/zones/web");
    assert.equal(z.autoboot, true);
    assert.equal(z.bootargs, "-m verbose");
    assert.equal(z.pool, "pool_1");
    assert.equal(z.limitpriv, "default,sys_time");
    assert.equal(z.schedulingClass, "FSS");
    assert.equal(z.ipType, "exclusive");
    assert.equal(z.hostid, "0x1234abcd");
    assert.equal(z.fsAllowed, "ext4,xfs");
    assert.equal(z.brand, "minimal");
    assert.equal(z.nesting, true);
    run(ed, "clear zonepath; clear autoboot; clear bootargs; clear pool; clear limitpriv; clear scheduling-class; clear ip-type; clear hostid; clear fs-allowed; clear brand; clear nesting");
    assert.deepEqual(ed.zone, blankZone("z1"));
  });

  test("zonename can be set but not cleared", () => {
    const ed = editor("set zonename=other");
    assert.equal(ed.zone.zonename, "other");
    rejects(ed, "clear zonename", "zonename cannot be cleared");
    rejects(ed, "set zonename=global", "reserved", '"global"');
  });

  test("keywords are values", () => {
    const ed = editor("set limitpriv=default; set pool=net; add fs; set dir=/end; set special=add; set type=ext4; add options end; end");
    assert.equal(ed.zone.limitpriv, "default");
    assert.equal(ed.zone.pool, "net");
    assert.deepEqual(ed.zone.fs[0], { dir: "/end", special: "add", raw: "", type: "ext4", options: ["end"] });
  });

  test("errors name the property and the value", () => {
    rejects(editor(), "set autoboot=maybe", "autoboot", '"maybe"');
    rejects(editor(), "set brand=solaris10", "brand", '"solaris10"');
    rejects(editor(), "set zonepath=zones/web", "zonepath", '"zones/web"');
    rejects(editor(), 'set zonepath="/"', "zonepath", '"/"');
    rejects(editor(), "set ip-type=private", "ip-type", '"private"');
    rejects(editor(), "set hostid=xyz", "hostid", '"xyz"');
    rejects(editor(), "set scheduling-class=XX", "scheduling-class", '"XX"');
    rejects(editor(), "set pool=-bad", "pool", '"-bad"');
    rejects(editor(), "set limitpriv=default,frobnicate", "limitpriv", '"frobnicate"');
    rejects(editor(), "set fs-allowed=ext4,,xfs", "fs-allowed", '"ext4,,xfs"');
    rejects(editor(), "set nesting=yes", "nesting", '"yes"');
    rejects(editor(), "set nosuch=1", "unknown property", '"nosuch"');
    rejects(editor(), "clear nosuch", "unknown property", '"nosuch"');
  });

  test("a failed set leaves the value unchanged", () => {
    const ed = editor("set autoboot=true");
    rejects(ed, "set autoboot=perhaps", "autoboot");
    assert.equal(ed.zone.autoboot, true);
  });

  test("syntax errors from the command line", () => {
    rejects(editor(), "set autoboot", "'=' expected after 'autoboot'");
    rejects(editor(), "set autoboot=true false", "unexpected 'false'");
    rejects(editor(), "add fs extra", "unexpected 'extra'");
    rejects(editor(), "clear", "property name expected");
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

describe("resource validation at end names the thing and the value", () => {
  const cases: Array<[string, string[]]> = [
    ["add fs; set dir=rel/dir; set special=/b; set type=lofs; end", ["fs dir", '"rel/dir"']],
    ["add fs; set dir=/a/../b; set special=/b; set type=lofs; end", ["fs dir", '"/a/../b"']],
    ["add fs; set dir=/a; set special=relative; set type=lofs; end", ["fs special", '"relative"']],
    ["add fs; set dir=/a; set special=/b; set type=proc; end", ["fs type", '"proc"']],
    ["add fs; set dir=/a; set special=/b; set type=zfs9; end", ["unknown fs type", '"zfs9"']],
    ['add fs; set dir=/a; set special=/b; set type=lofs; add options "a,b"; end', ["fs option", '"a,b"']],
    ['add fs; set dir=/a; set special=/b; set type=lofs; add options "a b"; end', ["fs option", '"a b"']],
    ["add fs; set dir=/a; set type=lofs; end", ["fs: special not specified"]],
    ["add net; set address=10.0.0.1; end", ["net: physical not specified"]],
    ["add net; set physical=eth0; set address=10.0.0.1/33; end", ["net address", '"10.0.0.1/33"']],
    ["add net; set physical=eth0; set address=10.0.0.999; end", ["net address", '"10.0.0.999"']],
    ["add net; set physical=eth0; set allowed-address=fe80::1/129; end", ["net allowed-address", '"fe80::1/129"']],
    ["add net; set physical=eth0; set defrouter=10.0.0.1/24; end", ["net defrouter", '"10.0.0.1/24"']],
    ["add net; set physical=a-link-name-too-long; end", ["net physical", '"a-link-name-too-long"']],
    ["add device; set match=/etc/passwd; end", ["device match", '"/etc/passwd"']],
    ["add device; set match=/dev/../etc; end", ["device match", '"/dev/../etc"']],
    ["add rctl; set name=zone.bogus; add value (priv=privileged,limit=1,action=deny); end", ["unknown rctl", '"zone.bogus"']],
    ["add rctl; set name=zone.max-lwps; end", ["zone.max-lwps", "no value"]],
    ["add rctl; set name=zone.max-lwps; add value (priv=system,limit=1,action=deny); end", ["priv", '"system"']],
    ["add rctl; set name=zone.max-lwps; add value (priv=basic,limit=x,action=deny); end", ["limit", '"x"']],
    ["add rctl; set name=zone.max-lwps; add value (priv=basic,limit=1,action=signal=SIGFOO); end", ["signal", '"signal=SIGFOO"']],
    ["add rctl; set name=zone.cpu-shares; add value (priv=privileged,limit=1,action=deny); end", ["zone.cpu-shares", '"deny"']],
    ["add rctl; set name=zone.max-lwps; add value (priv=basic,limit=1); end", ["value has no action"]],
    ["add rctl; set name=zone.max-lwps; add value (priv=basic,limit=1,action=deny,colour=red); end", ["unknown value part", '"colour"']],
    ["add attr; set name=zonefoo; set type=string; set value=x; end", ["reserved", '"zonefoo"']],
    ["add attr; set name=n; set type=int; set value=x1; end", ["attr", "int", '"x1"']],
    ["add attr; set name=n; set type=uint; set value=-1; end", ["uint", '"-1"']],
    ["add attr; set name=n; set type=boolean; set value=yes; end", ["boolean", '"yes"']],
    ["add attr; set name=n; set type=float; set value=1; end", ["type must be", '"float"']],
    ['add attr; set name="bad name"; set type=string; end', ["attr name", '"bad name"']],
    ["add dataset; set name=tank/ds; end", ["dataset name", '"tank/ds"']],
    ["add dedicated-cpu; set ncpus=2-1; end", ["dedicated-cpu ncpus", '"2-1"']],
    ["add dedicated-cpu; set ncpus=0; end", ["dedicated-cpu ncpus", '"0"']],
    ["add dedicated-cpu; set ncpus=1; set importance=high; end", ["dedicated-cpu importance", '"high"']],
    ["add admin; set user=alice; set auths=login,fly; end", ["admin auths", '"fly"']],
    ["add admin; set user=alice; set auths=login,config; end", ["admin auths", '"config" is not supported', "only root"]],
    ["add admin; set user=alice; set auths=clonefrom; end", ["admin auths", '"clonefrom" is not supported']],
    ["add admin; set user=Alice!; set auths=login; end", ["admin user", '"Alice!"']],
    ["add admin; set user=alice; end", ["admin: auths not specified"]],
    ["add security-flags; set lower=all; set default=aslr; end", ["lower ⊆ default ⊆ upper"]],
    ["add security-flags; set default=aslr; set upper=noexecstack; end", ["lower ⊆ default ⊆ upper"]],
    ["add security-flags; set lower=aslr,nxheap; end", ["security-flags lower", '"nxheap"']],
  ];
  for (const [text, fragments] of cases) {
    test(text, () => {
      const ed = editor();
      rejects(ed, text, ...fragments);
      assert.notEqual(ed.scope, null, "the scope stays open after a failed end");
      const rec: Rec = ed.scope!.rec;
      assert.ok(Object.keys(rec).length > 0);
      run(ed, "cancel");
      assert.deepEqual(ed.zone, blankZone("z1"), "a refused resource leaves the zone unchanged");
    });
  }
});
