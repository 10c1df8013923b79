/**
 * The API's reads against a real zoneadmd: GET /1.0, the zone list (URLs and
 * ?recursion=1 objects with the fields of `zoneadm list -p`), one zone, the envelopes
 * and the statuses of unknown paths and methods.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { ZoneTestRoot } from "../../support/zones.js";
import { ApiClient } from "../../support/api.js";

const root = new ZoneTestRoot("apiread");
let api: ApiClient;

before(() => {
  root.ok("zonecfg", ["-z", "web", `create; set zonepath=${path.join(root.dir, "zones/web")}; set brand=minimal`]);
  root.ok("zonecfg", ["-z", "db", `create; set zonepath=${path.join(root.dir, "zones/db")}; set brand=minimal`]);
  // Any zoneadm call through the daemon starts it.
  root.ok("zoneadm", ["runtime"]);
  api = new ApiClient(root.paths.runDir);
});

after(() => {
  api?.close();
  root.remove();
});

test("GET /1.0 says what the server is, in a sync envelope", async () => {
  const r = await api.get("/1.0");
  assert.equal(r.status, 200);
  assert.equal(r.json?.type, "sync");
  assert.equal(r.json?.status, "Success");
  assert.equal(r.json?.status_code, 200);
  assert.equal(r.json?.error, "");
  const m = r.json?.metadata as { api_version: string; server_pid: number; caller: { uid: number } };
  assert.equal(m.api_version, "1.0");
  assert.equal(m.server_pid, root.daemonPid());
  assert.equal(m.caller.uid, 0);
});

test("GET /1.0/zones lists URLs; recursion=1 the objects zoneadm list -p describes", async () => {
  assert.deepEqual((await api.sync<string[]>("GET", "/1.0/zones")).sort(), ["/1.0/zones/db", "/1.0/zones/web"]);
  const objs = await api.sync<Array<Record<string, unknown>>>("GET", "/1.0/zones?recursion=1");
  const lines = root.ok("zoneadm", ["list", "-cp"]).trim().split("\n").slice(1);
  assert.equal(objs.length, lines.length);
  for (const line of lines) {
    const [id, name, state, zonepath, uuid, brand, ipType] = line.split(":");
    const o = objs.find((x) => x.name === name)!;
    assert.deepEqual([o.zoneid ?? "-", o.state, o.zonepath, o.uuid, o.brand, o.ip_type], [id === "-" ? "-" : Number(id), state, zonepath, uuid, brand, ipType]);
  }
  const one = await api.sync<Record<string, unknown>>("GET", "/1.0/zones/web");
  assert.deepEqual(one, objs.find((x) => x.name === "web"));
});

test("unknown zone 404, bad name 400, unknown path 404, wrong method 405: error envelopes", async () => {
  const cases: Array<[string, string, number, RegExp]> = [
    ["GET", "/1.0/zones/nope", 404, /^no such zone configured$/],
    ["GET", "/1.0/zones/-bad", 400, /^invalid zone name "-bad"/],
    ["GET", "/1.0/nothing", 404, /no such API path "\/1.0\/nothing"/],
    ["PATCH", "/1.0", 405, /method "PATCH" is not allowed on "\/1.0"/],
    ["GET", "/1.0/zones?recursion=2", 400, /recursion must be 0 or 1/],
  ];
  for (const [method, p, status, msg] of cases) {
    const r = await api.request(method, p);
    assert.equal(r.status, status, `${method} ${p}`);
    assert.equal(r.json?.type, "error");
    assert.equal(r.json?.error_code, status);
    assert.equal(r.json?.metadata, null);
    assert.match(r.json!.error, msg);
  }
});

test("a body over the limit is 413; HEAD answers a GET's headers without its body", async () => {
  const big = await api.request("PUT", "/1.0/zones/web/config", { text: "#".repeat(5 * 1024 * 1024) });
  assert.equal(big.status, 413);
  assert.match(big.json!.error, /^request body of \d+ bytes is longer than 4194304 bytes$/);
  const h = await api.request("HEAD", "/1.0/zones/web");
  assert.equal(h.status, 200);
  assert.equal(h.text, "");
  assert.ok(Number(h.headers["content-length"]) > 0);
});
