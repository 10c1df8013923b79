// zonecfg's properties: list values, the global properties, and the checks at end of a resource.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { blankZone } from "../../src/document/model.js";
import { type Rec } from "../../src/document/resources.js";
import { editor, rctl, rejects, run } from "./editorsupport.js";

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
