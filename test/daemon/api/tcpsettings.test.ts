/** zoneadmd.conf's api-* keys: parsed, checked with one-line messages, and left alone by the reserve's reader. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { tcpSettings } from "../../../src/daemon/api/tcpsettings.js";
import { readReserve } from "../../../src/platform/reserve.js";
import { FailureLimiter } from "../../../src/daemon/api/tcpauth.js";

function withConf(text: string, fn: (file: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-tcpconf-"));
  try {
    const file = path.join(dir, "zoneadmd.conf");
    fs.writeFileSync(file, text, { mode: 0o644 });
    fn(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("no file or no api-listen: TCP is off", () => {
  assert.deepEqual(tcpSettings("/nonexistent/zoneadmd.conf"), { clientPins: new Map() });
  withConf("reserve-pids=2048\n", (f) => assert.equal(tcpSettings(f).listen, undefined));
});

test("api-listen, api-cert, api-key, api-client-ca are read; the reserve's reader skips them", () => {
  withConf(`reserve-pids=2048\napi-listen=[::1]:8443\napi-cert=/etc/c.pem\napi-key=/etc/k.pem\napi-client-ca=/etc/ca.pem\napi-client-fingerprint=${"ab".repeat(32)} nobody\n`, (f) => {
    const pins = new Map([[Array(32).fill("AB").join(":"), "nobody"]]);
    assert.deepEqual(tcpSettings(f), { listen: { host: "::1", port: 8443 }, cert: "/etc/c.pem", key: "/etc/k.pem", clientCa: "/etc/ca.pem", clientPins: pins });
    assert.equal(readReserve(f, { memory: 1 << 40, pids: 1 << 20 }).pids, 2048);
  });
});

test("api-origin is repeatable and kept as a browser writes an Origin", () => {
  withConf("api-origin=https://Zones.Example:8443\napi-origin=https://zones.example:443/\n", (f) => {
    assert.deepEqual(tcpSettings(f).origins, ["https://zones.example:8443", "https://zones.example"]);
  });
});

test("mistakes are one line naming the file, the line and the value", () => {
  const cases: Array<[string, RegExp]> = [
    ["api-listen=localhost:8443", /line 1: api-listen must be an IP address and a port \(127\.0\.0\.1:8443, \[::1\]:8443\): "localhost:8443"$/],
    ["api-listen=127.0.0.1:70000", /api-listen must be an IP address and a port .*: "127\.0\.0\.1:70000"$/],
    ["api-cert=relative.pem\napi-key=/k", /line 1: api-cert must be an absolute file path: "relative\.pem"$/],
    ["api-cert=/c.pem", /api-cert and api-key go together: set both or neither$/],
    ["\napi-lisen=1", /line 2: unknown setting "api-lisen"; known: api-listen, api-cert, api-key, api-client-ca, api-client-fingerprint, api-origin$/],
    ["api-origin=http://zones.example:8443", /line 1: api-origin must be an https origin, a name and a port with no path .*: "http:\/\/zones\.example:8443"$/],
    ["api-origin=https://zones.example:8443/console", /api-origin must be an https origin.*: "https:\/\/zones\.example:8443\/console"$/],
    ["api-origin=zones.example:8443", /api-origin must be an https origin.*: "zones\.example:8443"$/],
    ["api-origin=https://admin@zones.example", /api-origin must be an https origin.*: "https:\/\/admin@zones\.example"$/],
    ["api-client-fingerprint=AB:CD root", /api-client-fingerprint must be a SHA-256 fingerprint .* and a host user: "AB:CD root"$/],
  ];
  for (const [text, msg] of cases) withConf(text, (f) => assert.throws(() => tcpSettings(f), (e: Error) => msg.test(e.message) && !e.message.includes("\n"), text));
});

test("the failure bucket: a burst, then one more per refill period", () => {
  let now = 0;
  const l = new FailureLimiter(3, 1000, () => now);
  for (let i = 0; i < 3; i++) {
    assert.equal(l.wait("a"), 0);
    l.fail("a");
  }
  assert.equal(l.wait("a"), 1000);
  assert.equal(l.wait("b"), 0, "another address has its own bucket");
  now = 999;
  assert.ok(l.wait("a") > 0);
  now = 1000;
  assert.equal(l.wait("a"), 0);
});
