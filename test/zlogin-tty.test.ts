/**
 * Interactive zlogin on a real terminal (`script` provides it): the login shell runs on
 * a pseudo-terminal of the zone's own, sized like the caller's, and its exit status
 * comes back.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { BIN } from "./helpers.js";
import { ZoneTestRoot } from "./zones.js";

const root = new ZoneTestRoot("tty");
after(() => root.remove());

before(() => {
  root.ok("zonecfg", ["-z", "tz", `create; set zonepath=${path.join(root.dir, "zones/tz")}; set brand=minimal`]);
  root.ok("zoneadm", ["-z", "tz", "install"]);
  root.ok("zoneadm", ["-z", "tz", "boot"]);
});

after(() => {
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
