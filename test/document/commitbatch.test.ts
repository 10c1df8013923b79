/**
 * Repository.commitAll (document/store/commitbatch.ts): zonecfg commits of several
 * zones in one locked write, as zoneadmd's group commit hands them over. Each commit is
 * checked against the index as the earlier ones left it; one refused costs only itself;
 * the index is written once; a rename in the batch never removes a zone made after it.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { blankZone, type ZoneConfig } from "../../src/document/model.js";
import { zonePaths } from "../../src/document/store/paths.js";
import { Repository } from "../../src/document/store/repository.js";

let parent = "";
let counter = 0;
before(() => {
  parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "zones-commitbatch-")));
});
after(() => {
  if (parent !== "") fs.rmSync(parent, { recursive: true, force: true });
});

function fresh(): Repository {
  const d = path.join(parent, `r${++counter}`);
  fs.mkdirSync(d);
  return new Repository(zonePaths({ ZONES_ROOT: d }));
}

function zone(name: string, zonepath = `/zones/${name}`): ZoneConfig {
  const z = blankZone(name);
  z.zonepath = zonepath;
  return z;
}

describe("Repository.commitAll", () => {
  test("new zones in one index write; a duplicate or an overlap with an earlier one of the batch refused alone", () => {
    const repo = fresh();
    repo.commit(zone("seed"), null);
    const ino = fs.statSync(repo.indexFile).ino;
    const heard: string[] = [];
    repo.observer = (name, from, to) => heard.push(`${name}:${from}->${to}`);
    const out = repo.commitAll([
      { zone: zone("a"), previousName: null },
      { zone: zone("b"), previousName: null },
      { zone: zone("a", "/zones/other"), previousName: null },
      { zone: zone("c", "/zones/b"), previousName: null },
      { zone: zone("d"), previousName: null },
    ]);
    assert.deepEqual(
      out.map((r) => (r instanceof Error ? r.message : r.name)),
      ["a", "b", "zone 'a' already exists", out[3] instanceof Error ? out[3].message : "no error", "d"],
    );
    assert.match((out[3] as Error).message, /'b'/);
    assert.deepEqual(repo.list().map((e) => e.name), ["seed", "a", "b", "d"]);
    assert.deepEqual(repo.documents().sort(), ["a", "b", "d", "seed"]);
    assert.equal(repo.load("a").zonepath, "/zones/a");
    // One index write: the index was replaced once (a new inode), its temporaries gone.
    assert.notEqual(fs.statSync(repo.indexFile).ino, ino);
    assert.deepEqual(fs.readdirSync(repo.paths.configDir).filter((f) => f.includes(".tmp-")), []);
    assert.deepEqual(heard, ["a:null->configured", "b:null->configured", "d:null->configured"]);
  });

  test("a rename then a new zone of the old name in one batch: both documents stay", () => {
    const repo = fresh();
    repo.commit(zone("old"), null);
    const renamed = zone("new", "/zones/old");
    const out = repo.commitAll([
      { zone: renamed, previousName: "old" },
      { zone: zone("old", "/zones/again"), previousName: null },
    ]);
    assert.ok(out.every((r) => !(r instanceof Error)), String(out));
    assert.deepEqual(repo.list().map((e) => `${e.name}=${e.zonepath}`), ["new=/zones/old", "old=/zones/again"]);
    assert.equal(repo.load("old").zonepath, "/zones/again");
    assert.equal(repo.load("new").zonepath, "/zones/old");
  });

  test("all refused: nothing written, the index untouched", () => {
    const repo = fresh();
    repo.commit(zone("a"), null);
    const before = fs.statSync(repo.indexFile);
    const out = repo.commitAll([{ zone: zone("a"), previousName: null }, { zone: zone("gone"), previousName: "gone" }]);
    assert.deepEqual(
      out.map((r) => (r instanceof Error ? r.message : "ok")),
      ["zone 'a' already exists", "zone 'gone' was deleted while it was being edited"],
    );
    assert.equal(fs.statSync(repo.indexFile).ino, before.ino);
    assert.deepEqual(repo.documents(), ["a"]);
  });
});
