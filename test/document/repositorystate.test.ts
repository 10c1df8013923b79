// The Repository's delete and state changes, and what it does with hand-broken files.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { cloneZone } from "../../src/document/model.js";
import { Repository } from "../../src/document/store/repository.js";
import { zoneError } from "../support/assertions.js";
import { freshRepo, indexLines, useTempParent, zone } from "./repositorysupport.js";

useTempParent();

describe("Repository.delete", () => {
  test("delete removes the index line and the document", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "a"), null);
    repo.commit(zone(repo, "b"), null);
    repo.delete("a");
    assert.deepEqual(
      repo.list().map((e) => e.name),
      ["b"],
    );
    assert.equal(fs.existsSync(repo.zoneFile("a")), false);
    assert.ok(fs.existsSync(repo.zoneFile("b")));
    zoneError(() => repo.load("a"), "missing");
  });

  test("delete of an unknown zone", () => {
    const { repo } = freshRepo();
    zoneError(() => repo.delete("ghost"), "zone 'ghost' does not exist");
  });

  test("delete of a zone that is not configured is refused", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "a"), null);
    repo.setState("a", "installed");
    zoneError(() => repo.delete("a"), "'a' is installed", "uninstall");
    assert.ok(fs.existsSync(repo.zoneFile("a")));
    assert.equal(repo.find("a")?.state, "installed");
  });
});

describe("Repository.setState", () => {
  test("follows the state model and persists", () => {
    const { repo } = freshRepo();
    const { uuid } = repo.commit(zone(repo, "web"), null);
    for (const s of ["incomplete", "installed", "ready", "running", "shutting_down", "down", "installed"] as const) {
      repo.setState("web", s);
      assert.equal(new Repository(repo.paths).find("web")?.state, s);
    }
    assert.equal(repo.find("web")?.uuid, uuid);
    assert.ok(indexLines(repo)[0]!.startsWith("web:installed:"));
  });

  test("an illegal transition throws and leaves the state as it was", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "web"), null);
    const index = fs.readFileSync(repo.indexFile, "utf8");
    zoneError(() => repo.setState("web", "running"), "configured", "running");
    assert.equal(repo.find("web")?.state, "configured");
    assert.equal(fs.readFileSync(repo.indexFile, "utf8"), index);
  });

  test("setState of an unknown zone", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "web"), null);
    zoneError(() => repo.setState("ghost", "installed"), "zone 'ghost' does not exist");
  });

  test("only the named zone changes", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "a"), null);
    repo.commit(zone(repo, "b"), null);
    repo.setState("b", "installed");
    assert.deepEqual(
      repo.list().map((e) => [e.name, e.state]),
      [
        ["a", "configured"],
        ["b", "installed"],
      ],
    );
  });
});

describe("Repository: hand-broken files", () => {
  test("a bad value at line 3 names the file and the line; other zones still load", () => {
    const { repo } = freshRepo();
    const good = zone(repo, "good");
    repo.commit(cloneZone(good), null);
    repo.commit(zone(repo, "bad"), null);
    const file = repo.zoneFile("bad");
    fs.writeFileSync(file, `# hand edited\ncreate -b\nset autoboot=maybe\nset ip-type=shared\n`);
    const msg = zoneError(() => repo.load("bad"), file, "line 3", "autoboot", '"maybe"');
    assert.ok(msg.startsWith(`${file} line 3: `), msg);
    assert.deepStrictEqual(repo.load("good"), good);
    assert.deepEqual(
      repo.list().map((e) => e.name),
      ["good", "bad"],
    );
  });

  test("an unterminated quote at line 3 names the file and line 3", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "good"), null);
    repo.commit(zone(repo, "bad"), null);
    const file = repo.zoneFile("bad");
    fs.writeFileSync(file, `create -b\nset autoboot=true\nset bootargs="never closed\nset ip-type=shared\n`);
    zoneError(() => repo.load("bad"), file, "line 3", "unterminated");
    assert.equal(repo.load("good").zonename, "good");
  });

  test("an unclosed resource, a foreign command and a missing create -b are reported", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "bad"), null);
    const file = repo.zoneFile("bad");
    fs.writeFileSync(file, "create -b\nadd fs\nset dir=/a\n");
    zoneError(() => repo.load("bad"), file, "fs resource is not closed");
    fs.writeFileSync(file, "create -b\nset autoboot=true\ncommit\n");
    zoneError(() => repo.load("bad"), file, "line 3", "'commit' does not belong");
    fs.writeFileSync(file, "set autoboot=true\n");
    zoneError(() => repo.load("bad"), file, "line 1", "create -b");
    fs.writeFileSync(file, "# only a comment\n");
    zoneError(() => repo.load("bad"), file, "empty");
  });

  test("a resource that fails validation names the line of its end", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "bad"), null);
    const file = repo.zoneFile("bad");
    fs.writeFileSync(file, "create -b\nadd fs\nset dir=/a\nset special=/b\nset type=proc\nend\n");
    zoneError(() => repo.load("bad"), file, "line 6", '"proc"');
  });

  test("a broken index line names the index file and line", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "a"), null);
    const good = fs.readFileSync(repo.indexFile, "utf8");
    // the header is line 1 and zone a is line 2
    assert.equal(good.split("\n").length, 3);
    const line = indexLines(repo)[0]!;
    assert.ok(line.startsWith("a:configured:"), line);
    const b = line.replace(/^a:/, "b:").replace(/:[0-9a-f-]{36}/, ":0000");
    assert.deepEqual(
      (() => {
        fs.writeFileSync(repo.indexFile, good + b + "\n");
        return repo.list().map((e) => e.name);
      })(),
      ["a", "b"],
      "the well-formed variant used below is accepted",
    );
    // A bad line costs only its own zone: the good zone a stays listed, the message names file and line.
    const only = (text: string, ...fragments: string[]): void => {
      fs.writeFileSync(repo.indexFile, text);
      const scan = repo.scan();
      assert.deepEqual(scan.entries.map((e) => e.name), ["a"]);
      assert.equal(scan.problems.length, 1, JSON.stringify(scan.problems));
      for (const f of [repo.indexFile, ...fragments]) assert.ok(scan.problems[0]!.includes(f), `${scan.problems[0]} lacks ${f}`);
    };
    only(good + "broken line without fields\n", "line 3", "expected name:state:zonepath:uuid");
    only(good + b.replace(":configured:", ":sleeping:") + "\n", "line 3", "unknown state", '"sleeping"');
    only(good + "\n" + b.replace(/^b:/, "-b:") + "\n", "line 4", "invalid zone name");
    only(good + b + ":extra\n", "line 3");
    zoneError(() => repo.find("b"), repo.indexFile, "line 3");
  });

  test("a broken line does not stop commits of other zones, which keep it", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "a"), null);
    fs.appendFileSync(repo.indexFile, "garbage\n");
    repo.commit(zone(repo, "b"), null);
    assert.deepEqual(repo.list().map((e) => e.name), ["a", "b"]);
    assert.ok(indexLines(repo).includes("garbage"), "the bad line is kept for its owner to mend");
  });

  test("a document that the index does not name is ignored", () => {
    const { repo } = freshRepo();
    repo.commit(zone(repo, "a"), null);
    fs.writeFileSync(path.join(repo.paths.configDir, "leftover.cfg"), "create -b\n");
    assert.deepEqual(
      repo.list().map((e) => e.name),
      ["a"],
    );
  });
});
