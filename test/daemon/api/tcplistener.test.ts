/**
 * The API's TCP listener on its own (no daemon): TLS only, a self-signed certificate
 * for 127.0.0.1, bearer tokens (root's and a user's), revocation, client certificates,
 * the web console's one-time login, failures logged and limited per address.
 */
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { zonePaths } from "../../../src/document/store/paths.js";
import { Authenticator, FailureLimiter, type Caller } from "../../../src/daemon/api/tcpauth.js";
import { MAX_PER_ADDRESS, TcpListener } from "../../../src/daemon/api/tcplistener.js";
import * as net from "node:net";
import { apiKeyPair, apiStateDir } from "../../../src/daemon/api/tlscert.js";
import { TokenStore } from "../../../src/daemon/api/tokens.js";
import { WebLogins } from "../../../src/daemon/api/weblogin.js";
import { get, plainHttp, TestCa, type Client } from "./tcpsupport.js";

describe("API over TCP, the listener", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-tcp-"));
  const paths = zonePaths({ ZONES_ROOT: dir });
  const lines: string[] = [];
  const tokens = new TokenStore(paths);
  const web = new WebLogins();
  let listener: TcpListener;
  let client: Client;
  let ca: TestCa;
  let base: string;
  let pinned: { cert: Buffer; key: Buffer };

  before(async () => {
    ca = new TestCa(fs.mkdtempSync(path.join(dir, "ca-")));
    const listen = { host: "127.0.0.1", port: 0 };
    const pair = await apiKeyPair(paths, {}, listen);
    client = { ca: pair.cert };
    const auth = new Authenticator(tokens, web, (l) => lines.push(l), true, new FailureLimiter(8, 60_000));
    pinned = ca.client("pinned", false);
    auth.pins = new Map([[new crypto.X509Certificate(pinned.cert).fingerprint256, "nobody"]]);
    // A stand-in for the API's server: it answers with the caller it was given.
    const api = { serve: (_req: unknown, res: import("node:http").ServerResponse, caller: Caller): void => void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(caller)), upgrade: (_r: unknown, s: import("node:net").Socket) => s.destroy() };
    listener = await TcpListener.start({ listen, pair, clientCa: fs.readFileSync(ca.caCert), requestCert: true, auth, api, log: (l) => lines.push(l) });
    base = listener.url;
  });
  after(async () => {
    await listener?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the self-signed key is root's alone and the certificate names 127.0.0.1 (the client checks it)", async () => {
    const st = fs.statSync(path.join(apiStateDir(paths), "key.pem"));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(fs.statSync(apiStateDir(paths)).mode & 0o777, 0o700);
    const r = await get(`${base}/1.0`, client);
    assert.equal(r.status, 401, "the handshake passed hostname verification; no credential: 401");
    assert.match(r.body, /"error_code":401,"error":"authentication required/);
    assert.equal(r.headers["www-authenticate"], 'Bearer realm="zoneadmd"');
  });

  test("a port in use is one line naming the address", async () => {
    const a = listener.address;
    const pair = await apiKeyPair(paths, {}, a);
    const api = { serve: () => undefined, upgrade: () => undefined };
    await assert.rejects(
      TcpListener.start({ listen: a, pair, requestCert: false, auth: new Authenticator(tokens, web, () => undefined, false), api, log: () => undefined }),
      new RegExp(`^ZoneError: cannot listen for the API on "127\\.0\\.0\\.1:${a.port}": EADDRINUSE$`),
    );
  });

  test("one address holds at most MAX_PER_ADDRESS connections; closing one makes room", async () => {
    const a = listener.address;
    const socks = await Promise.all(
      Array.from({ length: MAX_PER_ADDRESS }, () => new Promise<net.Socket>((resolve) => {
        const s = net.connect(a.port, a.host, () => resolve(s));
      })),
    );
    // The next one is accepted by the kernel and then dropped at once by the listener.
    const extra = net.connect(a.port, a.host);
    socks.push(extra);
    try {
      const ended = await new Promise<string>((resolve) => {
        extra.on("close", () => resolve("closed"));
        extra.on("error", () => resolve("closed"));
        setTimeout(() => resolve("open"), 3000).unref();
      });
      assert.equal(ended, "closed");
      socks.shift()!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await get(`${base}/1.0`, client)).status, 401, "room again");
    } finally {
      for (const s of socks) s.destroy();
    }
  });

  test("plain HTTP gets no HTTP answer", async () => {
    const a = listener.address;
    const got = await plainHttp(a.host, a.port);
    assert.doesNotMatch(got, /^HTTP\//, got);
  });

  test("root's token is root, a user's token is that user, a revoked one fails; the file keeps only hashes", async () => {
    const rootTok = tokens.create("ci");
    const userTok = tokens.create("nob", "nobody");
    assert.throws(() => tokens.create("ci"), /token "ci" exists already/);
    assert.throws(() => tokens.create("x", "no-such-user-zz"), /no host user "no-such-user-zz"/);
    const file = fs.readFileSync(tokens.file, "utf8");
    assert.ok(!file.includes(rootTok) && !file.includes(userTok.slice(3)), "no secret in the file");
    assert.equal(fs.statSync(tokens.file).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse((await get(`${base}/1.0`, client, { authorization: `Bearer ${rootTok}` })).body), { uid: 0, via: "tls", token: "ci" });
    assert.deepEqual(JSON.parse((await get(`${base}/1.0`, client, { authorization: `Bearer ${userTok}` })).body), { uid: 65534, via: "tls", token: "nob" });
    tokens.revoke("nob");
    assert.equal((await get(`${base}/1.0`, client, { authorization: `Bearer ${userTok}` })).status, 401);
    assert.deepEqual(tokens.list().map((e) => e.name), ["ci"]);
    assert.ok(lines.some((l) => /failed authentication from 127\.0\.0\.1: unknown or revoked token \(GET \/1\.0\)/.test(l)), lines.join("\n"));
  });

  test("a client certificate of the CA acts as its CN's user; an untrusted one or an unknown CN is refused", async () => {
    const ok = await get(`${base}/1.0`, { ...client, ...ca.client("root") });
    assert.deepEqual(JSON.parse(ok.body), { uid: 0, via: "tls", token: "cert:root" });
    const pin = await get(`${base}/1.0`, { ...client, ...pinned });
    assert.deepEqual(JSON.parse(pin.body), { uid: 65534, via: "tls", token: "cert:nobody" }, "a pinned self-signed certificate acts as the user its pin names");
    const self = await get(`${base}/1.0`, { ...client, ...ca.client("root", false) });
    assert.equal(self.status, 401);
    assert.match(self.body, /client certificate not trusted/);
    const stranger = await get(`${base}/1.0`, { ...client, ...ca.client("nosuchuser-zz") });
    assert.match(stranger.body, /client certificate CN \\"nosuchuser-zz\\" names no host user/);
  });

  test("a login token opens one session, once; the cookie is HttpOnly, Secure, SameSite=Strict", async () => {
    const secret = web.issue();
    const r = await get(`${base}/?token=${secret}&x=1`, client);
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, "/?x=1");
    const cookie = String(r.headers["set-cookie"]);
    assert.match(cookie, /^zones_session=[A-Za-z0-9_-]+; Path=\/; HttpOnly; Secure; SameSite=Strict/);
    const session = cookie.split(";")[0]!;
    assert.deepEqual(JSON.parse((await get(`${base}/1.0`, client, { cookie: session })).body), { uid: 0, via: "tls", token: "web" });
    assert.equal((await get(`${base}/?token=${secret}`, client)).status, 401, "the login token is void once used");
    assert.equal((await get(`${base}/1.0`, client, { cookie: "zones_session=forged" })).status, 401);
  });

  test("an address that failed too often is answered 429 without a check, even with a good token", async () => {
    const good = tokens.create("late");
    let last = 0;
    for (let i = 0; i < 10; i++) last = (await get(`${base}/1.0`, client, { authorization: "Bearer zt_wrong" })).status;
    assert.equal(last, 429);
    const r = await get(`${base}/1.0`, client, { authorization: `Bearer ${good}` });
    assert.equal(r.status, 429);
    assert.match(r.body, /too many failed authentications from 127\.0\.0\.1; retry in \d+ s/);
    assert.ok(Number(r.headers["retry-after"]) > 0);
  });
});
