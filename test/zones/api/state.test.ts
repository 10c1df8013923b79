/**
 * Lifecycle through the API against a real zoneadmd and a real minimal zone: install,
 * boot, halt, uninstall as operations (wait, list, 404 for an unknown id), a 409 for
 * the wrong state before any operation starts, a failed operation's one-line err, and
 * the event stream: a boot, and a zone halting by itself when its init is killed.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { ApiClient, type EventStream } from "../../support/api.js";

const root = new ZoneTestRoot("apistate");
let api: ApiClient;
const streams: EventStream[] = [];

before(() => {
  root.ok("zonecfg", ["-z", "web", `create; set zonepath=${path.join(root.dir, "zones/web")}; set brand=minimal`]);
  root.ok("zoneadm", ["runtime"]);
  api = new ApiClient(root.paths.runDir);
});

after(() => {
  for (const s of streams) s.close();
  api?.close();
  try {
    root.run("zoneadm", ["-z", "web", "halt"]);
    root.run("zoneadm", ["-z", "web", "uninstall", "-F"]);
  } finally {
    root.remove();
  }
});

const state = (): string => root.ok("zoneadm", ["-z", "web", "list", "-p"]).split(":")[2]!;
const put = (body: unknown) => api.request("PUT", "/1.0/zones/web/state", { body });

test("install and boot are operations; wait ends with Success and zoneadm sees the state", async () => {
  const events = await api.events("lifecycle,operation");
  streams.push(events);
  assert.equal(events.status, 200);
  const r = await put({ action: "install" });
  assert.equal(r.status, 202);
  assert.equal(r.json?.type, "async");
  assert.equal(r.json?.status_code, 100);
  assert.match(r.json!.operation, /^\/1\.0\/operations\/[0-9a-f-]{36}$/);
  assert.equal(r.headers.location, r.json!.operation);
  const op = r.json!.metadata as { id: string; class: string; status: string; resources: { zones: string[] } };
  assert.equal(op.class, "task");
  assert.deepEqual(op.resources.zones, ["/1.0/zones/web"]);
  const done = await api.sync<{ status: string; err: string; metadata: { state: string } }>("GET", `${r.json!.operation}/wait?timeout=120`, { timeoutMs: 130_000 });
  assert.equal(done.status, "Success", done.err);
  assert.equal(done.metadata.state, "installed");
  assert.equal(state(), "installed");
  const booted = await api.operate("PUT", "/1.0/zones/web/state", { body: { action: "boot" } });
  assert.equal(booted.status, "Success", booted.err);
  assert.equal(state(), "running");
  const z = await api.sync<{ state: string; pid: number; zoneid: number; usage: { pids: number; memoryBytes: number } }>("GET", "/1.0/zones/web");
  assert.equal(z.state, "running");
  assert.ok(z.pid > 0 && z.zoneid > 0);
  // Resource usage from the kernel (daemon/zoneusage.ts).
  assert.ok(z.usage.pids >= 1 && z.usage.memoryBytes > 0, JSON.stringify(z.usage));
  // The operations are listed and kept after they end.
  const ops = await api.sync<string[]>("GET", "/1.0/operations");
  assert.ok(ops.includes(r.json!.operation));
  await until("the running event", () => events.events.some((e) => e.type === "lifecycle" && e.metadata.name === "web" && (e.metadata.context as { state: string }).state === "running"));
  // Every transition, in order: install's claim (incomplete) through boot.
  const states = events.events.filter((e) => e.type === "lifecycle" && e.metadata.name === "web").map((e) => (e.metadata.context as { state: string }).state);
  assert.deepEqual(states, ["incomplete", "installed", "running"]);
  const mine = events.events.filter((e) => e.type === "operation" && (e.metadata.operation as { id: string }).id === op.id).map((e) => e.metadata.action);
  assert.deepEqual(mine, ["operation-created", "operation-updated"]);
});

test("the wrong state is 409 before an operation starts; unknown zone 404; bad action 400", async () => {
  const r = await put({ action: "boot" });
  assert.equal(r.status, 409);
  assert.equal(r.json?.error, "zone is already running");
  const n = await api.request("PUT", "/1.0/zones/nope/state", { body: { action: "boot" } });
  assert.equal(n.status, 404);
  assert.equal(n.json?.error, "no such zone configured");
  const b = await put({ action: "explode" });
  assert.equal(b.status, 400);
  assert.match(b.json!.error, /^action must be one of install, uninstall, ready, boot, halt, reboot, shutdown, not "explode"$/);
  const j = await api.request("PUT", "/1.0/zones/web/state", { text: "{not json" });
  assert.equal(j.status, 400);
  assert.match(j.json!.error, /^request body is not JSON/);
  const w = await api.request("GET", "/1.0/operations/00000000-0000-0000-0000-000000000000");
  assert.equal(w.status, 404);
});

test("a zone whose init is killed halts by itself, and the event stream says so", async () => {
  const events = await api.events("lifecycle,logging");
  streams.push(events);
  const z = await api.sync<{ pid: number }>("GET", "/1.0/zones/web");
  process.kill(z.pid, "SIGKILL");
  await until("the installed event", () => events.events.some((e) => e.metadata.name === "web" && (e.metadata.context as { state: string }).state === "installed"), 20_000);
  assert.equal(state(), "installed");
  const seen = events.events.filter((e) => e.type === "lifecycle").map((e) => (e.metadata.context as { state: string }).state);
  assert.deepEqual(seen.slice(-3), ["shutting_down", "down", "installed"]);
  // The daemon's log line says why, as a logging event.
  assert.ok(events.events.some((e) => e.type === "logging" && /zone 'web': halting: its init ended on signal 9/.test(String(e.metadata.message))), JSON.stringify(events.events.filter((e) => e.type === "logging")));
});

test("uninstall through the API; a failed operation carries the command's message", async () => {
  const op = await api.operate("PUT", "/1.0/zones/web/state", { body: { action: "uninstall" } });
  assert.equal(op.status, "Success", op.err);
  assert.equal(state(), "configured");
  // A failure inside the operation: its err is the daemon's one line, as zoneadm prints it.
  const f = await api.operate("POST", "/1.0/zones/web/clone", { body: { source: "nosuch" } });
  assert.equal(f.status, "Failure");
  const cli = root.run("zoneadm", ["-z", "web", "clone", "nosuch"]);
  assert.equal(`zoneadm: zone 'web': ${f.err}\n`, cli.stderr);
});
