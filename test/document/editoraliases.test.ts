// zonecfg's alias properties (max-lwps, capped-cpu, capped-memory...) and the rctls they stand for.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { blankZone, cloneZone } from "../../src/document/model.js";
import { globalProp } from "../../src/document/properties.js";
import { RCTL_ALIASES, rctlDef } from "../../src/document/rctls.js";
import { resourceSpec } from "../../src/document/resources.js";
import { editor, rctl, rejects, run } from "./editorsupport.js";

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
