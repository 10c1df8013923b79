/**
 * The events stream and the state view against a real zoneadmd:
 *   - a configuration changed in place by the zonecfg command (which writes the
 *     repository itself) is a lifecycle "zone-updated" event, once; one changed through
 *     the API is one too, also once (indexwatch.ts);
 *   - a delegated admin's /1.0/events shows her zone's events and nothing of another
 *     zone, of root's operations or of the daemon's log; her zone's deletion too,
 *     though its admin resource goes with it, but not that of a zone taken from her;
 *   - GET /1.0/zones/<name>/state: state, status, pid, uptime, usage (zonestatus.ts),
 *     hers to read, another zone's not.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { TOP, until } from "../../support/helpers.js";
import { HostUser } from "../../support/hostuser.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { ApiClient, type EventStream, type StreamEvent } from "../../support/api.js";
import { hostApiSocketPath } from "../../../src/daemon/api/api.js";

const root = new ZoneTestRoot("apievents");
const users: HostUser[] = [];
const children: ChildProcess[] = [];
const streams: EventStream[] = [];
let alice: HostUser;
let api: ApiClient;

before(() => {
  alice = HostUser.into(users, "ev");
  root.minimalZone("web", [[alice.name, "login,manage"]]);
  root.minimalZone("other");
  root.ok("zoneadm", ["runtime"]);
  api = new ApiClient(root.paths.runDir);
});

after(() => {
  for (const s of streams) s.close();
  for (const c of children) c.kill("SIGKILL");
  api?.close();
  try {
    for (const z of ["web", "other"]) {
      root.run("zoneadm", ["-z", z, "halt"]);
      root.run("zoneadm", ["-z", z, "uninstall", "-F"]);
    }
  } finally {
    for (const u of users) u.remove();
    root.remove();
  }
});

const updates = (s: EventStream, zone: string): StreamEvent[] => s.events.filter((e) => e.type === "lifecycle" && e.metadata.name === zone && e.metadata.action === "zone-updated");
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("zonecfg changing a zone in place is one zone-updated event; so is a change through the API", async () => {
  const s = await api.events("lifecycle");
  streams.push(s);
  root.ok("zonecfg", ["-z", "web", "set autoboot=true"]);
  await until("zonecfg's change as an event", () => updates(s, "web").length > 0);
  assert.deepEqual(updates(s, "web")[0]!.metadata.context, { from: "configured", state: "configured" });
  const put = await api.request("PUT", "/1.0/zones/web/config", { text: "set autoboot=false" });
  assert.equal(put.status, 200, put.text);
  await until("the API's change as an event", () => updates(s, "web").length > 1);
  // The watch must not tell the daemon's own commit again, nor zonecfg's twice.
  await settle(300);
  assert.equal(updates(s, "web").length, 2, JSON.stringify(updates(s, "web")));
  assert.equal(updates(s, "other").length, 0);
});

/** Alice's own /1.0/events (eventsuser.ts run as her), once subscribed: what it printed so far. */
async function followAsAlice(): Promise<{ out: () => string }> {
  const [bin, ...args] = alice.argv(process.execPath, [path.join(TOP, "dist/test/zones/api/eventsuser.js"), hostApiSocketPath(root.paths.runDir)]);
  const child = spawn(bin!, args, { env: root.env, stdio: ["ignore", "pipe", "pipe"], cwd: "/" });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  await until("alice's subscription", () => out.startsWith("subscribed\n") || err !== "");
  assert.equal(err, "");
  return { out: () => out };
}

/** "type zone action state" of each event a follower printed after subscribing. */
const summary = (out: string): string[] =>
  out
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => JSON.parse(l) as StreamEvent)
    .map((e) => `${e.type} ${String(e.metadata.name ?? "")} ${String(e.metadata.action ?? "")} ${(e.metadata.context as { state?: string | null } | undefined)?.state ?? ""}`.trim());

test("a delegated admin's event stream shows her zone and nothing of another", async () => {
  const follower = await followAsAlice();
  const out = (): string => follower.out();
  const mine = await api.events("lifecycle,operation,logging");
  streams.push(mine);
  // Root's work on both zones: a zonecfg change, an API install (an operation), the command's install.
  root.ok("zonecfg", ["-z", "other", "set autoboot=true"]);
  root.ok("zonecfg", ["-z", "web", "set autoboot=true"]);
  const op = await api.operate("PUT", "/1.0/zones/other/state", { body: { action: "install" } });
  assert.equal(op.status, "Success", op.err);
  root.ok("zoneadm", ["-z", "web", "install"]);
  await until("root's stream", () => mine.events.some((e) => e.type === "lifecycle" && e.metadata.name === "web" && (e.metadata.context as { state: string }).state === "installed"));
  await until("alice's stream", () => out().includes('"state":"installed"'));
  await settle(300);
  assert.deepEqual(summary(out()), ["lifecycle web zone-updated configured", "lifecycle web zone-state-changed incomplete", "lifecycle web zone-state-changed installed"]);
  // Root's stream had all of it: the other zone, the operation, the log.
  assert.ok(mine.events.some((e) => e.type === "lifecycle" && e.metadata.name === "other"));
  assert.ok(mine.events.some((e) => e.type === "operation"));
  assert.ok(mine.events.some((e) => e.type === "logging"));
});

test("a delegated admin hears of her zone's deletion, not of one taken from her before, nor of another's", async () => {
  const mine = await api.events("lifecycle");
  streams.push(mine);
  root.minimalZone("gone", [[alice.name, "manage"]]);
  root.minimalZone("was", [[alice.name, "manage"]]);
  root.minimalZone("notmine");
  // zonecfg writes the repository itself and the daemon learns of it on the file system
  // a moment later: she subscribes once it has told the creations, which are not news to her.
  await until("root's stream to see the three created", () => ["gone", "was", "notmine"].every((z) => mine.events.some((e) => e.metadata.name === z && e.metadata.action === "zone-created")));
  const follower = await followAsAlice();
  // Her admin resource on "was" goes first: once the daemon has seen that (zonecfg writes
  // the repository itself; the daemon learns of it on the file system and tells it as a
  // change), it is not hers to hear of. Deleted before the daemon looked, it would still be.
  root.ok("zonecfg", ["-z", "was", "remove admin user=" + alice.name]);
  await until("root's stream to see was updated", () => mine.events.some((e) => e.metadata.name === "was" && e.metadata.action === "zone-updated"));
  for (const z of ["was", "notmine", "gone"]) root.ok("zonecfg", ["-z", z, "delete", "-F"]);
  await until("root's stream to see gone deleted", () => mine.events.some((e) => e.metadata.name === "gone" && e.metadata.action === "zone-deleted"));
  await until("alice's stream to see gone deleted", () => follower.out().includes("zone-deleted")).catch((e: Error) => assert.fail(`${e.message}: ${JSON.stringify(summary(follower.out()))}`));
  await settle(300);
  assert.deepEqual(summary(follower.out()), ["lifecycle gone zone-deleted"]);
  // A zone made again under the name, not hers: its events are not hers either.
  root.minimalZone("gone");
  root.ok("zonecfg", ["-z", "gone", "delete", "-F"]);
  await settle(300);
  assert.deepEqual(summary(follower.out()), ["lifecycle gone zone-deleted"]);
});

test("GET /1.0/zones/<name>/state: state, status, pid, uptime and usage, installed and running", async () => {
  const idle = await api.sync<{ state: string; status: string; pid: number | null; uptime_seconds: number | null }>("GET", "/1.0/zones/web/state");
  assert.equal(idle.state, "installed");
  assert.equal(idle.status, "Stopped");
  assert.equal(idle.pid, null);
  assert.equal(idle.uptime_seconds, null);
  const booted = await api.operate("PUT", "/1.0/zones/web/state", { body: { action: "boot" } });
  assert.equal(booted.status, "Success", booted.err);
  await settle(1100);
  const s = await api.sync<{ state: string; status: string; pid: number; zoneid: number; since: string; uptime_seconds: number; usage: { pids: number; memoryBytes: number } }>("GET", "/1.0/zones/web/state");
  assert.equal(s.state, "running");
  assert.equal(s.status, "Running");
  assert.ok(s.pid > 0 && s.zoneid > 0, JSON.stringify(s));
  assert.ok(s.uptime_seconds >= 1 && s.uptime_seconds < 120, JSON.stringify(s));
  assert.ok(Date.parse(s.since) <= Date.now());
  assert.ok(s.usage.pids >= 1 && s.usage.memoryBytes > 0, JSON.stringify(s.usage));
  assert.equal((await api.request("GET", "/1.0/zones/nope/state")).status, 404);
  // Hers to read, the other zone's not.
  const r = alice.exec(root.env, process.execPath, [path.join(TOP, "dist/test/zones/api/asuser.js"), hostApiSocketPath(root.paths.runDir), JSON.stringify([{ method: "GET", path: "/1.0/zones/web/state" }, { method: "GET", path: "/1.0/zones/other/state" }])]);
  assert.equal(r.status, 0, r.stderr);
  const [hers, other] = JSON.parse(r.stdout) as Array<{ status: number; metadata: { state: string } }>;
  assert.equal(hers!.status, 200);
  assert.equal(hers!.metadata.state, "running");
  assert.equal(other!.status, 403);
});
