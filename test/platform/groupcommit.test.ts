/**
 * Group commit (native/groupcommit.ts) and the batched writes behind it: the zone
 * index's setStates and the slot registry's allocateAll, on temporary files only.
 * Requests of one turn of the event loop are one write; a request refused costs only
 * itself; a write that fails settles none as done.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { GroupCommit } from "../../src/native/groupcommit.js";
import { blankZone } from "../../src/document/model.js";
import { zonePaths } from "../../src/document/store/paths.js";
import { Repository } from "../../src/document/store/repository.js";
import { SlotRegistry } from "../../src/platform/slots.js";

let parent = "";
let counter = 0;
before(() => {
  parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "zones-groupcommit-")));
});
after(() => {
  if (parent !== "") fs.rmSync(parent, { recursive: true, force: true });
});

function fresh(): string {
  const d = path.join(parent, `r${++counter}`);
  fs.mkdirSync(d);
  return d;
}

describe("GroupCommit", () => {
  test("requests of one turn are one write; later ones the next", async () => {
    const writes: number[][] = [];
    const g = new GroupCommit<number, number>((reqs) => {
      writes.push([...reqs]);
      return reqs.map((r) => r * 10);
    });
    const first = await Promise.all([g.submit(1), g.submit(2), g.submit(3)]);
    assert.deepEqual(first, [10, 20, 30]);
    assert.equal(await g.submit(4), 40);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(writes, [[1, 2, 3], [4]]);
    assert.deepEqual([g.batches, g.requests], [2, 4]);
  });

  test("a request refused rejects alone; a failed write rejects them all", async () => {
    const g = new GroupCommit<number, number>((reqs) => reqs.map((r) => (r < 0 ? new Error(`negative ${r}`) : r)));
    const [a, b] = await Promise.allSettled([g.submit(1), g.submit(-1)]);
    assert.deepEqual(a, { status: "fulfilled", value: 1 });
    assert.equal(b.status === "rejected" && (b.reason as Error).message, "negative -1");
    const broken = new GroupCommit<number, number>(() => {
      throw new Error("disk full");
    });
    const all = await Promise.allSettled([broken.submit(1), broken.submit(2)]);
    assert.deepEqual(
      all.map((r) => r.status === "rejected" && (r.reason as Error).message),
      ["disk full", "disk full"],
    );
  });
});

describe("Repository.setStates", () => {
  test("several zones' changes in one index write; a bad transition or a changed document refused alone", async () => {
    const repo = new Repository(zonePaths({ ZONES_ROOT: fresh() }));
    const zones = ["a", "b", "c", "d"].map((n) => {
      const z = blankZone(n);
      z.zonepath = `/zones/${n}`;
      repo.commit(z, null);
      return z;
    });
    const changed = structuredClone(zones[3]!);
    changed.autoboot = true;
    const before = fs.statSync(repo.indexFile).ino;
    const heard: string[] = [];
    repo.observer = (name, from, to) => heard.push(`${name}:${from}->${to}`);
    const out = repo.setStates([
      { name: "a", to: "incomplete", expected: zones[0] },
      { name: "b", to: "incomplete" },
      { name: "c", to: "running" },
      { name: "d", to: "incomplete", expected: changed },
      { name: "nosuch", to: "incomplete" },
    ]);
    assert.equal(out[0], true);
    assert.equal(out[1], true);
    assert.match(String(out[2]), /configured.*running|running/);
    assert.match(String(out[3]), /configuration changed while the install began; try again/);
    assert.match(String(out[4]), /zone 'nosuch' does not exist/);
    assert.deepEqual(
      repo.list().map((e) => `${e.name}:${e.state}`),
      ["a:incomplete", "b:incomplete", "c:configured", "d:configured"],
    );
    assert.deepEqual(heard, ["a:configured->incomplete", "b:configured->incomplete"], "the observer (the API's events) hears each applied change");
    // One replacement of the index (atomic.ts writes a new file and renames it).
    assert.notEqual(fs.statSync(repo.indexFile).ino, before);
    const once = fs.statSync(repo.indexFile).ino;
    assert.deepEqual(repo.setStates([{ name: "c", to: "running" }]).map((r) => r === true), [false]);
    assert.equal(fs.statSync(repo.indexFile).ino, once, "nothing applied: the index is not rewritten");
  });
});

describe("SlotRegistry.allocateAll", () => {
  test("distinct slots in one write, a re-install keeps its slot, a foreign uuid refused alone", () => {
    const dir = fresh();
    const host = { passwd: path.join(dir, "passwd"), group: path.join(dir, "group"), subuid: path.join(dir, "subuid"), subgid: path.join(dir, "subgid") };
    fs.writeFileSync(host.passwd, "root:x:0:0::/root:/bin/sh\nbig:x:70000:70000::/:/bin/false\n");
    const reg = new SlotRegistry(path.join(dir, "slots"), host);
    const had = reg.allocate("u-old", "/r1", "old");
    const out = reg.allocateAll([
      { uuid: "u1", configDir: "/r1", zonename: "one" },
      { uuid: "u-old", configDir: "/r1", zonename: "renamed" },
      { uuid: "u-old", configDir: "/r2", zonename: "thief" },
      { uuid: "u2", configDir: "/r1", zonename: "two" },
    ]);
    assert.equal(had, 2, "slot 1 holds host uid 70000");
    assert.deepEqual(out.slice(0, 2), [3, 2]);
    assert.match(String(out[2]), /zone uuid "u-old" already holds uid slot 2 for "\/r1"; uninstall that zone first/);
    assert.equal(out[3], 4);
    assert.deepEqual(
      reg.list().map((e) => `${e.slot}:${e.uuid}:${e.zonename}`),
      ["2:u-old:renamed", "3:u1:one", "4:u2:two"],
    );
  });
});
