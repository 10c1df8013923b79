/**
 * The sparklines' geometry (web/sparkgeom.js): points placed by their samples' times
 * across the span shown, the line broken at a gap, even spacing without times.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { TOP } from "../support/helpers.js";

interface SparkGeom {
  sparkRuns(values: number[], o: { width: number; height: number; max?: number; times?: number[]; span?: number }): string[];
}
const load = async (): Promise<SparkGeom> => (await import(pathToFileURL(path.join(TOP, "web/sparkgeom.js")).href)) as SparkGeom;
const xs = (run: string): number[] => run.split(" ").map((p) => Number(p.split(",")[0]));

test("without times the points are spaced evenly across the width", async () => {
  const { sparkRuns } = await load();
  assert.deepEqual(sparkRuns([0, 1, 2], { width: 102, height: 22 }).map(xs), [[1, 51, 101]]);
});

test("with times a point lies where its time is within the span, and the newest at the right edge", async () => {
  const { sparkRuns } = await load();
  const t0 = 1_767_225_600_000;
  // Four samples 15 s apart, the newest at t0 + 45 s, in a 60 s span: the oldest is 45 s back, a quarter in.
  const runs = sparkRuns([1, 2, 3, 4], { width: 102, height: 22, times: [0, 15, 30, 45].map((s) => t0 + s * 1000), span: 60 });
  assert.deepEqual(runs.map(xs), [[26, 51, 76, 101]]);
});

test("a gap of more than three intervals (a halt, a daemon restart) breaks the line", async () => {
  const { sparkRuns } = await load();
  const t0 = 1_767_225_600_000;
  const s = [0, 15, 30, 600, 615, 630];
  const runs = sparkRuns([1, 1, 1, 2, 2, 2], { width: 102, height: 22, times: s.map((x) => t0 + x * 1000), span: 630 });
  assert.equal(runs.length, 2, JSON.stringify(runs));
  assert.ok(xs(runs[0]!)[2]! < 10 && xs(runs[1]!)[0]! > 90, JSON.stringify(runs));
});

test("samples older than the span are left out; a value that is not a number breaks the line; one point draws nothing", async () => {
  const { sparkRuns } = await load();
  const t0 = 1_767_225_600_000;
  const times = [0, 15, 30, 45, 60].map((x) => t0 + x * 1000);
  assert.deepEqual(sparkRuns([9, 1, 1, 1, 1], { width: 102, height: 22, times, span: 45 }).map(xs), [[1, 34.3, 67.7, 101]]);
  // The scale is that of the values shown: the 1s are at the top, not a ninth of the way up.
  assert.ok(sparkRuns([9, 1, 1, 1, 1], { width: 102, height: 22, times, span: 45 })[0]!.split(" ").every((p) => p.endsWith(",1.0")));
  assert.equal(sparkRuns([1, 1, Number.NaN, 1, 1], { width: 102, height: 22, times, span: 60 }).length, 2);
  assert.deepEqual(sparkRuns([1], { width: 102, height: 22 }), []);
  // Times that do not match the values one for one are ignored: even spacing.
  assert.deepEqual(sparkRuns([0, 1], { width: 102, height: 22, times: [t0] }).map(xs), [[1, 101]]);
});
