/**
 * A zone's run state as zoneadmd keeps it (src/document/store/runstate.ts): read again
 * only when its file is replaced, and the zone IDs of a root as its run directories say,
 * from what writeRun recorded: a halted zone's ID is free, a new ready's ID is seen.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { zonePaths } from "../../src/document/store/paths.js";
import { readRun, runFile, runningIds, writeRun, zoneRunDir, type RunState } from "../../src/document/store/runstate.js";
import { freshRepo, useTempParent } from "./repositorysupport.js";

useTempParent();

function run(name: string, id: number): RunState {
  return { zonename: name, id, pid: 0, runtime: "runc", since: "", root: "/", booted: false, consoleHolder: 0 };
}

test("run state and zone IDs follow the files", () => {
  const { root } = freshRepo();
  const paths = zonePaths({ ZONES_ROOT: root });
  for (const [n, id] of [["a", 1], ["b", 2]] as const) {
    fs.mkdirSync(zoneRunDir(paths, n), { recursive: true });
    writeRun(paths, n, run(n, id));
  }
  assert.deepEqual([...runningIds(paths)].sort(), [["a", 1], ["b", 2]]);
  // A halt removes the run directory: its ID is free again.
  fs.rmSync(zoneRunDir(paths, "a"), { recursive: true });
  assert.deepEqual([...runningIds(paths)], [["b", 2]]);
  assert.equal(readRun(paths, "a"), undefined);
  // The next ready of the zone records another ID: that one is seen, not the old.
  fs.mkdirSync(zoneRunDir(paths, "a"), { recursive: true });
  writeRun(paths, "a", run("a", 3));
  assert.deepEqual([...runningIds(paths)].sort(), [["a", 3], ["b", 2]]);
  // A run file replaced by another writer is read again (a new inode), not remembered.
  const b = readRun(paths, "b")!;
  const tmp = path.join(zoneRunDir(paths, "b"), "new");
  fs.writeFileSync(tmp, JSON.stringify({ ...b, pid: 42 }));
  fs.renameSync(tmp, runFile(paths, "b"));
  assert.equal(readRun(paths, "b")!.pid, 42);
  const mine = readRun(paths, "b")!;
  mine.pid = 7;
  assert.equal(readRun(paths, "b")!.pid, 42, "a reader's copy is its own");
});
