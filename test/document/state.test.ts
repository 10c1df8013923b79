import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { ZoneError } from "../../src/native/errors.js";
import { canTransition, checkOperation, checkTransition, isState, REQUIRES, STATES, type ZoneState } from "../../src/document/store/state.js";
import { zoneError } from "../support/assertions.js";

/** The transitions of zones-reference §3, each with the operation that makes it. */
const LEGAL: ReadonlyArray<readonly [ZoneState, ZoneState, string]> = [
  ["configured", "incomplete", "install/clone begins"],
  ["incomplete", "installed", "install/clone done"],
  ["configured", "installed", "attach"],
  ["installed", "configured", "detach"],
  ["installed", "incomplete", "uninstall begins / mark incomplete"],
  ["incomplete", "configured", "uninstall done"],
  ["installed", "ready", "ready"],
  ["ready", "running", "boot of a ready zone"],
  ["installed", "running", "boot"],
  ["running", "shutting_down", "halt / shutdown"],
  ["shutting_down", "down", "teardown"],
  ["down", "installed", "teardown done"],
  ["down", "running", "reboot"],
  ["ready", "installed", "halt of a ready zone"],
  ["installed", "mounted", "mount"],
  ["mounted", "installed", "unmount"],
];

/** Transitions that must never happen. */
const ILLEGAL: ReadonlyArray<readonly [ZoneState, ZoneState]> = [
  ["configured", "running"],
  ["configured", "ready"],
  ["configured", "mounted"],
  ["configured", "down"],
  ["configured", "shutting_down"],
  ["incomplete", "running"],
  ["incomplete", "ready"],
  ["incomplete", "mounted"],
  ["running", "configured"],
  ["running", "incomplete"],
  ["running", "ready"],
  ["running", "mounted"],
  ["ready", "configured"],
  ["ready", "mounted"],
  ["mounted", "running"],
  ["mounted", "configured"],
  ["mounted", "ready"],
  ["down", "configured"],
  ["down", "ready"],
  ["shutting_down", "running"],
  ["shutting_down", "configured"],
];

describe("states", () => {
  test("the eight illumos states in libzonecfg order", () => {
    assert.deepEqual([...STATES], ["configured", "incomplete", "installed", "ready", "running", "shutting_down", "down", "mounted"]);
  });

  test("isState", () => {
    for (const s of STATES) assert.equal(isState(s), true, s);
    for (const s of ["unavailable", "Running", "", "halted", "shutting-down"]) assert.equal(isState(s), false, s);
  });
});

describe("transitions (zones-reference §3)", () => {
  for (const [from, to, why] of LEGAL) {
    test(`${from} -> ${to} (${why}) is legal`, () => {
      assert.equal(canTransition(from, to), true);
      assert.doesNotThrow(() => checkTransition(from, to));
    });
  }

  for (const [from, to] of ILLEGAL) {
    test(`${from} -> ${to} is illegal and throws naming both states`, () => {
      assert.equal(canTransition(from, to), false);
      zoneError(() => checkTransition(from, to), from, to);
    });
  }

  test("no state goes to itself", () => {
    for (const s of STATES) {
      assert.equal(canTransition(s, s), false, s);
      assert.throws(() => checkTransition(s, s), ZoneError);
    }
  });

  test("checkTransition agrees with canTransition for every pair", () => {
    for (const from of STATES)
      for (const to of STATES) {
        let threw = false;
        try {
          checkTransition(from, to);
        } catch (e) {
          assert.ok(e instanceof ZoneError);
          threw = true;
        }
        assert.equal(threw, !canTransition(from, to), `${from} -> ${to}`);
      }
  });

  test("every state is reachable from configured and can get back to configured", () => {
    const reach = (start: ZoneState, forward: boolean): Set<ZoneState> => {
      const seen = new Set<ZoneState>([start]);
      const todo = [start];
      while (todo.length > 0) {
        const s = todo.pop()!;
        for (const t of STATES)
          if (!seen.has(t) && (forward ? canTransition(s, t) : canTransition(t, s))) {
            seen.add(t);
            todo.push(t);
          }
      }
      return seen;
    };
    assert.deepEqual([...reach("configured", true)].sort(), [...STATES].sort());
    assert.deepEqual([...reach("configured", false)].sort(), [...STATES].sort());
  });

  test("a full lifecycle walks only legal steps", () => {
    const path: ZoneState[] = ["configured", "incomplete", "installed", "ready", "running", "shutting_down", "down", "running", "shutting_down", "down", "installed", "mounted", "installed", "incomplete", "configured"];
    for (let i = 1; i < path.length; i++) assert.doesNotThrow(() => checkTransition(path[i - 1]!, path[i]!), `${path[i - 1]} -> ${path[i]}`);
  });
});

describe("checkOperation", () => {
  test('boot of a configured zone: "must be installed before boot" and names the state', () => {
    zoneError(() => checkOperation("boot", "configured"), "must be installed before boot", "configured");
  });

  test("boot and ready are allowed from installed and ready", () => {
    for (const op of ["boot", "ready"]) for (const s of ["installed", "ready"] as const) assert.doesNotThrow(() => checkOperation(op, s), `${op} ${s}`);
  });

  test("boot of a running zone says it is already running", () => {
    zoneError(() => checkOperation("boot", "running"), "already running");
  });

  test("install, clone, attach and verify of an incomplete zone need uninstall", () => {
    for (const op of ["install", "clone", "attach", "verify"]) zoneError(() => checkOperation(op, "incomplete"), "uninstall required", op);
  });

  test("boot of an incomplete zone needs uninstall too", () => {
    zoneError(() => checkOperation("boot", "incomplete"), "uninstall required");
  });

  test("install needs configured", () => {
    assert.doesNotThrow(() => checkOperation("install", "configured"));
    zoneError(() => checkOperation("install", "installed"), "must be configured before install", "installed");
    zoneError(() => checkOperation("install", "running"), "must be configured before install", "running");
  });

  test("uninstall is rejected if configured, ready or running (zoneadm(8))", () => {
    for (const s of ["configured", "ready", "running"] as const) zoneError(() => checkOperation("uninstall", s), "uninstall", s);
    for (const s of ["installed", "incomplete"] as const) assert.doesNotThrow(() => checkOperation("uninstall", s), s);
  });

  test("reboot and shutdown need running", () => {
    for (const op of ["reboot", "shutdown"]) {
      assert.doesNotThrow(() => checkOperation(op, "running"));
      zoneError(() => checkOperation(op, "installed"), `must be running before ${op}`, "installed");
    }
  });

  test("halt works on ready, running and stuck zones, not on installed ones", () => {
    for (const s of ["ready", "running", "shutting_down", "down"] as const) assert.doesNotThrow(() => checkOperation("halt", s), s);
    zoneError(() => checkOperation("halt", "installed"), "must be ready or running before halt", "installed");
  });

  test("move and detach need installed (halted)", () => {
    for (const op of ["move", "detach"]) {
      assert.doesNotThrow(() => checkOperation(op, "installed"));
      zoneError(() => checkOperation(op, "running"), `must be installed before ${op}`, "running");
    }
  });

  test("mount needs installed, unmount needs mounted", () => {
    assert.doesNotThrow(() => checkOperation("mount", "installed"));
    assert.doesNotThrow(() => checkOperation("unmount", "mounted"));
    zoneError(() => checkOperation("unmount", "installed"), "must be mounted before unmount");
  });

  test("delete only when configured", () => {
    assert.doesNotThrow(() => checkOperation("delete", "configured"));
    zoneError(() => checkOperation("delete", "installed"), "must be configured to be deleted", "installed", "uninstall");
  });

  test("an unknown operation is an error naming it", () => {
    zoneError(() => checkOperation("explode", "configured"), "unknown operation", "explode");
  });

  test("for every operation and state, checkOperation accepts exactly REQUIRES", () => {
    for (const [op, r] of Object.entries(REQUIRES))
      for (const s of STATES) {
        let ok = true;
        try {
          checkOperation(op, s);
        } catch (e) {
          assert.ok(e instanceof ZoneError);
          assert.ok(e.message.includes(s) || e.message.includes("already running"), `${op} in ${s}: ${e.message}`);
          ok = false;
        }
        assert.equal(ok, r.states.includes(s), `${op} in ${s}`);
      }
  });
});
