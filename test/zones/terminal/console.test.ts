/**
 * The zone console (zlogin -C), driven on real terminals: the terminal of the zone's
 * init, output replayed on attach, one client at a time, ~. to detach, attached across
 * reboots, recovered after a zoneadmd SIGKILL, kept by a new holder when its holder is
 * killed, and -d dropping the connection at halt.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { EscapeFilter } from "../../../src/cmd/zlogin/escape.js";
import { BIN } from "../../support/helpers.js";
import { Terminal } from "../../support/terminal.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("cons");
after(() => root.remove());

/** zlogin -C on a pty whose keyboard the test holds. */
function attach(args: string[]): Terminal {
  return Terminal.open(`${path.join(BIN, "zlogin")} -C ${args.join(" ")}`, root.env);
}

test("the escape filter: ~. at a line start disconnects, ~~ sends one ~, -E passes all", () => {
  const f = new EscapeFilter(0x7e);
  assert.deepEqual(f.feed(Buffer.from("ls ~/x\n")), { out: Buffer.from("ls ~/x\n"), disconnect: false });
  assert.deepEqual(f.feed(Buffer.from("~~")), { out: Buffer.from("~"), disconnect: false });
  const g = new EscapeFilter(0x7e);
  assert.equal(g.feed(Buffer.from("~.")).disconnect, true);
  const h = new EscapeFilter(0x7e);
  assert.deepEqual(h.feed(Buffer.from("echo\r~a")), { out: Buffer.from("echo\r~a"), disconnect: false });
  assert.equal(new EscapeFilter(undefined).feed(Buffer.from("~.")).disconnect, false);
  assert.equal(new EscapeFilter(0x25).feed(Buffer.from("%.")).disconnect, true, "-e % changes the character");
});

describe("zlogin -C", { concurrency: false }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "cz", `create; set zonepath=${path.join(root.dir, "zones/cz")}; set brand=minimal`]);
    root.ok("zoneadm", ["-z", "cz", "install"]);
    root.ok("zoneadm", ["-z", "cz", "boot"]);
  });
  after(() => {
    Terminal.closeAll();
    root.run("zoneadm", ["-z", "cz", "halt"]);
    root.run("zoneadm", ["-z", "cz", "uninstall", "-F"]);
  });

  test("attach, type, detach with ~.; the output is replayed to the next client", async () => {
    const a = attach(["cz"]);
    await a.see(/\[Connected to zone 'cz' console\]/);
    a.type("echo marker-$((40 + 2))\n");
    await a.see(/marker-42/);
    a.type("~.");
    assert.equal(await a.exited(), 0);
    assert.match(a.screen, /\[Connection to zone 'cz' console closed\]/);
    const b = attach(["cz"]);
    await b.see(/marker-42/); // replayed, not typed again
    b.type("~.");
    await b.exited();
  });

  test("one client at a time; the second is told why", async () => {
    const a = attach(["cz"]);
    await a.see(/Connected/);
    const second = root.run("zlogin", ["-C", "cz"]);
    assert.equal(second.status, 1);
    assert.match(second.stderr, /in use by another zlogin -C/);
    a.type("~.");
    await a.exited();
  });

  test("a client stays attached across a reboot; the console survives a zoneadmd SIGKILL", async () => {
    const a = attach(["cz"]);
    await a.see(/Connected/);
    root.ok("zoneadm", ["-z", "cz", "reboot"]);
    a.type("\necho after-$((1 + 1))-reboot\n");
    await a.see(/after-2-reboot/);
    a.type("~.");
    await a.exited();
    root.killDaemon();
    const b = attach(["cz"]);
    await b.see(/Connected/);
    b.type("echo after-$((3 + 3))-restart\n");
    await b.see(/after-6-restart/);
    b.type("~.");
    await b.exited();
  });

  test("a console holder killed by host root is replaced; the console survives the next zoneadmd SIGKILL", async () => {
    const runFile = path.join(root.paths.runDir, "zone", "cz", "zone.json");
    const holderOf = (): number => (JSON.parse(fs.readFileSync(runFile, "utf8")) as { consoleHolder: number }).consoleHolder;
    const first = holderOf();
    process.kill(first, "SIGKILL"); // as `killall sleep` would
    let next = first;
    for (const end = Date.now() + 10_000; Date.now() < end && next === first; await new Promise((r) => setTimeout(r, 100))) next = holderOf();
    assert.notEqual(next, first, "a new holder is recorded");
    assert.match(fs.readFileSync(`/proc/${next}/environ`, "utf8"), /^ZONES_CONSOLE_HOLDER=/);
    // The daemon's own copy of the master goes with it: only the new holder keeps the console.
    root.killDaemon();
    const a = attach(["cz"]);
    await a.see(/Connected/);
    a.type("echo held-$((5 + 5))-again\n");
    await a.see(/held-10-again/);
    a.type("~.");
    await a.exited();
  });

  test("-d drops the connection when the zone halts", async () => {
    const a = attach(["-d", "cz"]);
    await a.see(/Connected/);
    root.ok("zoneadm", ["-z", "cz", "halt"]);
    assert.equal(await a.exited(), 0);
    assert.match(a.screen, /console closed/);
    assert.match(root.run("zlogin", ["-C", "nosuch"]).stderr, /no such zone configured/);
  });
});
