/**
 * Delegated administration (zonecfg `add admin`) with real unprivileged host users:
 * alice has login,manage on zone "web" and nothing on "other"; bob has no admin entry
 * at all. Through zoneadmd's admin socket alice logs in (a command, stdio and exit
 * status; a terminal session) and boots, halts, reboots and shuts "web" down; every
 * other request is refused with one line, and removing her admin entry revokes at once.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { BIN, TOP, collect, until } from "../../support/helpers.js";
import { HostUser } from "../../support/hostuser.js";
import { runtimeExecStdin, Terminal } from "../../support/terminal.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { adminSocketPath } from "../../../src/daemon/protocol.js";

const root = new ZoneTestRoot("admin");
const users: HostUser[] = [];
let alice: HostUser;
let bob: HostUser;

before(() => {
  alice = HostUser.into(users, "a");
  bob = HostUser.into(users, "b");
  root.minimalZone("web", [[alice.name, "login,manage"]]);
  root.minimalZone("other");
  root.ok("zoneadm", ["-z", "web", "install"]);
  root.ok("zoneadm", ["-z", "other", "install"]);
  root.ok("zoneadm", ["-z", "web", "boot"]);
});

after(() => {
  Terminal.closeAll();
  try {
    root.run("zoneadm", ["-z", "web", "halt"]);
    root.run("zoneadm", ["-z", "web", "uninstall", "-F"]);
    root.run("zoneadm", ["-z", "other", "uninstall", "-F"]);
  } finally {
    for (const u of users) u.remove();
    root.remove();
  }
});

const state = (zone: string): string => root.ok("zoneadm", ["-z", zone, "list", "-p"]).split(":")[2]!;
const sock = (): string => adminSocketPath(root.paths.runDir);
/** One line on stderr, with the command's prefix: no stack trace. */
function oneLine(stderr: string, ...has: string[]): void {
  const lines = stderr.split("\n").filter((l) => l !== "" && !l.includes("warning:"));
  assert.equal(lines.length, 1, `one line: ${JSON.stringify(stderr)}`);
  for (const h of has) assert.ok(lines[0]!.includes(h), `${JSON.stringify(lines[0])} mentions ${JSON.stringify(h)}`);
}
/** The raw client (rawclient.ts) as `u`: what came back. */
function raw(u: HostUser, line: string, ...flags: string[]): string {
  return u.exec(root.env, process.execPath, [path.join(TOP, "dist/test/zones/admin/rawclient.js"), sock(), line, ...flags]).stdout;
}

test("zonecfg refuses auths that would do nothing; zoneadm verify refuses a user the host lacks", () => {
  for (const [auth, why] of [
    ["config", "only root changes"],
    ["clonefrom", "no zoneadm clone"],
  ] as const) {
    const r = root.run("zonecfg", ["-z", "x", `create; set zonepath=${path.join(root.dir, "zones/x")}; add admin; set user=${alice.name}; set auths=login,${auth}; end; commit`]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`"${auth}" is not supported: .*${why}`));
  }
  root.ok("zonecfg", ["-z", "x", `create; set zonepath=${path.join(root.dir, "zones/x")}; set brand=minimal; add admin; set user=zadm-nobody-here; set auths=login; end`]);
  try {
    const r = root.run("zoneadm", ["-z", "x", "verify"]);
    assert.equal(r.status, 1);
    oneLine(r.stderr, 'admin user "zadm-nobody-here" does not exist on this host');
  } finally {
    root.ok("zonecfg", ["-z", "x", "delete", "-F"]);
  }
});

test("alice runs a command in web: its stdin, stdout, stderr and exit status", () => {
  const r = alice.run(root.env, "zlogin", ["web", "read x; echo got $x; echo to-err >&2; zonename; exit 7"], "hello\n");
  assert.equal(r.status, 7, r.stderr);
  assert.equal(r.stdout, "got hello\nweb\n");
  assert.equal(r.stderr, "to-err\n");
  // Several arguments reach the program as given; -n gives it no input.
  assert.equal(alice.run(root.env, "zlogin", ["-n", "web", "sh", "-c", "cat; echo $0 $1", "a b"], "ignored\n").stdout, "a b\n");
});

test("alice's interactive login has the zone's own terminal; ~. disconnects", async () => {
  const cmd = (args: string): string => `stty cols 97 rows 31; ${alice.argv(path.join(BIN, "zlogin"), []).join(" ")} ${args}`;
  const t = Terminal.open(cmd("web"), root.env);
  t.type("tty; stty size; exit 3\n");
  assert.equal(await t.exited(), 3);
  assert.match(t.screen, /^\[Connected to zone 'web'\]$/m);
  assert.match(t.screen, /^\/dev\/pts\/\d+$/m);
  assert.match(t.screen, /^31 97$/m);
  const u = Terminal.open(cmd("web"), root.env);
  await u.see(/Connected/);
  u.type("echo a~.b\n");
  await u.see(/^a~\.b$/m);
  // Her keys reach the runtime through a raw host pty, as root's do (crun needs a terminal there).
  const stdin = runtimeExecStdin(root.dir);
  assert.match(stdin.link, /^\/dev\/pts\/\d+$/);
  assert.match(stdin.modes, /(^|\s)-icanon(\s|$)/);
  u.type("~.");
  assert.equal(await u.exited(), 129, "the shell was hung up");
  // login also opens the console (zlogin -C); ~. detaches.
  const c = Terminal.open(cmd("-C web"), root.env);
  await c.see(/^\[Connected to zone 'web' console\]$/m);
  c.type("~.");
  assert.equal(await c.exited(), 0);
});

test("a signal alice's zlogin gets reaches the command in the zone", async () => {
  const s = alice.start(root.env, "zlogin", ["web", 'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.1; done']);
  // setpriv execs zlogin: the pid is zlogin's once it runs as alice.
  await until("zlogin to run as alice", () => fs.statSync(`/proc/${s.pid}`).uid === alice.uid && fs.readFileSync(`/proc/${s.pid}/cmdline`, "utf8").includes("zlogin"));
  await new Promise((r) => setTimeout(r, 1500));
  process.kill(s.pid, "SIGTERM");
  const r = await s.done;
  assert.equal(r.status, 9, r.stderr);
  assert.match(r.stdout, /got-term/);
  // A zlogin killed outright hangs its session up: nothing of it stays in the zone.
  const k = alice.start(root.env, "zlogin", ["web", "sleep 4321"]);
  const inZone = (): boolean => root.ok("zlogin", ["web", "ps -o args"]).includes("sleep 4321");
  await until("the command to run in the zone", inZone);
  process.kill(k.pid, "SIGKILL");
  // Not k.done: its pipes stay open for as long as the command in the zone holds them.
  await until("the hung-up command to end", () => !inZone());
  await k.done;
});

test("alice halts, boots, reboots and shuts web down; she can do nothing to other", () => {
  assert.equal(alice.run(root.env, "zoneadm", ["-z", "web", "reboot"]).status, 0);
  assert.equal(state("web"), "running");
  assert.equal(alice.run(root.env, "zoneadm", ["-z", "web", "halt"]).status, 0);
  assert.equal(state("web"), "installed");
  assert.equal(alice.run(root.env, "zoneadm", ["-z", "web", "boot"]).status, 0);
  assert.equal(state("web"), "running");
  assert.equal(alice.run(root.env, "zoneadm", ["-z", "web", "shutdown"]).status, 0);
  assert.equal(state("web"), "installed");
  assert.equal(alice.run(root.env, "zoneadm", ["-z", "web", "boot"]).status, 0);
  const h = alice.run(root.env, "zoneadm", ["-z", "other", "halt"]);
  assert.equal(h.status, 1);
  oneLine(h.stderr, `user "${alice.name}" is not authorized to halt this zone`, `set user=${alice.name}; set auths=manage`);
  const l = alice.run(root.env, "zlogin", ["other", "true"]);
  assert.equal(l.status, 1);
  oneLine(l.stderr, "not authorized to log in to this zone");
  // zoneadm's own check comes first for boot; the daemon refuses the raw request all the same.
  assert.match(raw(alice, JSON.stringify({ op: "boot", zone: "other" })), /"ok":false.*not authorized to boot this zone/);
  assert.equal(state("other"), "installed");
});

test("root's operations and a spoofed uid are refused; nothing reaches the zone", () => {
  for (const op of ["install", "uninstall", "ready", "post", "stats"]) assert.match(raw(alice, JSON.stringify({ op, zone: "web", channel: "x", message: "m" })), new RegExp(`"ok":false,"error":"operation \\\\"${op}\\\\" is for root only"`), op);
  // The uid is the kernel's (SO_PEERCRED): one in the request is not even read.
  assert.match(raw(alice, JSON.stringify({ op: "halt", zone: "other", uid: 0, user: "root", peer: { uid: 0 } })), /not authorized to halt/);
  assert.match(raw(alice, JSON.stringify({ op: "boot", zone: "web", init: ["/bin/sh"] })), /boot arguments \(-- -i init\) are for root only/);
  assert.match(raw(alice, JSON.stringify({ op: "halt", zone: "../web" })), /"ok":false/);
  assert.equal(state("web"), "running");
  assert.equal(state("other"), "installed");
});

test("a user with no admin entry at all gets nothing; zonecfg as alice fails in one line", () => {
  const r = bob.run(root.env, "zlogin", ["web", "true"]);
  assert.equal(r.status, 1);
  oneLine(r.stderr, `user "${bob.name}" is not authorized to log in to this zone`);
  assert.equal(bob.run(root.env, "zoneadm", ["-z", "web", "halt"]).status, 1);
  assert.match(raw(bob, JSON.stringify({ op: "console", zone: "web" })), /not authorized to attach to the console/);
  const c = alice.run(root.env, "zonecfg", ["-z", "web", "set autoboot=true"]);
  assert.equal(c.status, 1);
  oneLine(c.stderr, "only root changes zone configurations");
  assert.equal(state("web"), "running");
  // Beyond what zoneadm list shows, zone state stays root's: the run directory is closed to her.
  assert.notEqual(alice.exec(root.env, "/bin/ls", [root.paths.runDir]).status, 0);
  assert.match(alice.run(root.env, "zoneadm", ["list", "-c"]).stdout, /^web$/m);
});

test("the admin socket reads one bounded request quickly and takes no directory as stdio", async () => {
  assert.match(raw(alice, "x".repeat(5000), "--no-newline"), /request longer than 4096 bytes/);
  assert.match(raw(alice, "{not json"), /malformed request/);
  assert.match(raw(alice, JSON.stringify({ op: "login", zone: "web", login: { user: "root", safe: false, terminal: false, argv: ["ls"], term: "x" } }), "--dir-stdin"), /the stdin passed is a directory/);
  // The terminal size she may name for the zone's pty: whole rows and columns, bounded.
  for (const size of [{ height: 0, width: 80 }, { height: 24, width: 1e9 }, { height: 2.5, width: 80 }, "24x80"])
    assert.match(raw(alice, JSON.stringify({ op: "login", zone: "web", login: { user: "root", safe: false, terminal: true, argv: [], term: "x", size } }), "--stdio"), /login: invalid window size .*: height and width must be whole numbers from 1 to 10000/);
  // Clients that send nothing are dropped after 5 s; eight at once are all one uid
  // may have on the way, and meanwhile other users are served.
  const t0 = Date.now();
  const idle = Array.from({ length: 8 }, () => {
    const [bin, ...args] = alice.argv(process.execPath, [path.join(TOP, "dist/test/zones/admin/rawclient.js"), sock(), "", "--no-newline"]);
    return collect(spawn(bin!, args, { stdio: ["ignore", "pipe", "pipe"] }));
  });
  await new Promise((r) => setTimeout(r, 1000));
  assert.match(raw(alice, JSON.stringify({ op: "ping" })), /has 8 requests on the way already/);
  assert.match(raw(bob, JSON.stringify({ op: "ping" })), /"ok":true,"pid":/);
  assert.ok(Date.now() - t0 < 4000, "served while the idle clients wait");
  for (const r of await Promise.all(idle)) assert.match(r.stdout, /no request within 5 s/);
  assert.ok(Date.now() - t0 < 10_000);
  assert.equal(alice.run(root.env, "zlogin", ["web", "echo served"]).stdout, "served\n");
});

test("removing alice's admin entry revokes at once; login alone does not manage", () => {
  root.ok("zonecfg", ["-z", "web", `select admin user=${alice.name}; set auths=login; end`]);
  assert.equal(alice.run(root.env, "zlogin", ["web", "true"]).status, 0);
  assert.match(alice.run(root.env, "zoneadm", ["-z", "web", "halt"]).stderr, /set auths=manage/);
  root.ok("zonecfg", ["-z", "web", `remove admin user=${alice.name}`]);
  const r = alice.run(root.env, "zlogin", ["web", "true"]);
  assert.equal(r.status, 1);
  oneLine(r.stderr, "not authorized to log in");
  assert.equal(state("web"), "running");
});

test("with zoneadmd stopped, alice is told so and starts none", async () => {
  const pid = root.daemonPid();
  assert.ok(pid);
  root.killDaemon();
  await until("zoneadmd to end", () => !fs.existsSync(`/proc/${pid}/cmdline`) || fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"));
  const r = alice.run(root.env, "zoneadm", ["-z", "web", "halt"]);
  assert.equal(r.status, 1);
  oneLine(r.stderr, "zoneadmd is not running; ask root");
  oneLine(alice.run(root.env, "zlogin", ["web", "true"]).stderr, "zoneadmd is not running; ask root");
  assert.equal(root.daemonPid(), pid, "no daemon was started (the pid file is the dead one's)");
  root.ok("zoneadm", ["runtime"]);
});
