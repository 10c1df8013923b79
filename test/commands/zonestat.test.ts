/**
 * zonestat's operands and options: each mistake is one line naming the value, and a
 * non-zero exit (2 for usage, 1 for a zone that does not exist), before any sampling.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { TestRoot } from "../support/helpers.js";

const root = new TestRoot("zonestat-args");
after(() => root.remove());

describe("zonestat refuses bad input", () => {
  const cases: [string[], number, string][] = [
    [["0"], 2, `zonestat: interval must be more than 0: "0"`],
    [["0s"], 2, `zonestat: interval must be more than 0: "0s"`],
    [["x"], 2, `zonestat: interval must be seconds or [nh][nm][ns]: "x"`],
    [["1.5"], 2, `zonestat: interval must be seconds or [nh][nm][ns]: "1.5"`],
    [["-1"], 2, `zonestat: interval must be seconds or [nh][nm][ns]: "-1"`],
    [["1", "-1"], 2, `zonestat: duration must be a count of 1 or more, a time, or inf: "-1"`],
    [["1", "0"], 2, `zonestat: duration must be a count of 1 or more, a time, or inf: "0"`],
    [["1", "1", "1"], 2, `zonestat: too many operands: "1"`],
    [["-r", "cpu", "1"], 2, `zonestat: unknown resource "cpu"; known: summary, physical-memory, virtual-memory, processes, lwps, network, memory, limits, all`],
    [["-P", "zones", "1"], 2, `zonestat: -P needs -p`],
    [["-p", "-P", "bogus", "1"], 2, `zonestat: unknown line kind "bogus"; known: resource, total, system, zones, header, footer`],
    [["-z", "", "1"], 2, `zonestat: -z has an empty name: ""`],
    [["-R", "total", "1"], 2, `zonestat: option -R (summary reports) is not implemented yet`],
    [["-x", "1"], 2, `zonestat: unknown option "-x"`],
    [["-z", "nosuch", "1", "1"], 1, `zonestat: zone "nosuch" does not exist`],
  ];
  for (const [args, status, line] of cases) {
    test(`zonestat ${args.join(" ")}`, () => {
      const r = root.run("zonestat", args);
      assert.equal(r.stderr, line + "\n");
      assert.equal(r.status, status);
      assert.equal(r.stdout, "");
    });
  }

  test("no interval: the usage", () => {
    const r = root.run("zonestat", []);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^zonestat: an interval is required\nusage: zonestat /);
  });

  test("a time as interval and as duration (1s 1s: one report); -z global", () => {
    const r = root.run("zonestat", ["-p", "-P", "zones", "-z", "global", "1s", "1s"]);
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^interval:summary:global:\d+\.\d\d:/m);
  });
});
