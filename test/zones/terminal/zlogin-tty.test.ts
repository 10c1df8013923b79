/**
 * Interactive zlogin on a real terminal (`script` provides it): the login shell runs on
 * a pseudo-terminal of the zone's own, sized like the caller's, and its exit status
 * comes back.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { BIN } from "../../support/helpers.js";
import { runtimeExecStdin, Terminal } from "../../support/terminal.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("tty");
after(() => root.remove());

before(() => {
  root.ok("zonecfg", ["-z", "tz", `create; set zonepath=${path.join(root.dir, "zones/tz")}; set brand=minimal`]);
  root.ok("zoneadm", ["-z", "tz", "install"]);
  root.ok("zoneadm", ["-z", "tz", "boot"]);
});

after(() => {
  Terminal.closeAll();
  root.run("zoneadm", ["-z", "tz", "halt"]);
  root.run("zoneadm", ["-z", "tz", "uninstall", "-F"]);
});

function login(args: string[], input: string): { status: number; screen: string } {
  const cmd = `stty cols 97 rows 31; ${path.join(BIN, "zlogin")} ${args.join(" ")}`;
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { env: root.env, input, encoding: "utf8", timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, screen: r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "") };
}

test("an interactive login gets a terminal of the zone's own, the caller's size, and its exit status", () => {
  const { status, screen } = login(["tz"], "tty; stty size; ls -l /proc/$$/fd; zonename; exit 3\n");
  assert.equal(status, 3);
  assert.match(screen, /^\[Connected to zone 'tz'\]$/m);
  assert.match(screen, /^\/dev\/pts\/\d+$/m, "tty names the zone's own devpts");
  assert.match(screen, /^31 97$/m);
  assert.match(screen, /^tz$/m);
  assert.match(screen, /\[Connection to zone 'tz' closed\]/);
  // Every descriptor of the zone's shell is the zone's terminal: no host terminal fd entered.
  const fds = screen.split("\n").filter((l) => / \d+ -> /.test(l));
  assert.ok(fds.length >= 3);
  for (const l of fds) assert.match(l, /-> \/dev\/(pts\/\d+|tty)$/, "the zone pty, or /dev/tty, which is that same controlling terminal");
});

test("-Q drops the banners; -S gives root a plain shell for repairs", () => {
  const { status, screen } = login(["-Q", "-S", "tz"], "id -u; exit\n");
  assert.equal(status, 0);
  assert.doesNotMatch(screen, /Connected to zone/);
  assert.match(screen, /^0$/m);
  assert.equal(root.run("zlogin", ["-S", "-l", "nobody", "tz", "true"]).status, 2);
});

test("without a terminal and without a command, the shell reads standard input", () => {
  assert.equal(root.ok("zlogin", ["tz"], "echo $((6 * 7))\n"), "42\n");
});

/** An interactive zlogin on a terminal 97x31 whose keyboard the test holds. */
function session(args: string[], before = ""): Terminal {
  return Terminal.open(`stty cols 97 rows 31; ${before}${path.join(BIN, "zlogin")} ${args.join(" ")}`, root.env);
}

test("~. at a line start disconnects, elsewhere it is typed; -e changes the character", async () => {
  // Login shells run as `/bin/sh -l`; none is left when the sessions are gone.
  const shells = (): string[] => root.ok("zlogin", ["tz", "ps", "-o", "pid,args"]).split("\n").filter((l) => / -l$/.test(l));
  const before = shells();
  assert.deepEqual(before, []);
  const t = session(["tz"]);
  t.type("echo x~.y\n");
  await t.see(/^x~\.y$/m); // not at a line start: passed on
  t.type("~.");
  assert.equal(await t.exited(), 129, "the shell was hung up");
  assert.match(t.screen, /\[Connection to zone 'tz' closed\]/);
  const u = session(["-e", "%", "tz"]);
  u.type("echo a~.b\n");
  await u.see(/^a~\.b$/m);
  u.type("%.");
  await u.exited();
  assert.match(u.screen, /closed\]/);
  let after = shells();
  for (let i = 0; i < 50 && after.length > 0; i++, await new Promise((r) => setTimeout(r, 100))) after = shells();
  assert.deepEqual(after, [], "the hung-up login shells are gone");
});

test("with ~. watched, the runtime reads the keys from a raw host terminal, not from a pipe", async () => {
  // crun 1.8 sets up its terminal from its stdin's modes (tcgetattr): on a pipe the login
  // never starts. runc works either way, so this looks at what the runtime was given.
  const t = session(["-Q", "tz"]);
  await t.typeUntil("echo in-$((3 * 3))\n", /^in-9$/m);
  const stdin = runtimeExecStdin(root.dir);
  assert.match(stdin.link, /^\/dev\/pts\/\d+$/, "a host pty, not the pipe of old");
  // Raw: a cooked pty would hold the keys back until a newline and echo them.
  for (const flag of ["-icanon", "-echo", "-isig"]) assert.match(stdin.modes, new RegExp(`(^|\\s)${flag}(\\s|$)`));
  t.type("exit 4\n");
  assert.equal(await t.exited(), 4);
});

test("a resize of the caller's terminal reaches the zone's terminal", async () => {
  const t = session(["tz"], "(sleep 1; stty -F /dev/tty cols 120 rows 40; echo RESIZED) & ");
  await t.see(/RESIZED/);
  await t.typeUntil("stty size\n", /^40 120$/m);
  t.type("exit\n");
  assert.equal(await t.exited(), 0);
});

test("Ctrl-C interrupts the zone's foreground job and Ctrl-Z stops it; the shell stays", async () => {
  const t = session(["-Q", "tz"]);
  t.type("sleep 300\n");
  await new Promise((r) => setTimeout(r, 500));
  t.type("\x03");
  await t.typeUntil("echo after-$((2 * 21))\n", /^after-42$/m); // the shell is back at its prompt
  t.type("sleep 301\n");
  await new Promise((r) => setTimeout(r, 500));
  t.type("\x1a");
  await t.typeUntil("jobs\n", /Stopped.*sleep 301/);
  t.type("kill -9 %1; echo killed-$((1 + 1))\n");
  await t.see(/^killed-2$/m);
  await t.typeUntil("jobs -l; echo jobs-done\n", /Killed[^\n]*sleep 301/); // the shell has seen the job end
  t.type("exit 5\n");
  assert.equal(await t.exited(), 5);
});
