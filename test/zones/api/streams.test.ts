/**
 * The API's streams against a real zoneadmd and a real minimal zone: exec over
 * WebSockets (output, stdin, exit status, a pty and its window size), exec with its
 * output recorded, the login shell and the console WebSockets; and who may: alice
 * (login on "web") may, bob (no admin entry) and alice on "other" get 403.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { TOP } from "../../support/helpers.js";
import { HostUser } from "../../support/hostuser.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { ApiClient } from "../../support/api.js";
import { WsTerminal, execWs, upgradeStatus, type ExecResult } from "../../support/wsexec.js";

const root = new ZoneTestRoot("apiws");
const users: HostUser[] = [];
let api: ApiClient;
let alice: HostUser;
let bob: HostUser;

before(() => {
  alice = HostUser.into(users, "a");
  bob = HostUser.into(users, "b");
  root.minimalZone("web", [[alice.name, "login"]]);
  root.minimalZone("other", [[alice.name, "manage"]]);
  root.ok("zoneadm", ["-z", "web", "install"]);
  root.ok("zoneadm", ["-z", "web", "boot"]);
  api = new ApiClient(root.paths.runDir);
});

after(() => {
  api?.close();
  try {
    root.run("zoneadm", ["-z", "web", "halt"]);
    root.run("zoneadm", ["-z", "web", "uninstall", "-F"]);
  } finally {
    for (const u of users) u.remove();
    root.remove();
  }
});

/** wsrun.ts as host user `u`. */
function as(u: HostUser, ...args: string[]): ExecResult & { status: number; error: string } {
  const r = u.exec(root.env, process.execPath, [path.join(TOP, "dist/test/zones/api/wsrun.js"), root.paths.runDir, ...args]);
  return JSON.parse(r.stdout) as ExecResult & { status: number; error: string };
}

test("exec over WebSockets: the zone's name, stderr apart, stdin, and the exit status", async () => {
  const r = await execWs(api, "web", { command: ["zonename"] });
  assert.deepEqual([r.status, r.stdout, r.stderr, r.return, r.err], [202, "web\n", "", 0, ""]);
  const e = await execWs(api, "web", { command: ["sh", "-c", "echo out; echo err >&2; exit 7"] });
  assert.deepEqual([e.stdout, e.stderr, e.return], ["out\n", "err\n", 7]);
  const c = await execWs(api, "web", { command: ["sh", "-c", "tr a-z A-Z; id -u"], environment: { GREETING: "hi" } }, "hello zone\n");
  assert.deepEqual([c.stdout, c.return], ["HELLO ZONE\n0\n", 0]);
  const env = await execWs(api, "web", { command: ["sh", "-c", 'echo "$GREETING $HOME"'], environment: { GREETING: "hi" } });
  assert.equal(env.stdout, "hi /root\n");
  // A signal on the control socket reaches the command (through the runtime).
  const t0 = Date.now();
  const sig = await execWs(api, "web", { command: ["sh", "-c", "echo up; exec sleep 30"] }, "", (ws) => setTimeout(() => ws.control!.send(JSON.stringify({ command: "signal", signal: 15 })), 500));
  assert.deepEqual([sig.stdout, sig.return], ["up\n", 143]);
  assert.ok(Date.now() - t0 < 10_000);
});

test("exec with record-output: the output and status in the operation, no WebSocket", async () => {
  const op = await api.operate("POST", "/1.0/zones/web/exec", { body: { command: ["sh", "-c", "zonename; echo no >&2; exit 3"], "record-output": true } });
  assert.equal(op.status, "Success");
  assert.deepEqual(op.metadata, { return: 3, output: { "1": "web\n", "2": "no\n" } });
  const bad = await api.request("POST", "/1.0/zones/web/exec", { body: { command: "zonename" } });
  assert.equal(bad.status, 400);
  assert.match(bad.json!.error, /"command" must be a non-empty array of strings/);
  const stopped = await api.request("POST", "/1.0/zones/other/exec", { body: { command: ["true"] } });
  assert.deepEqual([stopped.status, stopped.json?.error], [409, "zone is configured; exec needs it running"]);
});

test("interactive exec: a pty of the window size asked, resized over the control socket", async () => {
  const r = await api.request("POST", "/1.0/zones/web/exec", { body: { command: ["sh", "-c", "stty size; read x; stty size; exit 5"], interactive: true, "wait-for-websocket": true, width: 100, height: 30 } });
  assert.equal(r.status, 202);
  const op = r.json!.metadata as { id: string; metadata: { fds: Record<string, string> } };
  assert.deepEqual(Object.keys(op.metadata.fds).sort(), ["0", "control"]);
  const wsUrl = (fd: string): string => `/1.0/operations/${op.id}/websocket?secret=${op.metadata.fds[fd]}`;
  assert.equal((await upgradeStatus(api, `/1.0/operations/${op.id}/websocket?secret=${"0".repeat(64)}`)).status, 403, "a wrong secret");
  const term = await WsTerminal.open(api, wsUrl("0"));
  const control = await WsTerminal.open(api, wsUrl("control"));
  await term.until(/30 100/);
  control.control({ command: "window-resize", args: { width: "50", height: "20" } });
  // The size reaches the zone's pty before the line that asks for it again.
  await new Promise((r) => setTimeout(r, 300));
  term.type("\r");
  await term.until(/20 50/);
  const done = await api.sync<{ metadata: { return: number } }>("GET", `/1.0/operations/${op.id}/wait?timeout=30`);
  assert.equal(done.metadata.return, 5);
  assert.equal((await term.ended())[0], 1000);
});

test("login WebSocket: a shell as the zone's root on a pty, resized in-band; exit ends it", async () => {
  const t = await WsTerminal.open(api, "/1.0/zones/web/login?width=90&height=25");
  t.type("zonename; stty size\r");
  await t.until(/\nweb\r?\n25 90/);
  t.control({ command: "window-resize", args: { width: 70, height: 22 } });
  t.control({ command: "bogus" });
  await t.until(/\[control \{"error":"control command \\"bogus\\" is not window-resize or signal"\}\]/);
  const from = t.text.length;
  t.type("stty size; id -u\r");
  await t.until(/22 70\r?\n0\r?\n/, from);
  t.type("exit\r");
  assert.equal((await t.ended())[0], 1000);
});

test("console WebSocket: the boot output replayed, keystrokes reach the console's shell, one client at a time", async () => {
  const t = await WsTerminal.open(api, "/1.0/zones/web/console");
  await t.until(/BusyBox/);
  const second = await upgradeStatus(api, "/1.0/zones/web/console");
  assert.deepEqual(second, { status: 409, error: "WebSocket refused with HTTP 409: the console is in use by another zlogin -C; only one may attach at a time" });
  const from = t.text.length;
  t.type("zonename\n");
  await t.until(/\nweb\r?\n/, from);
  // The console's own window size, set in-band.
  t.control({ command: "window-resize", args: { width: 111, height: 33 } });
  await new Promise((r) => setTimeout(r, 200));
  const later = t.text.length;
  t.type("stty size\n");
  await t.until(/\n33 111\r?\n/, later);
  t.ws.close();
  await t.ended();
  const none = await upgradeStatus(api, "/1.0/zones/other/console");
  assert.equal(none.status, 409);
});

test("another caller's exec streams are refused even with the secret", async () => {
  const r = await api.request("POST", "/1.0/zones/web/exec", { body: { command: ["cat"], "wait-for-websocket": true } });
  const op = r.json!.metadata as { id: string; metadata: { fds: Record<string, string> } };
  const url = (fd: string): string => `/1.0/operations/${op.id}/websocket?secret=${op.metadata.fds[fd]}`;
  const stolen = as(alice, "upgrade", url("1"));
  assert.equal(stolen.status, 403);
  assert.match(stolen.error, /no WebSocket of operation ".*" for this caller and secret/);
  const ws = await Promise.all(["0", "1", "2"].map((fd) => WsTerminal.open(api, url(fd))));
  assert.equal((await upgradeStatus(api, url("0"))).status, 403, "a secret is good once");
  ws[0]!.ws.send(Buffer.alloc(0));
  const done = await api.sync<{ metadata: { return: number } }>("GET", `/1.0/operations/${op.id}/wait?timeout=30`);
  assert.equal(done.metadata.return, 0);
});

test("alice (login on web) execs and logs in there; bob and alice on other get 403", () => {
  const ok = as(alice, "exec", "web", JSON.stringify({ command: ["sh", "-c", "zonename; exit 4"] }));
  assert.deepEqual([ok.status, ok.stdout, ok.return], [202, "web\n", 4], JSON.stringify(ok));
  assert.equal(as(alice, "upgrade", "/1.0/zones/web/login").status, 101);
  const refusedExec = as(bob, "exec", "web", JSON.stringify({ command: ["zonename"] }));
  assert.equal(refusedExec.status, 403);
  assert.match(refusedExec.error, new RegExp(`^user "${bob.name}" is not authorized to log in to this zone`));
  for (const p of ["/1.0/zones/web/console", "/1.0/zones/web/login"]) {
    const r = as(bob, "upgrade", p);
    assert.equal(r.status, 403, `bob ${p}`);
    assert.match(r.error, new RegExp(`user "${bob.name}" is not authorized to (log in to|attach to the console of) this zone`));
  }
  const other = as(alice, "upgrade", "/1.0/zones/other/console");
  assert.equal(other.status, 403);
  assert.match(other.error, /set auths=login/);
});
