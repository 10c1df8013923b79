/**
 * Inter-zone channels between real zones: the broker's endpoint in each zone, policy
 * from `add service`, kernel-derived caller credentials, direct sockets that outlive a
 * zoneadmd kill -9, event channels, and the abuse cases (forged names, refused
 * services, connection floods, malformed frames). Zones are `sparse` (node is the
 * host's /usr/bin/node); zchan and koffi are copied into each zone's /opt/zchan,
 * so the test uses this build, not an installed one.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { readRun } from "../../../src/document/store/runstate.js";
import { BIN, TOP } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("chan");
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill("SIGKILL");
  root.remove();
});
const zp = (n: string): string => path.join(root.dir, "zones", n);
const ZCHAN = "/opt/zchan/zchan";

/** What a zone needs to run zchan: the bundle, koffi, a wrapper, a raw-socket probe. */
function installKit(zoneRoot: string): void {
  const kit = path.join(zoneRoot, "opt/zchan");
  fs.mkdirSync(path.join(kit, "node_modules"), { recursive: true });
  fs.copyFileSync(path.join(TOP, "dist/bin/zchan.cjs"), path.join(kit, "zchan.cjs"));
  for (const m of ["koffi", "@koromix"]) fs.cpSync(path.join(TOP, "node_modules", m), path.join(kit, "node_modules", m), { recursive: true });
  fs.writeFileSync(path.join(kit, "zchan"), '#!/bin/sh\nunset NODE_EXTRA_CA_CERTS\nexec node /opt/zchan/zchan.cjs "$@"\n', { mode: 0o755 });
  fs.writeFileSync(path.join(kit, "probe.cjs"), PROBE);
  fs.chmodSync(path.join(kit, "zchan"), 0o755);
}

/** Raw broker clients for the abuse cases: prints one JSON line. */
const PROBE = `
const net = require("node:net");
const [mode, arg] = process.argv.slice(2);
const S = "/run/zones/broker.sock";
function one(payload) {
  return new Promise((res) => {
    const s = net.createConnection(S);
    let out = "";
    s.on("connect", () => payload && s.write(payload));
    s.on("data", (d) => (out += d));
    s.on("close", () => res(out));
    s.on("error", (e) => res("error " + e.code));
    setTimeout(() => { s.destroy(); res(out + "<open>"); }, 2000);
  });
}
(async () => {
  if (mode === "send") return console.log(JSON.stringify(await one(Buffer.from(arg, "base64"))));
  if (mode === "flood") {
    const n = Number(arg), socks = [], replies = [];
    for (let i = 0; i < n; i++) {
      const s = net.createConnection(S);
      s.on("data", (d) => replies.push(String(d)));
      s.on("error", () => {});
      socks.push(s);
    }
    await new Promise((r) => setTimeout(r, 1500));
    console.log(JSON.stringify({ refused: replies.filter((r) => r.includes("too many")).length, sample: replies[0] || "" }));
    // Hold them while the test checks that other zones are still served.
    await new Promise((r) => setTimeout(r, Number(process.argv[4] || 0)));
    socks.forEach((s) => s.destroy());
  }
})();
`;

function bg(zone: string, cmd: string): { child: ChildProcess; out: () => string; err: () => string } {
  const child = spawn(path.join(BIN, "zlogin"), [zone, cmd], { env: root.env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  return { child, out: () => out, err: () => err };
}

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ECHO = `${ZCHAN} offer echo -- sh -c 'echo "$ZCHAN_CALLER_ZONE $ZCHAN_CALLER_ZONEID $ZCHAN_CALLER_UID $ZCHAN_CALLER_GID $ZCHAN_CALLER_PID"; cat'`;

/** Run zchan in the global zone (this build) under the test root. */
function hostZchan(args: string[], input = ""): { status: number; stdout: string; stderr: string } {
  return root.run("zchan", args, input);
}

describe("inter-zone channels", { concurrency: false }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "db", `create; set zonepath=${zp("db")}; add service; set name=echo; set caller=web; end; add service; set name=secret; end`]);
    root.ok("zonecfg", ["-z", "web", `create; set zonepath=${zp("web")}`]);
    root.ok("zonecfg", ["-z", "other", `create; set zonepath=${zp("other")}`]);
    for (const z of ["db", "web", "other"]) {
      root.ok("zoneadm", ["-z", z, "install"]);
      installKit(path.join(zp(z), "root"));
      root.ok("zoneadm", ["-z", z, "boot"]);
    }
  });

  test("zonecfg: the service resource is shown, exported and checked", () => {
    assert.match(root.ok("zonecfg", ["-z", "db", "info service"]), /service:\n\tname: echo\n\tcaller: web\n/);
    assert.match(root.ok("zonecfg", ["-z", "db", "export"]), /add service\nset name=echo\nset caller=web\nend\nadd service\nset name=secret\nend\n$/);
    const bad = root.run("zonecfg", ["-z", "db", "add service; set name=x; set caller=a/b; end"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /service "x": caller must be a comma list of zone names: "a\/b"/);
  });

  test("every running zone sees its endpoint at /run/zones/broker.sock, and cannot remove it", () => {
    assert.match(root.ok("zlogin", ["web", "ls -l /run/zones/broker.sock"]), /^srw-rw-rw- /);
    const rm = root.run("zlogin", ["web", "rm -f /run/zones/broker.sock"]);
    assert.notEqual(rm.status, 0);
    assert.match(rm.stderr, /Permission denied|Read-only/);
  });

  test("a permitted call: the server gets a direct socket and the caller's kernel credentials", async () => {
    const server = bg("db", ECHO);
    await until("the echo service to be offered", () => root.run("zlogin", ["web", `echo ping | ${ZCHAN} call db echo`]).status === 0);
    const out = root.ok("zlogin", ["-l", "nobody", "web", "sh", "-c", `echo hello | ${ZCHAN} call db echo`]);
    const [first, second] = out.split("\n");
    const id = readRun(root.paths, "web")!.id;
    assert.match(first!, new RegExp(`^web ${id} 65534 65534 [0-9]+$`), "zone, zone ID, uid/gid inside the zone, pid");
    assert.ok(Number(first!.split(" ")[4]) < 1000, "the pid is the one the caller's zone sees");
    assert.equal(second, "hello");
    // The global zone may always call.
    const g = hostZchan(["call", "db", "echo"], "from the host\n");
    assert.equal(g.status, 0, g.stderr);
    assert.match(g.stdout, /^global 0 0 0 [0-9]+\nfrom the host\n$/);
    assert.equal(server.child.exitCode, null);
  });

  test("a zone the configuration does not name is refused, clearly", () => {
    const r = root.run("zlogin", ["other", `echo x | ${ZCHAN} call db echo`]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `zchan: zone 'other' may not call service "echo" of zone 'db'\n`);
    const s = root.run("zlogin", ["web", `${ZCHAN} call db secret </dev/null`]);
    assert.match(s.stderr, /zone 'web' may not call service "secret" of zone 'db'/);
    const n = root.run("zlogin", ["web", `${ZCHAN} call nosuch echo </dev/null`]);
    assert.match(n.stderr, /service "echo" of zone 'nosuch' is not available: the zone is not running/);
  });

  test("a forged zone name in a message is refused; identity comes from the kernel, not the socket path alone", async () => {
    const b64 = (s: string): string => Buffer.from(s).toString("base64");
    const forged = JSON.parse(root.ok("zlogin", ["other", `node /opt/zchan/probe.cjs send ${b64("CALL db echo web\n")}`])) as string;
    assert.match(forged, /^ERR malformed request: "CALL db echo web"\n$/);
    // A host process reaching web's endpoint from outside the zone is not web.
    const sock = path.join(root.paths.runDir, "zone/web/broker/broker.sock");
    const reply = await new Promise<string>((resolve) => {
      let out = "";
      // No request: the broker answers as soon as it has checked the credentials.
      const c = net.createConnection(sock);
      c.on("data", (d) => (out += d.toString()));
      c.on("close", () => resolve(out));
      c.on("error", () => resolve(out));
    });
    assert.match(reply, /^ERR caller's credentials \(pid [0-9]+, uid 0\) do not belong to zone 'web'\n$/);
  });

  test("malformed frames close only that connection; the broker serves others", () => {
    const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");
    for (const frame of [Buffer.from([0xff, 0x00, 0x41, 0x0a]), Buffer.from("A".repeat(3000)), Buffer.from("PUB ch 99999999\n"), Buffer.from("OFFER x y\n")]) {
      const r = JSON.parse(root.ok("zlogin", ["other", `node /opt/zchan/probe.cjs send ${b64(frame)}`])) as string;
      assert.match(r, /^ERR malformed request/, `frame ${JSON.stringify(frame.toString("latin1").slice(0, 20))}`);
      assert.doesNotMatch(r, /<open>/, "the broker closed the connection");
    }
    assert.match(root.ok("zlogin", ["web", `echo ok | ${ZCHAN} call db echo`]), /\nok\n$/);
  });

  test("a zone flooding the broker hits its connection limit; other zones are still served", async () => {
    const flood = bg("other", "node /opt/zchan/probe.cjs flood 100 4000");
    await until("the flood to be counted", () => flood.out().includes("refused"));
    const r = JSON.parse(flood.out()) as { refused: number; sample: string };
    assert.equal(r.refused, 100 - 64);
    assert.match(root.ok("zlogin", ["web", `echo still | ${ZCHAN} call db echo`]), /\nstill\n$/);
    await until("the flood to end", () => flood.child.exitCode !== null);
  });

  test("event channels: within a zone, from the global zone, never across zones", async () => {
    const sub = bg("web", `${ZCHAN} subscribe -n 2 alerts`);
    await until("the subscription", () => sub.err().includes("subscribed"));
    // Another zone's publish goes to its own channel of that name.
    root.ok("zlogin", ["other", `${ZCHAN} publish alerts "from other"`]);
    root.ok("zlogin", ["web", `${ZCHAN} publish alerts "disk 90% full"`]);
    const post = hostZchan(["post", "web", "alerts", "fault: fan 2 failed"]);
    assert.equal(post.status, 0, post.stderr);
    await until("two events", () => sub.child.exitCode !== null);
    assert.equal(sub.out(), "web\tdisk 90% full\nglobal\tfault: fan 2 failed\n");
    const inZone = root.run("zlogin", ["web", `${ZCHAN} post other alerts x`]);
    assert.equal(inZone.status, 1);
    assert.match(inZone.stderr, /zones cannot post into another zone's channels/);
    assert.match(hostZchan(["post", "nosuch", "alerts", "x"]).stderr, /zone 'nosuch' is not running/);
  });

  test("zoneadmd kill -9: established channels live on; offers register again by themselves", async () => {
    const conv = bg("web", `(echo one; sleep 3; echo two) | ${ZCHAN} call db echo`);
    await until("the first line through the channel", () => conv.out().includes("one"));
    const pid = root.daemonPid()!;
    process.kill(pid, "SIGKILL");
    await until("the daemon to die", () => !fs.existsSync(`/proc/${pid}/stat`) || fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"));
    // A new daemon for this root, as zoneadm would start one.
    spawn(path.join(BIN, "zoneadmd"), [], { env: root.env, detached: true, stdio: "ignore" }).unref();
    await until("the channel to carry on", () => conv.child.exitCode !== null);
    assert.match(conv.out(), /\none\ntwo\n$/);
    assert.notEqual(root.daemonPid(), pid);
    await until("the offer to be registered again", () => root.run("zlogin", ["web", `echo back | ${ZCHAN} call db echo`]).status === 0);
    assert.match(root.ok("zlogin", ["web", `echo back | ${ZCHAN} call db echo`]), /\nback\n$/);
  });

  test("halt removes the zone's endpoint; nothing is left behind", () => {
    for (const z of ["db", "web", "other"]) root.ok("zoneadm", ["-z", z, "halt"]);
    assert.ok(!fs.existsSync(path.join(root.paths.runDir, "zone/db")));
    assert.match(hostZchan(["call", "db", "echo"]).stderr, /service "echo" of zone 'db' is not available/);
  });
});
