/**
 * kill -9 of zoneadmd at a random instant of every operation: after each kill one
 * command brings the zone to a known state, and at the end nothing is left that
 * belongs to no zone, and the zone still boots.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, test } from "node:test";
import { mountsBelow } from "../../../src/platform/idmap.js";
import { BIN } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const SEED = 20261201;
const ROUNDS = 30;
const root = new ZoneTestRoot("kill9");
after(() => root.remove());
const zp = path.join(root.dir, "zones", "k");

function zoneadm(args: string[], killDaemonAfterMs?: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(path.join(BIN, "zoneadm"), args, { env: root.env, stdio: "ignore" });
    const timer =
      killDaemonAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            const pid = root.daemonPid();
            if (pid) {
              try {
                process.kill(pid, "SIGKILL");
              } catch {
                // already gone
              }
            }
          }, killDaemonAfterMs);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const state = (): string => root.ok("zoneadm", ["list", "-cp"]).split("\n").find((l) => l.split(":")[1] === "k")!.split(":")[2]!;

/** The one command per state that gets the zone back to installed. */
async function recover(): Promise<string> {
  const s = state();
  if (s === "configured") await zoneadm(["-z", "k", "install"]);
  else if (s === "incomplete") {
    await zoneadm(["-z", "k", "uninstall", "-F"]);
    await zoneadm(["-z", "k", "install"]);
  } else await zoneadm(["-z", "k", "halt"]);
  return state();
}

/** Console holders of this root: `sleep infinity` children of pid 1 whose environment names the root. */
function holders(): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      if (!fs.readFileSync(`/proc/${p}/environ`, "utf8").includes(root.dir)) continue;
      if (fs.readFileSync(`/proc/${p}/cmdline`, "utf8") === "sleep\0infinity\0") out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

/** Processes in this root's cgroups. */
function procsInCgroups(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of fs.readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) walk(path.join(d, f.name));
      else if (f.name === "cgroup.procs") out.push(...fs.readFileSync(path.join(d, f.name), "utf8").split("\n").filter(Boolean));
    }
  };
  for (const c of root.cgroups()) walk(c);
  return out;
}

test(`kill -9 of zoneadmd at random instants leaves nothing behind (seed ${SEED})`, { timeout: 170_000 }, async (t) => {
  root.ok("zonecfg", ["-z", "k", `create; set zonepath=${zp}; set brand=minimal`]);
  root.ok("zoneadm", ["-z", "k", "install"]);
  let seed = SEED;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const ops = ["install", "ready", "boot", "halt", "reboot", "shutdown", "uninstall"];
  const start = Date.now();
  for (let i = 1; i <= ROUNDS; i++) {
    const op = ops[rand(ops.length)]!;
    const delay = rand(201);
    // Each operation from the state it starts in, reached without a kill.
    if (op === "install") await zoneadm(["-z", "k", "uninstall", "-F"]);
    if (["halt", "reboot", "shutdown"].includes(op)) await zoneadm(["-z", "k", "boot"]);
    await zoneadm(["-z", "k", ...(op === "uninstall" ? ["uninstall", "-F"] : [op])], delay);
    const s = await recover();
    assert.equal(s, "installed", `round ${i} (${op} killed after ${delay} ms): one command gets the zone installed`);
    assert.deepEqual(holders(), [], `round ${i} (${op} after ${delay} ms): no console holder left`);
    assert.deepEqual(mountsBelow(root.dir), [], `round ${i} (${op} after ${delay} ms): no mount left`);
  }
  t.diagnostic(`${ROUNDS} rounds in ${Date.now() - start} ms`);
  // A fresh daemon's start finds nothing to remove, and the zone boots.
  root.ok("zoneadm", ["-z", "k", "boot"]);
  assert.equal(state(), "running");
  assert.match(root.ok("zlogin", ["k", "echo up"]), /up/);
  root.ok("zoneadm", ["-z", "k", "halt"]);
  assert.deepEqual(holders(), []);
  assert.deepEqual(mountsBelow(root.dir), []);
  assert.deepEqual(root.containers(), []);
  assert.deepEqual(procsInCgroups(), []);
  assert.deepEqual(fs.existsSync(path.join(root.paths.runDir, "zone")) ? fs.readdirSync(path.join(root.paths.runDir, "zone")) : [], []);
});
