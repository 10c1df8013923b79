/**
 * zoneadmd's TCP side (api/tcp.ts) without a daemon: `zoneadm web` uses the configured
 * listener when it covers 127.0.0.1 and opens one of its own on 127.0.0.1 when it does
 * not (here: api-listen on 127.0.0.2), shared by every later call; a bad setting
 * leaves TCP off and says why in one log line.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { zonePaths } from "../../../src/document/store/paths.js";
import { ApiTcp, tcpAddressFile } from "../../../src/daemon/api/tcp.js";

const api = { serve: () => undefined, upgrade: () => undefined };

async function withTcp(conf: string, fn: (tcp: ApiTcp, lines: string[], paths: ReturnType<typeof zonePaths>) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-tcpweb-"));
  const paths = zonePaths({ ZONES_ROOT: dir });
  fs.mkdirSync(paths.configDir, { recursive: true });
  fs.mkdirSync(paths.runDir, { recursive: true });
  fs.writeFileSync(path.join(paths.configDir, "zoneadmd.conf"), conf, { mode: 0o644 });
  const lines: string[] = [];
  const tcp = new ApiTcp(paths, (l) => lines.push(l), api);
  try {
    await fn(tcp, lines, paths);
  } finally {
    await tcp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("api-listen on another address: zoneadm web opens 127.0.0.1 on a port of its own, once", async () => {
  await withTcp("api-listen=127.0.0.2:0\n", async (tcp, lines, paths) => {
    await tcp.start();
    const configured = new URL(fs.readFileSync(tcpAddressFile(paths), "utf8").trim());
    assert.equal(configured.hostname, "127.0.0.2");
    const [a, b] = await Promise.all([tcp.web(), tcp.web()]);
    const ua = new URL(a!);
    assert.equal(ua.hostname, "127.0.0.1");
    assert.notEqual(ua.port, configured.port);
    assert.equal(new URL(b!).port, ua.port, "two calls at once share one listener");
    assert.notEqual(ua.searchParams.get("token"), new URL(b!).searchParams.get("token"));
    assert.equal(lines.filter((l) => l.startsWith("API over TCP serving")).length, 2, lines.join("\n"));
  });
});

test("api-listen on 127.0.0.1: zoneadm web uses it", async () => {
  await withTcp("api-listen=127.0.0.1:0\n", async (tcp, _lines, paths) => {
    await tcp.start();
    const configured = new URL(fs.readFileSync(tcpAddressFile(paths), "utf8").trim());
    assert.equal(new URL(await tcp.web()).port, configured.port);
  });
});

test("a bad setting leaves TCP off and is logged on one line", async () => {
  await withTcp("api-listen=somewhere\n", async (tcp, lines, paths) => {
    await tcp.start();
    assert.ok(!fs.existsSync(tcpAddressFile(paths)));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^API over TCP not opened: .*zoneadmd\.conf line 1: api-listen must be an IP address and a port .*: "somewhere"$/);
  });
});
