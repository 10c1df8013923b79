/**
 * The process of a zlogin (src/platform/loginproc.ts): an interactive one carries the
 * caller's terminal size as its consoleSize, so that the runtime makes the zone's pty
 * with it instead of resizing it once the process may already run.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import { loginProcess } from "../../src/platform/loginproc.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-loginproc-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const root = path.join(dir, "root");
fs.mkdirSync(path.join(root, "etc"), { recursive: true });
fs.writeFileSync(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
const template = path.join(dir, "process.json");
fs.writeFileSync(template, JSON.stringify({ terminal: false, user: { uid: 0, gid: 0 }, args: [], env: ["PATH=/bin"], cwd: "/" }));

const spec = { root, user: "root", safe: false, argv: [], term: "xterm" };

test("an interactive login's pty has the caller's size from its creation", () => {
  assert.deepEqual(loginProcess(template, { ...spec, terminal: true, size: { height: 31, width: 97 } }).consoleSize, { height: 31, width: 97 });
});

test("no size without a terminal, nor when none is known", () => {
  assert.equal(loginProcess(template, { ...spec, terminal: false, size: { height: 31, width: 97 } }).consoleSize, undefined);
  assert.equal(loginProcess(template, { ...spec, terminal: true }).consoleSize, undefined);
});
