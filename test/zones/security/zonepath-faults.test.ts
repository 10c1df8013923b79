/**
 * Zonepaths that cannot be turned against the host (issue 12): a zonepath swapped for a
 * link after install, ancestors an ordinary user can change, zonepaths in the zones'
 * own state directories, a non-empty directory at install; and a rename's console log,
 * list's STATUS column, uninstall's message order.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { Repository } from "../../../src/document/store/repository.js";
import { consoleLogFile } from "../../../src/document/store/runstate.js";
import { until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("zpf");
after(() => root.remove());
const repo = (): Repository => new Repository(root.paths);
const state = (n: string): string => repo().find(n)?.state ?? "absent";
const oneLine = (s: string): void => assert.equal(s.trim().split("\n").length, 1, `one line: ${s}`);

describe("zonepath faults", { concurrency: false }, () => {
  test("uninstall -F refuses a zonepath swapped for a link after install; the tree outside survives", () => {
    const parent = path.join(root.dir, "swap");
    fs.mkdirSync(parent, { mode: 0o755 });
    const zp = path.join(parent, "z");
    root.ok("zonecfg", ["-z", "swap", `create; set zonepath=${zp}; set brand=minimal`]);
    root.ok("zoneadm", ["-z", "swap", "install"]);
    // Later the parent is handed to an ordinary user, who swaps the zonepath for a link.
    fs.chownSync(parent, 65534, 65534);
    const decoy = path.join(root.dir, "decoy");
    fs.mkdirSync(path.join(decoy, "root"), { recursive: true });
    fs.writeFileSync(path.join(decoy, "root/keep"), "host data\n");
    fs.renameSync(zp, path.join(parent, "moved"));
    fs.symlinkSync(decoy, zp);
    const r = root.run("zoneadm", ["-z", "swap", "uninstall", "-F"]);
    assert.notEqual(r.status, 0, "uninstall through a swapped zonepath must fail");
    oneLine(r.stderr);
    assert.match(r.stderr, /^zoneadm: zone 'swap': zonepath ".*\/swap\/z"/);
    assert.equal(fs.readFileSync(path.join(decoy, "root/keep"), "utf8"), "host data\n");
    // A directory of the user's own (not the one install made) is refused as well.
    fs.unlinkSync(zp);
    fs.mkdirSync(path.join(zp, "root"), { recursive: true });
    fs.writeFileSync(path.join(zp, "root/keep"), "user data\n");
    const r2 = root.run("zoneadm", ["-z", "swap", "uninstall", "-F"]);
    assert.notEqual(r2.status, 0);
    assert.match(r2.stderr, /not the directory install made/);
    assert.ok(fs.existsSync(path.join(zp, "root/keep")));
    // Put back, the zone uninstalls.
    fs.rmSync(zp, { recursive: true });
    fs.renameSync(path.join(parent, "moved"), zp);
    fs.chownSync(parent, 0, 0);
    root.ok("zoneadm", ["-z", "swap", "uninstall", "-F"]);
    assert.equal(state("swap"), "configured");
    assert.ok(!fs.existsSync(zp));
  });

  test("verify refuses ancestors an ordinary user could change, naming the directory", () => {
    const cases: [string, (d: string) => void, RegExp][] = [
      ["user", (d) => fs.chownSync(d, 65534, 65534), /ancestor ".*\/user" is owned by uid 65534, not root/],
      ["groupw", (d) => fs.chmodSync(d, 0o775), /ancestor ".*\/groupw" is writable by group 0 \(mode 775\)/],
      ["sticky", (d) => fs.chmodSync(d, 0o1777), /ancestor ".*\/sticky" is writable by others \(sticky, mode 1777\) and ".*\/sticky\/z" does not exist yet/],
    ];
    for (const [name, spoil, re] of cases) {
      const d = path.join(root.dir, name);
      fs.mkdirSync(d, { mode: 0o755 });
      root.ok("zonecfg", ["-z", name, `create; set zonepath=${path.join(d, "z")}; set brand=minimal`]);
      root.ok("zoneadm", ["-z", name, "verify"]);
      spoil(d);
      const r = root.run("zoneadm", ["-z", name, "verify"]);
      assert.notEqual(r.status, 0, `${name}: verify must refuse`);
      oneLine(r.stderr);
      assert.match(r.stderr, re);
      const i = root.run("zoneadm", ["-z", name, "install"]);
      assert.notEqual(i.status, 0, `${name}: install must refuse`);
      assert.equal(state(name), "configured");
    }
    // Sticky is fine once root's entry is there: nobody else may rename it.
    fs.mkdirSync(path.join(root.dir, "sticky/z"), { mode: 0o700 });
    root.ok("zoneadm", ["-z", "sticky", "verify"]);
    fs.lchownSync(path.join(root.dir, "sticky/z"), 65534, 65534);
    assert.match(root.run("zoneadm", ["-z", "sticky", "verify"]).stderr, /".*\/sticky\/z" in it is owned by uid 65534, not root/);
    for (const [name] of cases) root.ok("zonecfg", ["-z", name, "delete -F"]);
  });

  test("a zonepath in the zones' state directories is refused at commit and verify", () => {
    const p = root.paths;
    for (const zp of [path.join(p.runDir, "zone/other/z"), path.join(p.runDir, "z"), path.join(p.configDir, "z"), "/var/lib/zones/z"]) {
      const r = root.run("zonecfg", ["-z", "st", `create; set zonepath=${zp}`]);
      assert.notEqual(r.status, 0, `${zp} must be refused`);
      assert.match(r.stderr, /lies in the zones' state directory/);
      assert.equal(state("st"), "absent");
    }
  });

  test("install refuses a non-empty zonepath and leaves its mode and owner alone", () => {
    const zp = path.join(root.dir, "full");
    fs.mkdirSync(zp, { mode: 0o700 });
    fs.chmodSync(zp, 0o700);
    fs.writeFileSync(path.join(zp, "mine"), "x");
    root.ok("zonecfg", ["-z", "full", `create; set zonepath=${zp}; set brand=minimal`]);
    const r = root.run("zoneadm", ["-z", "full", "install"]);
    assert.notEqual(r.status, 0);
    oneLine(r.stderr);
    assert.match(r.stderr, /zonepath ".*\/full" is not empty/);
    const st = fs.statSync(zp);
    assert.equal(st.mode & 0o7777, 0o700);
    assert.equal(st.gid, 0);
    assert.equal(state("full"), "configured");
    assert.deepEqual(fs.readdirSync(zp), ["mine"]);
    // Empty, it installs.
    fs.unlinkSync(path.join(zp, "mine"));
    root.ok("zoneadm", ["-z", "full", "install"]);
    root.ok("zoneadm", ["-z", "full", "uninstall", "-F"]);
    root.ok("zonecfg", ["-z", "full", "delete -F"]);
  });

  test("a renamed zone takes its console log along", async () => {
    root.ok("zonecfg", ["-z", "ra", `create; set zonepath=${path.join(root.dir, "zones/ra")}; set brand=minimal`]);
    root.ok("zoneadm", ["-z", "ra", "install"]);
    root.ok("zoneadm", ["-z", "ra", "boot"]);
    const oldLog = consoleLogFile(root.paths, "ra");
    root.ok("zlogin", ["ra", "echo marker-ra > /dev/console"]);
    await until("the console log", () => fs.existsSync(oldLog) && fs.readFileSync(oldLog, "utf8").includes("marker-ra"));
    root.ok("zoneadm", ["-z", "ra", "halt"]);
    root.ok("zonecfg", ["-z", "ra", "set zonename=rb"]);
    assert.ok(!fs.existsSync(oldLog), "no log is left under the old name");
    assert.match(fs.readFileSync(consoleLogFile(root.paths, "rb"), "utf8"), /marker-ra/);
    root.ok("zoneadm", ["-z", "rb", "uninstall", "-F"]);
    root.ok("zonecfg", ["-z", "rb", "delete -F"]);
  });

  test("list -cv keeps its columns for shutting_down", () => {
    root.ok("zonecfg", ["-z", "sd", `create; set zonepath=${path.join(root.dir, "zones/sd")}`]);
    root.ok("zonecfg", ["-z", "cf", `create; set zonepath=${path.join(root.dir, "zones/cf")}`]);
    // A zone whose halt died half-way stays shutting_down: the index says so.
    const index = path.join(root.paths.configDir, "index");
    fs.writeFileSync(index, fs.readFileSync(index, "utf8").replace(/^sd:configured:/m, "sd:shutting_down:"));
    const lines = root.ok("zoneadm", ["list", "-cv"]).trimEnd().split("\n");
    const col = (l: string): number => l.indexOf("/");
    const sd = lines.find((l) => / sd /.test(l))!;
    const cf = lines.find((l) => / cf /.test(l))!;
    assert.match(sd, /shutting_down/);
    assert.equal(col(sd), col(cf), `PATH column shifted:\n${lines.join("\n")}`);
    assert.equal(lines[0]!.indexOf("PATH"), col(cf));
    fs.writeFileSync(index, fs.readFileSync(index, "utf8").replace(/^sd:shutting_down:/m, "sd:configured:"));
    root.ok("zonecfg", ["-z", "sd", "delete -F"]);
    root.ok("zonecfg", ["-z", "cf", "delete -F"]);
  });

  test("uninstall of a zone that does not exist says so before asking for -F", () => {
    const r = root.run("zoneadm", ["-z", "nope", "uninstall"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^zoneadm: zone 'nope': no such zone configured/);
  });
});
