/**
 * Configurations over the API against a real zoneadmd: create from command text and
 * from export text (201 + the export), read it back (JSON and text/plain), change it
 * with zonecfg commands (the same verify messages as `zonecfg -f`), delete (only a
 * configured zone), and a status for each kind of error.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { ApiClient, type EventStream } from "../../support/api.js";

const root = new ZoneTestRoot("apicfg");
let api: ApiClient;
let events: EventStream;

before(async () => {
  root.ok("zoneadm", ["runtime"]);
  api = new ApiClient(root.paths.runDir);
  events = await api.events("lifecycle");
});

after(() => {
  events?.close();
  api?.close();
  root.remove();
});

const zp = (n: string): string => path.join(root.dir, "zones", n);
const exportOf = (n: string): string => root.ok("zonecfg", ["-z", n, "export"]);

test("POST /1.0/zones creates from command text: 201, the export, as zonecfg sees it", async () => {
  const r = await api.request("POST", "/1.0/zones", { body: { name: "web", config: `set zonepath=${zp("web")}\nset brand=minimal\nset autoboot=true` } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.location, "/1.0/zones/web");
  const m = r.json!.metadata as { name: string; export: string };
  assert.equal(m.name, "web");
  assert.equal(m.export, exportOf("web"));
  assert.match(m.export, /set autoboot=true/);
  // The export text creates an equal zone.
  const copy = m.export.replace(`zonepath=${zp("web")}`, `zonepath=${zp("copy")}`);
  const c = await api.request("POST", "/1.0/zones", { body: { name: "copy", config: copy } });
  assert.equal(c.status, 201, c.text);
  assert.equal(exportOf("copy"), copy);
  // Taken name: 409.
  const again = await api.request("POST", "/1.0/zones", { body: { name: "web", config: "" } });
  assert.equal(again.status, 409);
  assert.equal(again.json?.error, "zone 'web' already exists");
});

test("GET config: JSON by default, text/plain on request", async () => {
  const j = await api.sync<{ export: string }>("GET", "/1.0/zones/web/config");
  assert.equal(j.export, exportOf("web"));
  const t = await api.get("/1.0/zones/web/config?format=text");
  assert.equal(t.status, 200);
  assert.match(String(t.headers["content-type"]), /^text\/plain/);
  assert.equal(t.text, exportOf("web"));
  const a = await api.get("/1.0/zones/web/config", { headers: { Accept: "text/plain" } });
  assert.equal(a.text, exportOf("web"));
});

test("PUT config runs zonecfg commands: the new export; errors are zonecfg -f's, nothing committed", async () => {
  const r = await api.request("PUT", "/1.0/zones/web/config", { text: "set autoboot=false\nadd attr\nset name=comment\nset type=string\nset value=hello\nend\n" });
  assert.equal(r.status, 200, r.text);
  assert.equal((r.json!.metadata as { export: string }).export, exportOf("web"));
  assert.match(exportOf("web"), /set autoboot=false/);
  const before = exportOf("web");
  // The same mistake through zonecfg -f and through the API: the same message.
  const bad = "set autoboot=maybe\n";
  const file = path.join(root.dir, "request body");
  fs.writeFileSync(file, bad);
  const cli = root.run("zonecfg", ["-z", "web", "-f", file]);
  assert.notEqual(cli.status, 0);
  const b = await api.request("PUT", "/1.0/zones/web/config", { text: bad });
  assert.equal(b.status, 400);
  assert.equal(`zonecfg: zone 'web': ${b.json!.error.replace(/^request body/, file)}\n`, cli.stderr);
  // A verify failure at commit: the message of the commit, status 400.
  const v = await api.request("PUT", "/1.0/zones/web/config", { body: { config: `set zonepath=${zp("copy")}` } });
  assert.equal(v.status, 400);
  assert.match(v.json!.error, /zonepath/);
  assert.equal(exportOf("web"), before);
  const miss = await api.request("PUT", "/1.0/zones/nope/config", { text: "set autoboot=true" });
  assert.equal(miss.status, 404);
});

test("DELETE removes a configured zone only: 409 for an installed one, 404 after", async () => {
  root.ok("zoneadm", ["-z", "copy", "install"]);
  const r = await api.request("DELETE", "/1.0/zones/copy");
  assert.equal(r.status, 409);
  assert.equal(r.json?.error, "zone is installed; only a configured zone can be deleted (uninstall it first)");
  root.ok("zoneadm", ["-z", "copy", "uninstall", "-F"]);
  const d = await api.request("DELETE", "/1.0/zones/copy");
  assert.equal(d.status, 200, d.text);
  assert.equal(root.run("zonecfg", ["-z", "copy", "info"]).status, 1);
  assert.equal((await api.request("DELETE", "/1.0/zones/copy")).status, 404);
  assert.equal((await api.request("DELETE", "/1.0/zones/web")).status, 200);
});

test("events: each change once, also those zonecfg makes on its own", async () => {
  const told = (name: string, action: string): number => events.events.filter((e) => e.metadata.name === name && e.metadata.action === action).length;
  // The API's own: web was created once, changed, deleted.
  await until("web's deletion", () => told("web", "zone-deleted") === 1);
  assert.equal(told("web", "zone-created"), 1);
  // zonecfg writes the repository itself: the daemon sees it on the index.
  root.ok("zonecfg", ["-z", "ext", `create; set zonepath=${zp("ext")}; set brand=minimal`]);
  await until("ext's creation", () => told("ext", "zone-created") === 1);
  root.ok("zonecfg", ["-z", "ext", "delete", "-F"]);
  await until("ext's deletion", () => told("ext", "zone-deleted") === 1);
  // copy was installed and uninstalled by zoneadm (through the daemon): told once each.
  const copy = events.events.filter((e) => e.metadata.name === "copy").map((e) => (e.metadata.context as { state: string | null }).state);
  assert.deepEqual(copy, ["configured", "incomplete", "installed", "incomplete", "configured", null]);
});
