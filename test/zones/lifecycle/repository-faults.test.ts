/**
 * A daemon that cannot read the repository touches no running zone: with the index
 * deleted, emptied, corrupted or linked elsewhere, a restarted zoneadmd rebuilds what
 * it can, leaves every container alone, and commands work or fail with one line.
 * Real zones (minimal brand); the parser cases are unit tests at the end.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { alive } from "../../../src/platform/halt.js";
import { Repository } from "../../../src/document/store/repository.js";
import { readRun } from "../../../src/document/store/runstate.js";
import { zoneError } from "../../support/assertions.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("repofault");
after(() => root.remove());
const ZONES = ["fa", "fb"];
const index = (): string => path.join(root.configDir, "index");
const inits = (): (number | undefined)[] => ZONES.map((z) => readRun(root.paths, z)?.pid);

async function gone(pid: number): Promise<void> {
  while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
}

/** kill -9 the daemon, change the repository, start a fresh daemon (any daemon command does). */
async function restartWith(change: () => void): Promise<void> {
  const old = root.daemonPid()!;
  process.kill(old, "SIGKILL");
  await gone(old);
  change();
  // A request the daemon answers only after its start-up reconcile; the answer itself does not matter.
  root.ok("zoneadm", ["runtime"]);
  const pid = root.daemonPid()!;
  assert.notEqual(pid, old, "no new zoneadmd started");
  assert.ok(alive(pid), "the new zoneadmd died");
}

function oneLine(stderr: string, ...fragments: string[]): void {
  assert.match(stderr, /^[^\n]+\n$/, `not one line: ${JSON.stringify(stderr)}`);
  for (const f of fragments) assert.ok(stderr.includes(f), `${JSON.stringify(stderr)} lacks ${JSON.stringify(f)}`);
}

describe("a daemon that cannot read the repository", { concurrency: false }, () => {
  let good = "";
  let pids: (number | undefined)[] = [];
  before(() => {
    for (const z of ZONES) {
      root.ok("zonecfg", ["-z", z, `create; set zonepath=${path.join(root.dir, "zones", z)}; set brand=minimal`]);
      root.ok("zoneadm", ["-z", z, "install"]);
      root.ok("zoneadm", ["-z", z, "boot"]);
    }
    good = fs.readFileSync(index(), "utf8");
    pids = inits();
    assert.ok(pids.every((p) => p !== undefined && alive(p)));
  });
  after(() => {
    fs.rmSync(index(), { force: true });
    fs.writeFileSync(index(), good);
    for (const z of ZONES) {
      root.run("zoneadm", ["-z", z, "halt"]);
      root.run("zoneadm", ["-z", z, "uninstall", "-F"]);
    }
  });

  /** Both zones run on with the inits they had, and zlogin reaches them. */
  function zonesRunOn(): void {
    assert.deepEqual(inits(), pids, "a zone's init changed");
    assert.ok(pids.every((p) => alive(p!)), "a zone's init died");
    assert.deepEqual(root.containers().sort(), ZONES);
    for (const z of ZONES) assert.equal(root.ok("zlogin", [z, "cat /etc/zonename"]), `${z}\n`);
  }

  for (const [what, change] of [
    ["deleted", () => fs.rmSync(index())],
    ["emptied", () => fs.writeFileSync(index(), "")],
  ] as const) {
    test(`an index ${what} after kill -9 is rebuilt and no zone is touched`, async () => {
      await restartWith(change);
      zonesRunOn();
      // Rebuilt from the documents, the uid slots and the live inits: the same lines as before.
      assert.equal(fs.readFileSync(index(), "utf8"), good);
      assert.equal(root.ok("zoneadm", ["list"]), "global\nfa\nfb\n");
    });
  }

  test("a garbage line costs only its zone; the other is served and both run on", async () => {
    await restartWith(() => fs.writeFileSync(index(), good.replace(/^fa:running:/m, "fa:runn\u0001ing:").replace(/\n/g, "\r\n")));
    zonesRunOn();
    const listed = root.run("zoneadm", ["list"]);
    assert.equal(listed.stdout, "global\nfb\n");
    assert.equal(listed.status, 0);
    oneLine(listed.stderr, "warning", `${index()} line 2`);
    oneLine(root.run("zoneadm", ["-z", "fa", "halt"]).stderr, `${index()} line 2`, "unknown state", '"runn\\x01ing"');
    assert.match(fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8"), /leaving container 'fa' alone/);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(root.daemonPid() !== undefined && alive(root.daemonPid()!), "zoneadmd crashed on the bad line");
    fs.writeFileSync(index(), good);
  });

  test("an index linked to /etc/shadow is refused, quoting nothing of it, and no zone is touched", async () => {
    await restartWith(() => {
      fs.rmSync(index());
      fs.symlinkSync("/etc/shadow", index());
    });
    zonesRunOn();
    const r = root.run("zoneadm", ["list"]);
    oneLine(r.stderr, index(), "symbolic link");
    const shadow = fs.readFileSync("/etc/shadow", "utf8").split("\n")[0]!;
    assert.ok(!r.stderr.includes(shadow.split(":")[0]! + ":"), "a line of /etc/shadow was printed");
    oneLine(root.run("zoneadm", ["-z", "fa", "halt"]).stderr, "symbolic link");
    fs.rmSync(index());
    fs.writeFileSync(index(), good);
  });
});

describe("index parser", () => {
  const make = (text: string): Repository => {
    const r = new ZoneTestRoot("repoparse");
    after(() => r.remove());
    fs.mkdirSync(r.configDir, { recursive: true });
    fs.writeFileSync(path.join(r.configDir, "index"), text);
    return new Repository(r.paths);
  };
  const line = (name: string, state = "installed"): string => `${name}:${state}:/zones/${name}:0b7c1a8e-5a3f-4c1e-9d2b-${"0".repeat(12)}:minimal:shared`;

  test("a duplicated zone: the second line is the bad one", () => {
    const repo = make(`${line("a")}\n${line("b")}\n${line("a", "configured")}\n`);
    const scan = repo.scan();
    assert.deepEqual(scan.entries.map((e) => [e.name, e.state]), [["a", "installed"], ["b", "installed"]]);
    assert.equal(scan.problems.length, 1);
    assert.match(scan.problems[0]!, /index line 3: zone 'a' is already listed at line 1/);
  });

  test("CRLF endings are accepted; a truncated line is refused by itself", () => {
    const repo = make(`${line("a")}\r\n${line("b")}\r\n${line("c").slice(0, 20)}`);
    const scan = repo.scan();
    assert.deepEqual(scan.entries.map((e) => e.ipType), ["shared", "shared"]);
    assert.deepEqual(scan.problems.map((p) => p.replace(/^.*index /, "")), ["line 3: expected name:state:zonepath:uuid:brand:ip-type, found 3 fields"]);
  });

  test("a message quotes at most one field, never the line", () => {
    const secret = "root:$y$j9T$secrethash:19000:0:99999:7:::";
    const repo = make(`${secret}\n`);
    const [p] = repo.scan().problems;
    assert.ok(p !== undefined && !p.includes("secrethash") && !p.includes("19000"), p);
  });

  test("an index or a document not owned by root, or a linked directory, is refused by name", () => {
    const repo = make(`${line("a")}\n`);
    fs.chownSync(repo.indexFile, 1234, 1234);
    zoneError(() => repo.list(), repo.indexFile, "owned by uid 1234");
    fs.chownSync(repo.indexFile, 0, 0);
    fs.writeFileSync(repo.zoneFile("a"), "create -b\n");
    fs.chownSync(repo.zoneFile("a"), 1234, 1234);
    zoneError(() => repo.load("a"), repo.zoneFile("a"), "owned by uid 1234");
    const moved = repo.paths.configDir + ".real";
    fs.renameSync(repo.paths.configDir, moved);
    fs.symlinkSync(moved, repo.paths.configDir);
    zoneError(() => repo.list(), repo.paths.configDir, "symbolic link");
  });
});
