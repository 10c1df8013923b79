/**
 * kill -9 of zoneadmd in the middle of a clone's copy: the clone says incomplete, no
 * copying process outlives the daemon, and uninstall -F leaves no zonepath and no uid
 * slot behind; the clone then succeeds. A clone under way holds its source halted.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, test } from "node:test";
import { Repository } from "../../../src/document/store/repository.js";
import { SlotRegistry } from "../../../src/platform/slots.js";
import { BIN, until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("clonek");
after(() => root.remove());
const zp = (n: string): string => path.join(root.dir, "zones", n);
const entry = (n: string) => new Repository(root.paths).find(n);

/** cp processes copying into `dir`. */
function copiers(dir: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = fs.readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
      if (argv[0] === "cp" && argv.some((a) => a.startsWith(dir))) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

test("kill -9 during clone: incomplete, nothing left running, uninstall -F cleans up", async () => {
  root.ok("zonecfg", ["-z", "big", `create; set zonepath=${zp("big")}; set brand=minimal`]);
  root.ok("zoneadm", ["-z", "big", "install"]);
  // A file big enough that the copy takes a while (ext4 here: no reflink).
  const big = path.join(zp("big"), "root/blob");
  assert.equal(spawnSync("dd", ["if=/dev/zero", `of=${big}`, "bs=1M", "count=400", "status=none"]).status, 0);
  root.ok("zonecfg", ["-z", "k", `create; set zonepath=${zp("k")}; set brand=minimal`]);
  const child = spawn(path.join(BIN, "zoneadm"), ["-z", "k", "clone", "big"], { env: root.env, stdio: "ignore" });
  await until("the clone's copy", () => entry("k")?.state === "incomplete" && copiers(zp("k")).length > 0, 20_000);
  const pid = root.daemonPid()!;
  process.kill(pid, "SIGKILL");
  const exited = new Promise((r) => child.on("exit", r));
  // cp dies with the daemon (a copy of this size takes over a second on its own).
  await until("no cp left", () => copiers(zp("k")).length === 0, 300);
  await exited;
  assert.equal(entry("k")?.state, "incomplete");
  assert.match(root.ok("zoneadm", ["list", "-cv"]), /^ +- k +incomplete /m);
  const uuid = entry("k")!.uuid;
  assert.ok(new SlotRegistry().find(uuid), "the slot is held while incomplete");
  root.ok("zoneadm", ["-z", "k", "uninstall", "-F"]);
  assert.equal(entry("k")?.state, "configured");
  assert.equal(fs.existsSync(zp("k")), false);
  assert.equal(new SlotRegistry().find(uuid), undefined);
  root.ok("zoneadm", ["-z", "k", "clone", "big"]);
  assert.equal(entry("k")?.state, "installed");
});

test("the source of a clone under way cannot boot until the copy is done", async () => {
  root.ok("zonecfg", ["-z", "k2", `create; set zonepath=${zp("k2")}; set brand=minimal`]);
  const child = spawn(path.join(BIN, "zoneadm"), ["-z", "k2", "clone", "big"], { env: root.env, stdio: "ignore" });
  const cloned = new Promise<number | null>((r) => child.on("exit", r));
  await until("the clone's copy", () => entry("k2")?.state === "incomplete" && copiers(zp("k2")).length > 0, 20_000);
  root.ok("zoneadm", ["-z", "big", "boot"]);
  assert.equal(entry("k2")?.state, "installed", "boot waited for the clone");
  assert.equal(await cloned, 0);
  root.ok("zoneadm", ["-z", "big", "halt"]);
});
