// The Repository's layout, commits and renames.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { serializeZone } from "../../src/document/store/document.js";
import { ZoneError } from "../../src/native/errors.js";
import { cloneZone } from "../../src/document/model.js";
import { escapeField } from "../../src/document/store/fields.js";
import { Repository } from "../../src/document/store/repository.js";
import { zoneError } from "../support/assertions.js";
import { freshRepo, indexLines, useTempParent, zone } from "./repositorysupport.js";

useTempParent();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("Repository layout", () => {
  test("ZONES_ROOT relocates the config directory", () => {
    const { repo, root } = freshRepo();
    assert.equal(repo.paths.configDir, path.join(root, "etc/zones"));
    assert.equal(repo.indexFile, path.join(root, "etc/zones/index"));
    assert.equal(repo.zoneFile("web"), path.join(root, "etc/zones/web.cfg"));
  });

  test("an empty repository lists nothing", () => {
    const { repo } = freshRepo();
    assert.deepEqual(repo.list(), []);
    assert.equal(repo.find("web"), undefined);
  });

  test("zoneFile refuses names that could escape the directory", () => {
    const { repo } = freshRepo();
    zoneError(() => repo.zoneFile("../etc"), "invalid zone name");
    zoneError(() => repo.zoneFile("global"), "reserved");
  });

  test("loading a zone without a document says it is missing", () => {
    const { repo } = freshRepo();
    zoneError(() => repo.load("nothere"), "nothere.cfg", "missing");
  });
});

describe("Repository.commit", () => {
  test("a new zone gets an index line and <name>.cfg", () => {
    const { repo } = freshRepo();
    const z = zone(repo, "web");
    const entry = repo.commit(cloneZone(z), null);
    assert.equal(entry.name, "web");
    assert.equal(entry.state, "configured");
    assert.equal(entry.zonepath, z.zonepath);
    assert.match(entry.uuid, UUID);
    const lines = indexLines(repo);
    assert.equal(lines.length, 1);
    // name:state:zonepath:uuid first (further fields may follow, as in zoneadm list -p)
    assert.ok(lines[0]!.startsWith(`web:configured:${escapeField(z.zonepath)}:${entry.uuid}`), lines[0]);
    assert.ok(fs.existsSync(repo.zoneFile("web")));
    assert.equal(fs.readFileSync(repo.zoneFile("web"), "utf8"), serializeZone(z));
    assert.deepEqual(repo.list(), [entry]);
    assert.deepEqual(repo.find("web"), entry);
  });

  test("load returns an equal config, also from a fresh Repository object", () => {
    const { repo } = freshRepo();
    const z = zone(repo, "web");
    repo.commit(cloneZone(z), null);
    assert.deepStrictEqual(repo.load("web"), z);
    assert.deepStrictEqual(new Repository(repo.paths).load("web"), z);
  });

  test("commit pairs max-lwps with max-processes before storing", () => {
    const { repo } = freshRepo();
    const z = zone(repo, "web");
    z.rctl.push({ name: "zone.max-lwps", values: [{ priv: "privileged", limit: 300, action: "deny" }] });
    repo.commit(z, null);
    const back = repo.load("web");
    assert.deepEqual(
      back.rctl.find((r) => r.name === "zone.max-processes")?.values,
      [{ priv: "privileged", limit: 300, action: "deny" }],
    );
    const y = zone(repo, "db");
    y.zonepath = path.join(repo.paths.zonesDir, "db");
    y.net = [];
    y.rctl = [{ name: "zone.max-processes", values: [{ priv: "privileged", limit: 40, action: "deny" }] }];
    repo.commit(y, null);
    assert.equal(repo.load("db").rctl.find((r) => r.name === "zone.max-lwps")?.values[0]?.limit, 400);
  });

  test("a second commit updates the document and keeps state and uuid", () => {
    const { repo } = freshRepo();
    const z = zone(repo, "web");
    const first = repo.commit(cloneZone(z), null);
    z.autoboot = false;
    z.attr.push({ name: "n2", type: "int", value: "-3" });
    const second = repo.commit(cloneZone(z), "web");
    assert.equal(second.uuid, first.uuid);
    assert.equal(second.state, "configured");
    assert.deepStrictEqual(repo.load("web"), z);
    assert.equal(indexLines(repo).length, 1);
  });

  test("several zones keep their order in the index", () => {
    const { repo } = freshRepo();
    for (const n of ["a", "b", "c"]) repo.commit(zone(repo, n), null);
    assert.deepEqual(
      repo.list().map((e) => e.name),
      ["a", "b", "c"],
    );
  });

  test("a new zone with an existing name is refused", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "web"), null);
    const z = zone(repo, "web");
    z.zonepath = path.join(repo.paths.zonesDir, "other");
    zoneError(() => repo.commit(z, null), "zone 'web' already exists");
    assert.equal(indexLines(repo).length, 1);
  });

  test("a zonepath overlapping another zone's is refused", () => {
    const { repo } = freshRepo();
    const a = zone(repo, "a");
    repo.commit(cloneZone(a), null);
    const b = zone(repo, "b");
    b.zonepath = path.join(a.zonepath, "inner");
    zoneError(() => repo.commit(b, null), "overlaps", "'a'");
    assert.equal(repo.find("b"), undefined);
  });

  test("committing an edit of a zone that was deleted meanwhile is refused", () => {
    const { repo } = freshRepo();
    const z = zone(repo, "web");
    repo.commit(cloneZone(z), null);
    repo.delete("web");
    zoneError(() => repo.commit(z, "web"), "'web' was deleted while it was being edited");
    assert.equal(fs.existsSync(repo.zoneFile("web")), false);
  });

  test("checkChange sees the old entry and can veto the commit", () => {
    const { repo } = freshRepo();
    const z = zone(repo, "web");
    repo.commit(cloneZone(z), null);
    const before = fs.readFileSync(repo.zoneFile("web"), "utf8");
    z.autoboot = false;
    zoneError(
      () =>
        repo.commit(z, "web", {
          checkChange: (old) => {
            assert.equal(old.name, "web");
            throw new ZoneError("vetoed");
          },
        }),
      "vetoed",
    );
    assert.equal(fs.readFileSync(repo.zoneFile("web"), "utf8"), before);
  });

  test("an invalid zone is refused with every problem and writes nothing", () => {
    const { repo } = freshRepo();
    const z = zone(repo, "web");
    z.zonepath = "";
    z.hostid = "nothex";
    const msg = zoneError(() => repo.commit(z, null), "zonepath not specified", "hostid");
    assert.equal(msg.split("\n").length, 2, msg);
    assert.equal(fs.existsSync(repo.indexFile), false, "no index");
    assert.equal(fs.existsSync(repo.zoneFile("web")), false, "no document");
    assert.deepEqual(
      fs.readdirSync(repo.paths.configDir).filter((f) => f !== ".lock"),
      [],
    );
  });

  test(
    "a refused commit leaves the caller's zone unchanged",
    () => {
      const { repo } = freshRepo();
      const z = zone(repo, "web");
      z.zonepath = "";
      z.rctl = [{ name: "zone.max-lwps", values: [{ priv: "privileged", limit: 5, action: "deny" }] }];
      const before = cloneZone(z);
      zoneError(() => repo.commit(z, null), "zonepath not specified");
      assert.deepStrictEqual(z, before);
    },
  );

  test("an invalid change to an existing zone leaves its files as they were", () => {
    const { repo } = freshRepo();
    const z = zone(repo, "web");
    repo.commit(cloneZone(z), null);
    const doc = fs.readFileSync(repo.zoneFile("web"), "utf8");
    const index = fs.readFileSync(repo.indexFile, "utf8");
    const bad = cloneZone(z);
    bad.net[0]!.address = "";
    zoneError(() => repo.commit(bad, "web"), "address not specified");
    assert.equal(fs.readFileSync(repo.zoneFile("web"), "utf8"), doc);
    assert.equal(fs.readFileSync(repo.indexFile, "utf8"), index);
  });

  test("stale temporary files are removed on the next commit", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "a"), null);
    const dir = repo.paths.configDir;
    const stale = [".x.cfg.tmp-123", ".index.tmp-99999", ".a.cfg.tmp-1"];
    for (const f of stale) fs.writeFileSync(path.join(dir, f), "half written");
    fs.writeFileSync(path.join(dir, "keep.tmp-1"), "not ours: no leading dot");
    repo.commit(zone(repo, "b"), null);
    const left = fs.readdirSync(dir);
    for (const f of stale) assert.ok(!left.includes(f), `${f} was not removed`);
    assert.ok(left.includes("keep.tmp-1"));
    assert.ok(!left.some((f) => f.includes(".tmp-") && f.startsWith(".")), JSON.stringify(left));
  });

  test("a zonepath with ':' and '\\' survives the index", () => {
    const { repo } = freshRepo();
    const z = zone(repo, "odd");
    z.zonepath = path.join(repo.paths.zonesDir, "a:b\\c");
    const entry = repo.commit(cloneZone(z), null);
    assert.equal(entry.zonepath, z.zonepath);
    assert.ok(indexLines(repo)[0]!.includes(escapeField(z.zonepath)));
    assert.equal(new Repository(repo.paths).find("odd")?.zonepath, z.zonepath);
    assert.equal(repo.load("odd").zonepath, z.zonepath);
  });
});

describe("Repository rename", () => {
  test("commit with a new zonename moves the file and keeps the uuid and state", () => {
    const { repo } = freshRepo();
    const z = zone(repo, "web");
    const first = repo.commit(cloneZone(z), null);
    repo.setState("web", "incomplete");
    repo.setState("web", "installed");
    const renamed = cloneZone(z);
    renamed.zonename = "www";
    const entry = repo.commit(renamed, "web");
    assert.equal(entry.name, "www");
    assert.equal(entry.uuid, first.uuid);
    assert.equal(entry.state, "installed");
    assert.equal(fs.existsSync(repo.zoneFile("web")), false, "old document removed");
    assert.ok(fs.existsSync(repo.zoneFile("www")));
    assert.deepEqual(
      repo.list().map((e) => e.name),
      ["www"],
    );
    const loaded = repo.load("www");
    assert.equal(loaded.zonename, "www");
    assert.deepStrictEqual(loaded, renamed);
  });

  test("renaming onto an existing zone is refused and changes nothing", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "a"), null);
    repo.commit(zone(repo, "b"), null);
    const index = fs.readFileSync(repo.indexFile, "utf8");
    const z = repo.load("a");
    z.zonename = "b";
    zoneError(() => repo.commit(z, "a"), "zone 'b' already exists");
    assert.equal(fs.readFileSync(repo.indexFile, "utf8"), index);
    assert.ok(fs.existsSync(repo.zoneFile("a")));
  });
});
