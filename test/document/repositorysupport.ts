/**
 * What the Repository tests share (repository and repositorystate .test.ts): fresh
 * repositories, each under its own ZONES_ROOT in one temporary directory, a sample zone,
 * and the index lines as written.
 */
import { before, after } from "node:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { blankZone, type ZoneConfig } from "../../src/document/model.js";
import { zonePaths } from "../../src/document/store/paths.js";
import { Repository } from "../../src/document/store/repository.js";

let parent = "";
let counter = 0;

/** Make the temporary directory before the file's tests and remove it after (call once, at top level). */
export function useTempParent(): void {
  before(() => {
    parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "zones-repo-")));
  });

  after(() => {
    if (parent !== "") fs.rmSync(parent, { recursive: true, force: true });
  });
}

/** A fresh, empty repository under its own ZONES_ROOT. */
export function freshRepo(): { repo: Repository; root: string } {
  const root = path.join(parent, `r${++counter}`);
  fs.mkdirSync(root);
  return { repo: new Repository(zonePaths({ ZONES_ROOT: root })), root };
}

export function zone(repo: Repository, name: string): ZoneConfig {
  const z = blankZone(name);
  z.zonepath = path.join(repo.paths.zonesDir, name);
  z.autoboot = true;
  z.bootargs = 'say "hi"; x=[1,2]';
  z.fs = [{ dir: "/mnt", special: "/srv/data", raw: "", type: "lofs", options: ["ro", "nodevices"] }];
  z.net = [{ address: "10.1.0.5/24", allowedAddress: "", physical: "eth0", defrouter: "" }];
  z.rctl = [{ name: "zone.cpu-shares", values: [{ priv: "privileged", limit: 20, action: "none" }] }];
  z.attr = [{ name: "note", type: "string", value: "a, b = c" }];
  z.cappedMemory = { physical: 256 * 1024 ** 2 };
  return z;
}

export function indexLines(repo: Repository): string[] {
  return fs
    .readFileSync(repo.indexFile, "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"));
}
