/**
 * The OpenAPI description against the live server: what GET /1.0/openapi.json serves
 * is docs/openapi.json (the reviewed copy: a route added without it fails here;
 * ZONES_UPDATE_OPENAPI=1 rewrites it), every described method on every described path
 * reaches a handler (never the router's 404 or 405), and every other method on those
 * paths is 405 with exactly the described methods in Allow.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { TOP } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { ApiClient } from "../../support/api.js";

const root = new ZoneTestRoot("apidoc");
let api: ApiClient;
const DOC = path.join(TOP, "docs/openapi.json");
const METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH"];

before(() => {
  root.ok("zoneadm", ["runtime"]);
  api = new ApiClient(root.paths.runDir);
});

after(() => {
  api?.close();
  root.remove();
});

test("the served description is docs/openapi.json", async () => {
  const r = await api.get("/1.0/openapi.json");
  assert.equal(r.status, 200);
  if (process.env.ZONES_UPDATE_OPENAPI === "1") fs.writeFileSync(DOC, r.text);
  const doc = JSON.parse(r.text) as { openapi: string; paths: Record<string, unknown> };
  assert.equal(doc.openapi, "3.0.3");
  assert.equal(r.text, fs.readFileSync(DOC, "utf8"), "the routes changed: review them and run this test with ZONES_UPDATE_OPENAPI=1 to rewrite docs/openapi.json");
});

test("every described operation is served, and nothing else on its path", async () => {
  const doc = JSON.parse((await api.get("/1.0/openapi.json")).text) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  assert.ok(Object.keys(doc.paths).length >= 12);
  for (const [p, ops] of Object.entries(doc.paths)) {
    // Parameters name a zone and an operation that do not exist: handlers answer, not the router.
    const url = p.replace("{name}", "nosuch").replace("{id}", "00000000-0000-0000-0000-000000000000");
    const described = Object.keys(ops).map((m) => m.toUpperCase());
    for (const m of described) {
      if ("text/event-stream" in ((ops[m.toLowerCase()]!.responses["200"] as { content?: Record<string, unknown> })?.content ?? {})) {
        const s = await api.events();
        s.close();
        assert.equal(s.status, 200, p);
        continue;
      }
      const r = await api.request(m, url, m === "GET" || m === "DELETE" ? {} : { body: {} });
      assert.ok(![405].includes(r.status) && !/^no such API path/.test(r.json?.error ?? ""), `${m} ${p}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.ok(String(r.status) in ops[m.toLowerCase()]!.responses, `${m} ${p} answered ${r.status}, which its description does not list`);
    }
    for (const m of METHODS.filter((x) => !described.includes(x))) {
      const r = await api.request(m, url);
      assert.equal(r.status, 405, `${m} ${p} is served but not described`);
      assert.deepEqual(String(r.headers.allow).split(", ").sort(), described.sort());
    }
  }
});
