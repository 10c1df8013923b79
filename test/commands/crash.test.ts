/**
 * kill -9 during commits: zonecfg processes are killed at random instants while they
 * commit, others write the same zones concurrently; afterwards every zone in the index
 * reads back whole, verifies, and holds one of the values some writer tried to commit.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, test } from "node:test";
import { zonePaths } from "../../src/document/store/paths.js";
import { Repository } from "../../src/document/store/repository.js";
import { verifyZone } from "../../src/document/verify.js";
import { TestRoot, TOP } from "../support/helpers.js";

const root = new TestRoot("crash");
after(() => root.remove());

const ZONECFG = path.join(TOP, "dist/bin/zonecfg.cjs");

/** Start zonecfg; resolve with its exit code or signal once it is gone. */
function zonecfg(args: string[], killAfterMs?: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ZONECFG, ...args], { env: root.env, stdio: "ignore" });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(signal ?? String(code));
    });
  });
}

test("kill -9 at any instant of a commit leaves every zone whole", { timeout: 120_000 }, async (t) => {
  const zones = ["a", "b", "c"];
  const tried = new Map<string, Set<string>>();
  for (const z of zones) {
    root.ok("zonecfg", ["-z", z, `create; set zonepath=${root.dir}/zones/${z}; set bootargs=v0`]);
    tried.set(z, new Set(["v0"]));
  }
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const outcomes = new Map<string, number>();
  const deadline = Date.now() + 40_000;
  for (let i = 1; i <= 80 && Date.now() < deadline; i++) {
    const z = zones[rand(zones.length)]!;
    const v = `v${i}`;
    tried.get(z)!.add(v);
    // A bigger document makes the write itself take a little time.
    const attrs = Array.from({ length: rand(40) }, (_, k) => `add attr; set name=a${k}; set type=string; set value="${v} ${k}"; end`).join("; ");
    // create -F: the whole document comes from this one commit.
    const cmd = `create -F; set zonepath=${root.dir}/zones/${z}; set bootargs=${v}; ${attrs}`;
    // Two writers at once on the same zone: one killed at a random instant, one left alone.
    const other = `w${i}`;
    tried.get(z)!.add(other);
    const [killed, survivor] = await Promise.all([
      zonecfg(["-z", z, cmd], 20 + rand(140)),
      zonecfg(["-z", z, `set bootargs=${other}`]),
    ]);
    outcomes.set(killed, (outcomes.get(killed) ?? 0) + 1);
    assert.equal(survivor, "0", `the writer that was not killed must succeed (iteration ${i})`);
  }
  t.diagnostic(`killed writers: ${JSON.stringify(Object.fromEntries(outcomes))} (SIGKILL = killed mid-way, 0 = finished first)`);
  assert.ok((outcomes.get("SIGKILL") ?? 0) > 0, `some writers must really have been killed: ${JSON.stringify([...outcomes])}`);

  const repo = new Repository(zonePaths(root.env));
  const entries = repo.list();
  assert.deepEqual(entries.map((e) => e.name).sort(), zones);
  for (const e of entries) {
    const z = repo.load(e.name);
    assert.deepEqual(verifyZone(z, entries.filter((x) => x.name !== e.name)), [], `zone ${e.name} verifies`);
    assert.ok(tried.get(e.name)!.has(z.bootargs), `zone ${e.name} holds a value a writer committed: ${z.bootargs}`);
    // Attributes all come from one commit, never from a mix of two; a zone whose last
    // writer only changed bootargs keeps the attributes it read.
    const from = new Set(z.attr.map((a) => a.value.split(" ")[0]!));
    assert.ok(from.size <= 1, `zone ${e.name}: attributes from several commits: ${[...from].join(", ")}`);
    for (const f of from) assert.ok(tried.get(e.name)!.has(f), `zone ${e.name}: attributes from an unknown commit ${f}`);
    if (z.bootargs.startsWith("v") && z.bootargs !== "v0") assert.ok(from.size === 0 || from.has(z.bootargs), `zone ${e.name}: ${z.bootargs} with attributes of ${[...from]}`);
  }
  // A later commit clears what killed writers left behind.
  root.ok("zonecfg", ["-z", "a", "set bootargs=final"]);
  assert.deepEqual(fs.readdirSync(root.configDir).filter((f) => f.includes(".tmp-")), []);
  assert.equal(root.run("zoneadm", ["list", "-cp"]).status, 0);
});
