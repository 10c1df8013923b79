/**
 * A zone's user namespace made ahead for its next boot (src/platform/usernsahead.ts):
 * the boot takes the one made for the zone's slot, once; one made for another slot
 * (the zone reinstalled since) is not used; uninstall drops it.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, test } from "node:test";
import { UsernsAhead } from "../../src/platform/usernsahead.js";
import { SLOT_SIZE } from "../../src/platform/slots.js";

/** Slot bases far above any this host's zones use. */
const BASE = 16000 * SLOT_SIZE;

describe("user namespaces made ahead", () => {
  test("the boot takes the one made for its slot, once", async () => {
    const ahead = new UsernsAhead();
    ahead.prepare("z", BASE);
    const made = await ahead.peek("z")!;
    const taken = await ahead.take("z", BASE);
    try {
      assert.equal(taken, made);
      assert.notEqual(fs.readlinkSync(taken.path), fs.readlinkSync("/proc/self/ns/user"));
      assert.equal(ahead.peek("z"), undefined, "taken once");
    } finally {
      taken.release();
    }
  });

  test("one made for another slot is not used; uninstall drops it", async () => {
    const ahead = new UsernsAhead();
    ahead.prepare("z", BASE);
    const old = await ahead.peek("z")!;
    const taken = await ahead.take("z", BASE + SLOT_SIZE);
    try {
      assert.notEqual(taken, old);
    } finally {
      taken.release();
    }
    ahead.prepare("y", BASE);
    ahead.drop("y");
    assert.equal(ahead.peek("y"), undefined);
  });
});
