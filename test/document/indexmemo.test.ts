/**
 * The index and the slot registry are parsed once per text (src/native/textmemo.ts):
 * the rows a reader gets are frozen, shared, and its array its own; a writer's changes
 * (under the lock, on copies) reach the next reader through the file; a file changed
 * behind the daemon's back (same size, same second) is read as it now is.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Repository } from "../../src/document/store/repository.js";
import { SlotRegistry } from "../../src/platform/slots.js";
import { freshRepo, useTempParent, zone } from "./repositorysupport.js";

useTempParent();

describe("parsed once per text", () => {
  test("the index: a caller's changes stay its own; an edit of the file is seen at once", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "web"), null);
    repo.commit(zone(repo, "db"), null);
    const first = repo.list();
    assert.throws(() => (first[0]!.state = "running"), TypeError, "a reader cannot change the shared rows");
    first.pop();
    assert.deepEqual(
      repo.list().map((e) => [e.name, e.state]),
      [["web", "configured"], ["db", "configured"]],
    );
    // Another Repository of the same root (a command's) reads the same rows.
    assert.equal(new Repository(repo.paths).find("db")?.state, "configured");
    repo.setState("db", "incomplete");
    assert.equal(repo.find("db")?.state, "incomplete", "a commit's change is read back");
    // Same length, same mtime second: only the text tells, and it is what counts.
    const text = fs.readFileSync(repo.indexFile, "utf8");
    const st = fs.statSync(repo.indexFile);
    fs.writeFileSync(repo.indexFile, text.replace("web:configured:", "web:incomplete:").replace("db:incomplete:", "db:installed:x"));
    fs.utimesSync(repo.indexFile, st.atime, st.mtime);
    assert.equal(repo.find("web")?.state, "incomplete");
    assert.throws(() => repo.find("db"), /line 3: zone 'db': zonepath "x\/.*" is not an absolute path$/, "a line that went bad is bad");
    assert.deepEqual(repo.list().map((e) => e.name), ["web"]);
  });

  test("the slot registry: rows are the caller's own, and a hand edit is read", (t) => {
    const { root } = freshRepo();
    const file = path.join(root, "slots");
    const none = path.join(root, "none");
    const reg = new SlotRegistry(file, { passwd: none, group: none, subuid: none, subgid: none });
    const a = reg.allocate("uuid-a", "/r/etc/zones", "a");
    reg.allocate("uuid-b", "/r/etc/zones", "b");
    const rows = reg.list();
    assert.throws(() => (rows[0]!.slot = 9999), TypeError);
    rows.pop();
    assert.equal(reg.list().length, 2);
    assert.equal(reg.find("uuid-a")?.slot, a);
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(":a\n", ":A\n"));
    assert.equal(reg.find("uuid-a")?.zonename, "A");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8") + "garbage\n");
    assert.throws(() => reg.list(), /line 4: expected slot:uuid:configDir:zonename/, "a broken file is an error every time, never a remembered good one");
    assert.throws(() => reg.list(), /line 4/);
    t.diagnostic(`slots ${a} and ${a + 1}`);
  });
});
