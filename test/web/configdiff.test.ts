/**
 * The configuration editor's save (web/configdiff.js): an edited export text becomes
 * the zonecfg commands from the loaded configuration to the new one, never a second
 * `create` (refused once a zone is installed); any other text is sent as it is.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { TOP } from "../support/helpers.js";

interface ConfigDiff {
  configCommands(before: string, after: string): string;
}
const load = async (): Promise<ConfigDiff> => (await import(pathToFileURL(path.join(TOP, "web/configdiff.js")).href)) as ConfigDiff;

const BEFORE = `create -b
set zonepath=/zones/web
set brand=minimal
set autoboot=false
add net
set address=10.213.77.11/24
set physical=zbr0
end
add capped-memory
set physical=256M
end
`;

test("an unchanged export is no command at all", async () => {
  const { configCommands } = await load();
  assert.equal(configCommands(BEFORE, BEFORE), "");
  assert.equal(configCommands(BEFORE, BEFORE.replace(/\n/g, "\n\n")), "", "blank lines are no change");
});

test("a changed global property is one set; a removed one is a clear; brand and zonepath unchanged are not set again", async () => {
  const { configCommands } = await load();
  assert.equal(configCommands(BEFORE, BEFORE.replace("autoboot=false", "autoboot=true")), "set autoboot=true\n");
  assert.equal(configCommands(BEFORE, BEFORE.replace("set autoboot=false\n", "")), "clear autoboot\n");
});

test("a changed resource replaces the resources of its type only; a new type is added; a dropped type removed", async () => {
  const { configCommands } = await load();
  assert.equal(configCommands(BEFORE, BEFORE.replace("10.213.77.11/24", "10.213.77.21/24")), "remove -F net\nadd net\nset address=10.213.77.21/24\nset physical=zbr0\nend\n");
  assert.equal(configCommands(BEFORE, `${BEFORE}add fs\nset dir=/data\nset special=/srv/data\nset type=lofs\nadd options ro\nend\n`), "add fs\nset dir=/data\nset special=/srv/data\nset type=lofs\nadd options ro\nend\n");
  assert.equal(configCommands(BEFORE, BEFORE.replace("add capped-memory\nset physical=256M\nend\n", "")), "remove -F capped-memory\n");
});

test("text that is not an export is sent as it is", async () => {
  const { configCommands } = await load();
  assert.equal(configCommands(BEFORE, "set autoboot=true; add net; set physical=zbr1; end"), "set autoboot=true; add net; set physical=zbr1; end");
});
