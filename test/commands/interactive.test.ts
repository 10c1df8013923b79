/**
 * Interactive zonecfg on a real terminal: `script` gives it a pseudo-terminal, so
 * readline runs in terminal mode with prompts, line editing and confirmations.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, test } from "node:test";
import { BIN, TestRoot } from "../support/helpers.js";

const root = new TestRoot("tty");
after(() => root.remove());

/** Type `input` into `zonecfg -z zone` on a pty; returns what the terminal showed. */
function onTerminal(zone: string, input: string): { status: number; screen: string } {
  const r = spawnSync("script", ["-qec", `${path.join(BIN, "zonecfg")} -z ${zone}`, "/dev/null"], {
    env: root.env,
    input,
    encoding: "utf8",
    timeout: 30_000,
  });
  if (r.error) throw r.error;
  // Drop cursor-movement escapes and carriage returns: keep what a reader sees.
  return { status: r.status ?? -1, screen: r.stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r/g, "") };
}

test("prompts name the zone and the resource scope; end of input commits", () => {
  const zp = `${root.dir}/zones/web`;
  const { status, screen } = onTerminal("web", `create\nset zonepath=${zp}\nadd fs\nset dir=/data\nset special=/srv/data\nset type=lofs\nend\ninfo fs\n`);
  assert.equal(status, 0);
  assert.match(screen, /web: No such zone configured\nUse 'create' to begin configuring a new zone\./);
  assert.match(screen, /zonecfg:web> /);
  assert.match(screen, /zonecfg:web:fs> /);
  assert.match(screen, /fs:\n\tdir: \/data\n\tspecial: \/srv\/data/);
  assert.match(root.ok("zonecfg", ["-z", "web", "info fs"]), /dir: \/data/);
});

test("line editing: backspace removes the character before it", () => {
  onTerminal("web", "set bootargs=abX\x7f\nexit\n");
  assert.equal(root.ok("zonecfg", ["-z", "web", "info bootargs"]), "bootargs: ab\n");
});

test("errors are shown and the session goes on; exit -F drops changes", () => {
  const { screen } = onTerminal("web", "set autoboot=perhaps\nset bootargs=changed\nexit -F\n");
  assert.match(screen, /autoboot must be true or false: "perhaps"/);
  assert.equal(root.ok("zonecfg", ["-z", "web", "info bootargs"]), "bootargs: ab\n");
});

test("delete asks for confirmation on the terminal", () => {
  const no = onTerminal("web", "delete\nn\nexit\n");
  assert.match(no.screen, /Are you sure you want to delete zone web \(y\/\[n\]\)\?/);
  assert.match(root.ok("zoneadm", ["list", "-c"]), /^web$/m);
  onTerminal("web", "delete\ny\n");
  assert.doesNotMatch(root.ok("zoneadm", ["list", "-c"]), /^web$/m);
});
