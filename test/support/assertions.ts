/** Assertions shared by the unit tests. */
import assert from "node:assert/strict";
import { ZoneError } from "../../src/native/errors.js";

/** fn must throw a ZoneError whose message holds every fragment; returns the message. */
export function zoneError(fn: () => unknown, ...fragments: string[]): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ZoneError, `expected a ZoneError, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return e.message;
  }
  assert.fail(`expected an error mentioning ${fragments.join(", ")}`);
}
