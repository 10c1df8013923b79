/**
 * The API's authorization with real host users, on the socket host users reach
 * (hostApiSocketPath): alice, named in zone web's admin resource with login,manage,
 * sees only web and boots and halts it, but not zone other, and creates nothing; bob,
 * named nowhere, gets 403 everywhere but GET /1.0. Every refusal is logged.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { TOP } from "../../support/helpers.js";
import { HostUser } from "../../support/hostuser.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { hostApiSocketPath } from "../../../src/daemon/api/api.js";

const root = new ZoneTestRoot("apiadm");
const users: HostUser[] = [];
let alice: HostUser;
let bob: HostUser;

before(() => {
  alice = HostUser.into(users, "a");
  bob = HostUser.into(users, "b");
  root.minimalZone("web", [[alice.name, "login,manage"]]);
  root.minimalZone("other");
  root.ok("zoneadm", ["-z", "web", "install"]);
  root.ok("zoneadm", ["-z", "other", "install"]);
});

after(() => {
  try {
    root.run("zoneadm", ["-z", "web", "halt"]);
    root.run("zoneadm", ["-z", "web", "uninstall", "-F"]);
    root.run("zoneadm", ["-z", "other", "uninstall", "-F"]);
  } finally {
    for (const u of users) u.remove();
    root.remove();
  }
});

interface Out {
  status: number;
  error: string;
  metadata: unknown;
}

type Step = { method: string; path: string; body?: unknown; wait?: boolean };

/** Requests as `u`, in order, from one process of hers. */
function as(u: HostUser, ...steps: Step[]): Out[] {
  const r = u.exec(root.env, process.execPath, [path.join(TOP, "dist/test/zones/api/asuser.js"), hostApiSocketPath(root.paths.runDir), JSON.stringify(steps)]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Out[];
}
const state = (zone: string): string => root.ok("zoneadm", ["-z", zone, "list", "-p"]).split(":")[2]!;

test("alice sees only web, boots and halts it through the API; zoneadm sees it", () => {
  const [info, list, mine, others] = as(alice, { method: "GET", path: "/1.0" }, { method: "GET", path: "/1.0/zones" }, { method: "GET", path: "/1.0/zones/web/config" }, { method: "GET", path: "/1.0/zones/other" });
  assert.equal((info!.metadata as { caller: { uid: number } }).caller.uid, alice.uid);
  assert.deepEqual(list!.metadata, ["/1.0/zones/web"]);
  assert.equal(mine!.status, 200);
  assert.equal(others!.status, 403);
  assert.equal(others!.error, `user "${alice.name}" is not authorized to see this zone (that needs add admin; set user=${alice.name})`);
  const [boot] = as(alice, { method: "PUT", path: "/1.0/zones/web/state", body: { action: "boot" }, wait: true });
  assert.equal((boot!.metadata as { status: string; err: string }).status, "Success", JSON.stringify(boot));
  assert.equal(state("web"), "running");
  const [ops, halt] = as(alice, { method: "GET", path: "/1.0/operations" }, { method: "PUT", path: "/1.0/zones/web/state", body: { action: "halt" }, wait: true });
  assert.equal((ops!.metadata as string[]).length, 1, "her own operation only");
  assert.equal((halt!.metadata as { status: string }).status, "Success");
  assert.equal(state("web"), "installed");
});

test("alice may not touch other, create, configure, install or boot with another init", () => {
  const steps: Array<[Step, RegExp]> = [
    [{ method: "PUT", path: "/1.0/zones/other/state", body: { action: "boot" } }, /not authorized to boot this zone \(that needs add admin; set user=.*; set auths=manage\)/],
    [{ method: "POST", path: "/1.0/zones", body: { name: "mine", config: "set zonepath=/tmp/x" } }, /^operation "create" is for root only$/],
    [{ method: "PUT", path: "/1.0/zones/web/config", body: { config: "set autoboot=true" } }, /^operation "configure" is for root only$/],
    [{ method: "DELETE", path: "/1.0/zones/web" }, /^operation "delete" is for root only$/],
    [{ method: "PUT", path: "/1.0/zones/web/state", body: { action: "uninstall" } }, /^operation "uninstall" is for root only$/],
    [{ method: "PUT", path: "/1.0/zones/web/state", body: { action: "boot", init: ["-i", "/bin/sh"] } }, /^boot arguments .* are for root only$/],
    [{ method: "POST", path: "/1.0/zones/web/verify" }, /^operation "verify" is for root only$/],
  ];
  const out = as(alice, ...steps.map(([s]) => s));
  out.forEach((o, i) => {
    assert.equal(o.status, 403, JSON.stringify(steps[i]![0]));
    assert.match(o.error, steps[i]![1]);
  });
  assert.equal(state("other"), "installed");
  assert.equal(state("web"), "installed");
});

test("bob, named in no admin resource, gets 403 everywhere but GET /1.0; refusals are logged", () => {
  const paths = ["/1.0/zones", "/1.0/zones/web", "/1.0/zones/nosuch", "/1.0/zones/web/config", "/1.0/operations", "/1.0/events"];
  const out = as(bob, { method: "GET", path: "/1.0" }, ...paths.map((p) => ({ method: "GET", path: p })), { method: "PUT", path: "/1.0/zones/web/state", body: { action: "boot" } });
  assert.equal(out[0]!.status, 200);
  for (const o of out.slice(1)) assert.equal(o.status, 403, JSON.stringify(o));
  // A zone that does not exist answers as one that does: a stranger learns nothing.
  assert.equal(out[2]!.error.replace("web", "X"), out[3]!.error.replace("nosuch", "X"));
  assert.equal(state("web"), "installed");
  const log = fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8");
  assert.match(log, new RegExp(`api \\(unix\\): uid ${bob.uid}: refused`));
});

test("the run directory stays root's: only the admin directory's socket is open to users", () => {
  assert.equal(fs.statSync(root.paths.runDir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(hostApiSocketPath(root.paths.runDir)).mode & 0o777, 0o666);
});
