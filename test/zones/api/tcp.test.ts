/**
 * The API over TCP against a real zoneadmd: off by default (nothing listens, yet
 * `zoneadm web` opens 127.0.0.1 for itself); on with api-listen=: TLS only, 401
 * without credentials or with a bad (logged) or revoked token, root's token sees
 * every zone, a user's token only what that user administers, a client certificate
 * of the configured CA acts as its CN; `zoneadm token` create/list/revoke (root's
 * only); `zoneadm web`'s URL opens one session, once, and is root's only.
 */
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { HostUser } from "../../support/hostuser.js";
import { until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { tcpAddressFile } from "../../../src/daemon/api/tcp.js";
import { get, plainHttp, request, TestCa, upgradeStatus, type Client } from "../../daemon/api/tcpsupport.js";

/** The inodes of the TCP sockets `pid` listens on (state 0A in /proc/net/tcp{,6}). */
function tcpListeners(pid: number): string[] {
  const mine = new Set(
    fs
      .readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((x): x is string => x !== undefined),
  );
  const rows = ["tcp", "tcp6"].flatMap((f) => fs.readFileSync(`/proc/${pid}/net/${f}`, "utf8").split("\n").slice(1));
  return rows.map((r) => r.trim().split(/\s+/)).filter((c) => c[3] === "0A" && mine.has(c[9]!)).map((c) => c[9]!);
}

/** The server certificate a client of `root` trusts: the self-signed one the daemon made. */
function serverCa(root: ZoneTestRoot): Buffer {
  return fs.readFileSync(path.join(root.configDir, "api/cert.pem"));
}

describe("API over TCP is off by default", () => {
  const root = new ZoneTestRoot("tcpoff");
  after(() => root.remove());

  test("nothing listens on TCP; zoneadm web opens 127.0.0.1 on a free port, for itself", async () => {
    root.ok("zoneadm", ["runtime"]);
    const pid = root.daemonPid()!;
    assert.deepEqual(tcpListeners(pid), []);
    assert.ok(!fs.existsSync(tcpAddressFile(root.paths)));
    const url = root.ok("zoneadm", ["web"]).trim();
    const m = /^https:\/\/127\.0\.0\.1:(\d+)\/\?token=[A-Za-z0-9_-]{43}$/.exec(url);
    assert.ok(m, url);
    assert.equal(tcpListeners(pid).length, 1, "one listener, the web console's");
    const r = await get(url, { ca: serverCa(root) });
    assert.equal(r.status, 303);
    assert.match(String(r.headers["set-cookie"]), /HttpOnly; Secure; SameSite=Strict/);
  });
});

describe("API over TCP with api-listen=", () => {
  const root = new ZoneTestRoot("tcpon");
  const users: HostUser[] = [];
  let alice: HostUser;
  let ca: TestCa;
  let base: string;
  let client: Client;
  let pinned: { cert: Buffer; key: Buffer };
  const log = (): string => fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8");

  before(() => {
    alice = new HostUser("tcp");
    users.push(alice);
    ca = new TestCa(fs.mkdtempSync(path.join(root.dir, "ca-")));
    fs.mkdirSync(root.configDir, { recursive: true });
    pinned = ca.client("pinned", false);
    const fp = new crypto.X509Certificate(pinned.cert).fingerprint256;
    fs.writeFileSync(path.join(root.configDir, "zoneadmd.conf"), `api-listen=127.0.0.1:0\napi-client-ca=${ca.caCert}\napi-client-fingerprint=${fp} ${alice.name}\n`, { mode: 0o644 });
    root.ok("zonecfg", ["-z", "web", `create; set zonepath=${path.join(root.dir, "zones/web")}; set brand=minimal; add admin; set user=${alice.name}; set auths=manage; end`]);
    root.ok("zonecfg", ["-z", "db", `create; set zonepath=${path.join(root.dir, "zones/db")}; set brand=minimal`]);
    root.ok("zoneadm", ["runtime"]);
    base = fs.readFileSync(tcpAddressFile(root.paths), "utf8").trim();
    client = { ca: serverCa(root) };
  });
  after(() => {
    if (process.env.KEEP_TCP_ROOT) console.log(log());
    for (const u of users) u.remove();
    root.remove();
  });

  test("the daemon listens where it says, TLS only: plain HTTP gets no answer, no credential 401", async () => {
    assert.match(base, /^https:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(base.split(":")[2]);
    assert.equal(tcpListeners(root.daemonPid()!).length, 1);
    assert.doesNotMatch(await plainHttp("127.0.0.1", port), /^HTTP\//);
    const r = await get(`${base}/1.0/zones`, client);
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).type, "error");
  });

  test("zoneadm token: root's token sees every zone, a bad one is 401 and logged, a revoked one 401", async () => {
    const tok = root.ok("zoneadm", ["token", "create", "ci"]).trim();
    assert.match(tok, /^zt_[A-Za-z0-9_-]{43}$/);
    assert.match(root.run("zoneadm", ["token", "create", "ci"]).stderr, /token "ci" exists already; revoke it first/);
    assert.match(root.ok("zoneadm", ["token", "list"]), /^NAME +USER +CREATED\nci +root +\d{4}-/);
    const ok = await get(`${base}/1.0/zones`, client, { authorization: `Bearer ${tok}` });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual((JSON.parse(ok.body) as { metadata: string[] }).metadata.sort(), ["/1.0/zones/db", "/1.0/zones/web"]);
    const bad = await get(`${base}/1.0/zones`, client, { authorization: `Bearer ${tok.slice(0, -1)}x` });
    assert.equal(bad.status, 401);
    assert.match(log(), /API over TCP: failed authentication from 127\.0\.0\.1: unknown or revoked token \(GET \/1\.0\/zones\)/);
    // WebSocket upgrades pass the same gate, then reach the API's own upgrade handlers.
    const port = Number(base.split(":")[2]);
    assert.match(await upgradeStatus("127.0.0.1", port, client, "/1.0/zones/web/nowhere"), /^HTTP\/1\.1 401 /);
    assert.match(await upgradeStatus("127.0.0.1", port, client, "/1.0/zones/web/nowhere", { authorization: `Bearer ${tok}` }), /^HTTP\/1\.1 404 /);
    root.ok("zoneadm", ["token", "revoke", "ci"]);
    assert.equal((await get(`${base}/1.0/zones`, client, { authorization: `Bearer ${tok}` })).status, 401);
    assert.match(root.run("zoneadm", ["token", "revoke", "ci"]).stderr, /no token named "ci"/);
  });

  test("a token made with -u acts as that user: admins.ts's rule, as on the admin socket", async () => {
    const tok = root.ok("zoneadm", ["token", "create", "alice", "-u", alice.name]).trim();
    const h = { authorization: `Bearer ${tok}` };
    assert.equal((await get(`${base}/1.0/zones/web`, client, h)).status, 200);
    const other = await get(`${base}/1.0/zones/db`, client, h);
    assert.equal(other.status, 403);
    assert.match(JSON.parse(other.body).error, new RegExp(`user "${alice.name}" is not authorized`));
    // manage on web: past authorization to the state check (the zone is only configured); nothing on db.
    const boot = { action: "boot" };
    assert.equal((await request("PUT", `${base}/1.0/zones/web/state`, client, h, boot)).status, 409);
    assert.equal((await request("PUT", `${base}/1.0/zones/db/state`, client, h, boot)).status, 403);
    assert.match(alice.run(root.env, "zoneadm", ["token", "list"]).stderr, /zoneadm token is for root only/);
  });

  test("a client certificate of api-client-ca acts as its CN, a pinned one as its pin's user; others are refused", async () => {
    const r = await get(`${base}/1.0/zones`, { ...client, ...ca.client("root") });
    assert.equal(r.status, 200, r.body);
    const u = await get(`${base}/1.0/zones/db`, { ...client, ...ca.client(alice.name) });
    assert.equal(u.status, 403, "the CN's user, not root");
    assert.equal((await get(`${base}/1.0/zones/web`, { ...client, ...pinned })).status, 200, "a pinned certificate acts as its pin's user");
    assert.equal((await get(`${base}/1.0/zones/db`, { ...client, ...pinned })).status, 403);
    const self = await get(`${base}/1.0/zones`, { ...client, ...ca.client("root", false) });
    assert.equal(self.status, 401);
  });

  test("zoneadm web: the configured port, a URL whose token opens one session once; root's only", async () => {
    const url = root.ok("zoneadm", ["web"]).trim();
    assert.ok(url.startsWith(`${base}/?token=`), url);
    const first = await get(url, client);
    assert.equal(first.status, 303);
    const cookie = String(first.headers["set-cookie"]).split(";")[0]!;
    const page = await get(`${base}/1.0/zones`, client, { cookie });
    assert.equal(page.status, 200, page.body);
    assert.equal((await get(url, client)).status, 401, "used once");
    assert.match(alice.run(root.env, "zoneadm", ["web"]).stderr, /operation "web" is for root only/);
  });
});

describe("SIGHUP reads api-listen again", () => {
  const root = new ZoneTestRoot("tcphup");
  after(() => root.remove());
  const conf = (text: string): void => fs.writeFileSync(path.join(root.configDir, "zoneadmd.conf"), text, { mode: 0o644 });
  // Read once, not checked first: a move removes the file between the old listener and the new.
  const address = (): string | undefined => {
    try {
      return fs.readFileSync(tcpAddressFile(root.paths), "utf8").trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  };
  const hup = async (pid: number, want: (a: string | undefined) => boolean, what: string): Promise<void> => {
    process.kill(pid, "SIGHUP");
    await until(what, () => want(address()), 10_000);
  };

  test("on: opens; another address: moves; a bad line: keeps the last; off: closes; the daemon stays", async () => {
    root.ok("zoneadm", ["runtime"]);
    const pid = root.daemonPid()!;
    assert.equal(address(), undefined);
    conf("api-listen=127.0.0.1:0\n");
    await hup(pid, (a) => a !== undefined, "the listener to open");
    const first = address()!;
    assert.equal(tcpListeners(pid).length, 1);
    assert.equal((await get(`${first}/1.0/zones`, { ca: serverCa(root) })).status, 401, "TLS and authentication as at start");
    // Port 0 again picks another free port: the listener is opened anew only for a change.
    process.kill(pid, "SIGHUP");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(address(), first, "an unchanged setting reopened the listener");
    conf("api-listen=127.0.0.2:0\n");
    await hup(pid, (a) => a?.startsWith("https://127.0.0.2:") === true, "the listener to move to 127.0.0.2");
    const moved = address()!;
    assert.equal(tcpListeners(pid).length, 1, "the old listener is still open beside the new");
    assert.equal((await get(`${moved}/1.0/zones`, { ca: serverCa(root) })).status, 401);
    conf("api-listen=127.0.0.1:1\napi-frobnicate=1\n");
    process.kill(pid, "SIGHUP");
    await until("the daemon to log the bad settings", () => /settings not read again, keeping the last ones: .*api-frobnicate/.test(fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8")), 10_000);
    assert.equal(address(), moved, "a bad file changed the listener");
    conf("api-listen=off\n");
    await hup(pid, (a) => a === undefined, "the listener to close");
    assert.deepEqual(tcpListeners(pid), []);
    assert.equal(root.daemonPid(), pid, "SIGHUP ended the daemon");
    root.ok("zoneadm", ["list", "-cp"]);
  });
});
