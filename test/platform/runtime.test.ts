/**
 * One test suite, run against every OciRuntime implementation (runc, crun) that can work
 * on this host: crun 1.8 refuses hybrid cgroup hosts, so there it is skipped with the
 * reason; on a pure cgroup v2 host both run.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { BUSYBOX_TREE, installMinimal } from "../../src/platform/brands/minimal.js";
import { idmappedBind, MOUNT_ATTR_RDONLY, mountsBelow, unmount } from "../../src/platform/idmap.js";
import { receiveOneFd } from "../../src/native/fdpass.js";
import { blankZone } from "../../src/document/model.js";
import { makeRuntime, pureCgroupV2, type RuntimeName } from "../../src/platform/oci/runtime.js";
import { zoneProcess, zoneSpec } from "../../src/platform/oci/spec.js";
import { removeCgroups } from "../../src/platform/teardown.js";
import { SlotRegistry, SLOT_SIZE } from "../../src/platform/slots.js";
import { TestRoot } from "../support/helpers.js";

const root = new TestRoot("oci");
const slots = new SlotRegistry();
const uuid = `runtime-test-${process.pid}`;
after(() => {
  for (const rt of ["runc", "crun"]) {
    const state = path.join(root.dir, "state", rt);
    const ids = spawnSync(rt, ["--root", state, "list", "-q"], { encoding: "utf8" }).stdout ?? "";
    for (const id of ids.split("\n").filter(Boolean)) spawnSync(rt, ["--root", state, "delete", "--force", id]);
  }
  for (const name of ["runc", "crun"]) removeCgroups(`zones-test-${process.pid}`, `t-${name}`);
  for (const m of mountsBelow(root.dir)) unmount(m);
  slots.release(uuid);
  root.remove();
});

function usable(name: RuntimeName): string | undefined {
  if (spawnSync(name, ["--version"]).status !== 0) return `${name} is not installed`;
  if (name === "crun" && !pureCgroupV2()) return "crun 1.8 refuses hybrid cgroup hosts; this host is not pure cgroup v2";
  return undefined;
}

for (const name of ["runc", "crun"] as const) {
  const skip = usable(name);
  describe(`OciRuntime: ${name}`, { skip, concurrency: false }, () => {
    const stateDir = path.join(root.dir, "state");
    const bundle = path.join(root.dir, name);
    const id = `t-${name}`;
    const prefix = `zones-test-${process.pid}`;
    let rt: ReturnType<typeof makeRuntime>;
    let console = -1;

    test("version is reported, with a warning when it predates known fixes", () => {
      rt = makeRuntime(name, stateDir);
      const v = rt.version();
      assert.equal(v.name, name);
      assert.match(v.version, /^\d+\.\d+/);
      if (name === "runc" && v.version.startsWith("1.1.")) assert.match(v.warning ?? "", /CVE-2025/);
    });

    test("create leaves init waiting with its terminal sent to the console socket; start runs it", async () => {
      const base = slots.allocate(uuid, root.configDir, "oci") * SLOT_SIZE;
      const z = blankZone(id);
      fs.mkdirSync(path.join(bundle, "root"), { recursive: true });
      await installMinimal(path.join(bundle, "root"), base, z);
      await idmappedBind(BUSYBOX_TREE, path.join(bundle, "root/bin"), base, SLOT_SIZE, MOUNT_ATTR_RDONLY);
      const spec = zoneSpec({ zone: z, base, root: path.join(bundle, "root"), init: ["/bin/sleep", "600"], cgroupParent: prefix, zoneId: 1 });
      fs.writeFileSync(path.join(bundle, "config.json"), JSON.stringify(spec));
      const consoleSocket = receiveOneFd(path.join(bundle, "console.sock"));
      await rt.create(id, bundle, path.join(bundle, "pid"), path.join(bundle, "log"), path.join(bundle, "console.sock"));
      const master = await consoleSocket.fd;
      consoleSocket.close();
      // Closing the master would hang up init's terminal; keep it until the container is gone.
      console = master;
      const created = await rt.state(id);
      assert.equal(created?.status, "created");
      assert.equal(created?.pid, Number(fs.readFileSync(path.join(bundle, "pid"), "utf8")));
      assert.deepEqual(await rt.list(), [id]);
      // With init's pid, runc's is started through its exec FIFO (oci/execfifo.ts), crun's by crun.
      await rt.start(id, created?.pid);
      assert.equal((await rt.state(id))?.status, "running");
      assert.equal(fs.existsSync(path.join(root.dir, "state", name, id, "exec.fifo")), false);
    });

    test("exec runs a process in the container with the caller's stdio", () => {
      const proc = path.join(bundle, "exec.json");
      fs.writeFileSync(proc, JSON.stringify(zoneProcess(blankZone(id), ["/bin/sh", "-c", "echo $$ $(id -u)"])));
      const [bin, ...args] = rt.execArgv(id, { processFile: proc });
      const r = spawnSync(bin!, args, { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const [pid, uid] = r.stdout.trim().split(" ");
      assert.ok(Number(pid) > 1, "a new process beside init");
      assert.equal(uid, "0");
    });

    test("kill --all stops every process; delete removes the container", async () => {
      await rt.kill(id, "KILL", true);
      for (let i = 0; i < 100 && (await rt.state(id))?.status !== "stopped"; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal((await rt.state(id))?.status, "stopped");
      await rt.delete(id, true);
      fs.closeSync(console);
      assert.equal(await rt.state(id), undefined);
      assert.deepEqual(await rt.list(), []);
      removeCgroups(prefix, id);
      unmount(path.join(bundle, "root/bin"));
    });
  });
}
