/**
 * The Origin rule of WebSocket upgrades (src/daemon/api/origin.ts) against a real
 * zoneadmd with api-listen= on: over TLS a forged Origin is 403 before any stream is
 * opened, the daemon's own origin (https://127.0.0.1:PORT, or localhost) and no Origin
 * are accepted, and so are the origins zoneadmd.conf names (api-origin=, read again at
 * SIGHUP); over the UNIX socket any Origin is 403, none is accepted.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { ApiClient } from "../../support/api.js";
import { tcpAddressFile } from "../../../src/daemon/api/tcp.js";
import { connectWebSocket, UpgradeRefused } from "../../../src/daemon/api/wsclient.js";
import { upgradeStatus, type Client } from "../../daemon/api/tcpsupport.js";

const root = new ZoneTestRoot("apiorigin");
let api: ApiClient;
let port: number;
let client: Client;
let auth: Record<string, string>;

before(() => {
  fs.mkdirSync(root.configDir, { recursive: true });
  fs.writeFileSync(path.join(root.configDir, "zoneadmd.conf"), "api-listen=127.0.0.1:0\n", { mode: 0o644 });
  root.ok("zonecfg", ["-z", "web", `create; set zonepath=${path.join(root.dir, "zones/web")}; set brand=minimal`]);
  root.ok("zoneadm", ["-z", "web", "install"]);
  port = Number(fs.readFileSync(tcpAddressFile(root.paths), "utf8").trim().split(":")[2]);
  client = { ca: fs.readFileSync(path.join(root.configDir, "api/cert.pem")) };
  auth = { authorization: `Bearer ${root.ok("zoneadm", ["token", "create", "origin"]).trim()}` };
  api = new ApiClient(root.paths.runDir);
});

after(() => {
  api?.close();
  try {
    root.run("zoneadm", ["-z", "web", "uninstall", "-F"]);
  } finally {
    root.remove();
  }
});

/** The status of an upgrade over the UNIX socket, with its error line. */
async function unixUpgrade(p: string, headers: Record<string, string>): Promise<{ status: number; error: string }> {
  try {
    const ws = await connectWebSocket(api.socketPath, p, headers);
    ws.terminate();
    return { status: 101, error: "" };
  } catch (e) {
    if (e instanceof UpgradeRefused) return { status: e.status, error: e.message };
    throw e;
  }
}

test("over TLS: a forged Origin is 403; the daemon's own origin and no Origin pass", async () => {
  const forged = await upgradeStatus("127.0.0.1", port, client, "/1.0/zones/web/console", { ...auth, origin: "https://evil.example" });
  assert.match(forged, /^HTTP\/1\.1 403 /);
  // The same port on another name is another origin; so is http:// of the same address.
  assert.match(await upgradeStatus("127.0.0.1", port, client, "/1.0/zones/web/console", { ...auth, origin: `https://attacker.test:${port}` }), /^HTTP\/1\.1 403 /);
  assert.match(await upgradeStatus("127.0.0.1", port, client, "/1.0/zones/web/console", { ...auth, origin: `http://127.0.0.1:${port}` }), /^HTTP\/1\.1 403 /);
  // Past the Origin rule: the handlers answer (404 for no stream at that path).
  assert.match(await upgradeStatus("127.0.0.1", port, client, "/1.0/zones/web/nowhere", { ...auth, origin: `https://localhost:${port}` }), /^HTTP\/1\.1 404 /);
  assert.match(await upgradeStatus("127.0.0.1", port, client, "/1.0/zones/web/nowhere", auth), /^HTTP\/1\.1 404 /);
  assert.match(await upgradeStatus("127.0.0.1", port, client, "/1.0/zones/web/console", { ...auth, origin: `https://127.0.0.1:${port}` }), /^HTTP\/1\.1 101 /);
});

test("over TLS: an origin named by api-origin= passes once SIGHUP has read it; a bad file keeps the last; removed, it is 403 again", async () => {
  const conf = path.join(root.configDir, "zoneadmd.conf");
  const log = path.join(root.paths.runDir, "zoneadmd.log");
  const name = `https://zones.example:${port}`;
  const status = async (origin: string): Promise<string> => (await upgradeStatus("127.0.0.1", port, client, "/1.0/zones/web/nowhere", { ...auth, origin })).slice(0, 12);
  const reloads = (): number => fs.readFileSync(log, "utf8").split("reading zoneadmd.conf again on SIGHUP").length;
  // The daemon logs the SIGHUP and applies the file in the same turn of its loop, before
  // it takes the next connection.
  const reload = async (text: string): Promise<void> => {
    const before = reloads();
    fs.writeFileSync(conf, text, { mode: 0o644 });
    process.kill(root.daemonPid()!, "SIGHUP");
    await until("the daemon to log the SIGHUP", () => reloads() > before);
  };
  assert.equal(await status(name), "HTTP/1.1 403");
  await reload(`api-listen=127.0.0.1:0\napi-origin=https://Zones.Example:${port}\n`);
  assert.equal(await status(name), "HTTP/1.1 404");
  // Only that name and port: another port of the name is another origin.
  assert.equal(await status(`https://zones.example:${port + 1}`), "HTTP/1.1 403");
  await reload("api-listen=127.0.0.1:0\napi-origin=zones.example\n");
  assert.equal(await status(name), "HTTP/1.1 404");
  assert.match(fs.readFileSync(log, "utf8"), /settings not read again, keeping the last ones: .*api-origin must be an https origin.*"zones\.example"/);
  await reload("api-listen=127.0.0.1:0\n");
  assert.equal(await status(name), "HTTP/1.1 403");
});

test("over the UNIX socket: any Origin is 403 with a line naming it; none passes", async () => {
  const forged = await unixUpgrade("/1.0/zones/web/console", { Origin: "https://evil.example" });
  assert.equal(forged.status, 403);
  assert.match(forged.error, /WebSocket refused: Origin "https:\/\/evil\.example" on the UNIX socket/);
  assert.equal((await unixUpgrade("/1.0/zones/web/login", { Origin: `https://127.0.0.1:${port}` })).status, 403);
  assert.equal((await unixUpgrade("/1.0/zones/web/nowhere", {})).status, 404);
});
