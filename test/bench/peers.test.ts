/**
 * The debian bench's peer plumbing leaves nothing behind and reads what it says: a
 * peer's group (below this process's own, in every hierarchy) holds what was spawned
 * in it and goes away with it; a peer's root is an overlay of the tree that shows it
 * owned by the peer's uid range, takes writes in its own layer only, and unmounts;
 * memory.stat is read the v1 and the v2 way.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { groupMemory, PeerGroup } from "../../bench/peers/groups.js";
import { PeerRoot } from "../../bench/peers/overlay.js";
import { userspaceMs } from "../../bench/peers/systemd.js";
import { mountsBelow, unmount } from "../../src/platform/idmap.js";
import { SLOT_SIZE, SlotRegistry } from "../../src/platform/slots.js";

const root = process.geteuid?.() === 0;

describe("debian bench peers", () => {
  test("memory.stat of a v1 and of a v2 group", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-peers-mem-"));
    try {
      fs.mkdirSync(path.join(dir, "v1"));
      fs.writeFileSync(path.join(dir, "v1/memory.usage_in_bytes"), "3000\n");
      fs.writeFileSync(path.join(dir, "v1/memory.stat"), "cache 1\nrss 2\nshmem 3\ntotal_cache 1000\ntotal_rss 1500\ntotal_shmem 200\n");
      assert.deepEqual(groupMemory(path.join(dir, "v1")), { usage: 3000, rss: 1500, cache: 1000, shmem: 200 });
      fs.mkdirSync(path.join(dir, "v2"));
      fs.writeFileSync(path.join(dir, "v2/memory.current"), "4000\n");
      fs.writeFileSync(path.join(dir, "v2/memory.stat"), "anon 2500\nfile 900\nkernel 600\nshmem 100\n");
      assert.deepEqual(groupMemory(path.join(dir, "v2")), { usage: 4000, rss: 2500, cache: 900, shmem: 100 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("systemd's own startup read from systemd-analyze time", () => {
    assert.equal(userspaceMs("Startup finished in 846ms (userspace) \ngraphical.target reached after 824ms in userspace."), 846);
    assert.equal(userspaceMs("Startup finished in 1.313s (userspace) "), 1313);
    assert.equal(userspaceMs("Startup finished in 1min 2.500s (userspace)"), 62_500);
    assert.equal(userspaceMs("Bootup is not yet finished"), null);
  });

  test("a peer group holds what was spawned in it, and kill + remove leave nothing", { skip: !root && "needs root" }, async () => {
    const top = `zones-peers-test-${process.pid}`;
    const g = new PeerGroup(`${top}/g`);
    try {
      const child = g.run(() => spawn("sleep", ["30"], { stdio: "ignore" }));
      const exited = new Promise((r) => child.once("exit", r));
      const unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].map((m) => g.at(m)).find((d) => d !== undefined);
      assert.ok(unified, "no v2 hierarchy");
      assert.match(fs.readFileSync(path.join(unified, "cgroup.procs"), "utf8"), new RegExp(`^${child.pid}$`, "m"));
      // This process went back to its own group.
      assert.doesNotMatch(fs.readFileSync(path.join(unified, "cgroup.procs"), "utf8"), new RegExp(`^${process.pid}$`, "m"));
      g.kill();
      // remove() waits up to 3 s for the group to empty: a kill that missed the child fails here.
      assert.deepEqual(g.remove(), []);
      await exited;
    } finally {
      g.kill();
      PeerGroup.removeTop(top);
    }
    assert.deepEqual(PeerGroup.removeTop(top), []);
  });

  test("a peer root: the tree under a layer of the peer's own, id-mapped, unmounted after", { skip: !root && "needs root" }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-peers-root-"));
    fs.chmodSync(dir, 0o755);
    // A uid slot of the test's own, as the bench takes one: no zone's ids are reused.
    const slots = new SlotRegistry();
    const uuid = `peers-test-${process.pid}`;
    const base = slots.allocate(uuid, dir, "peers-test") * SLOT_SIZE;
    try {
      const tree = path.join(dir, "tree");
      fs.mkdirSync(path.join(tree, "etc"), { recursive: true });
      fs.writeFileSync(path.join(tree, "etc/os-release"), "ID=test\n");
      const p = await PeerRoot.make(path.join(dir, "peer"), tree, base, "p1");
      assert.equal(fs.statSync(path.join(p.root, "etc/os-release")).uid, base);
      assert.equal(fs.readFileSync(path.join(p.root, "etc/hostname"), "utf8"), "p1\n");
      fs.writeFileSync(path.join(p.root, "etc/os-release"), "ID=changed\n");
      assert.equal(fs.readFileSync(path.join(tree, "etc/os-release"), "utf8"), "ID=test\n");
      assert.equal(fs.existsSync(path.join(tree, "etc/hostname")), false);
      p.remove();
      assert.deepEqual(mountsBelow(dir), []);
      assert.equal(fs.existsSync(path.join(dir, "peer")), false);
    } finally {
      for (const m of mountsBelow(dir)) unmount(m); // only when remove() failed
      fs.rmSync(dir, { recursive: true, force: true });
      slots.release(uuid);
    }
  });
});
