/**
 * Zone-controlled text is never trusted (issue 11): what a zone chooses — its process
 * names and argv, the user names of its /etc/passwd, the requests it floods the broker
 * with — reaches the administrator's terminal only escaped, and zoneadmd's log only
 * escaped, rate-limited per zone and bounded in size. ZoneLog is tested as a unit;
 * the rest on real zones: `mini` (minimal brand) and `flood` (sparse: it runs the
 * host's node to hammer the broker).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ZoneLog } from "../../../src/daemon/log.js";
import { readRun } from "../../../src/document/store/runstate.js";
import { BIN, TOP } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Raw terminal controls and bidi overrides that must never be printed. */
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

describe("zoneadmd's log (ZoneLog)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-zonelog-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lines = (f: string): string[] => fs.readFileSync(f, "utf8").split("\n").filter(Boolean);

  test("a zone's lines: a burst, then one summary when the window ends; other zones, other kinds and the global zone's lines are not held back", async () => {
    const f = path.join(dir, "rate.log");
    const log = new ZoneLog(f, { burst: 3, windowMs: 500 });
    for (let i = 0; i < 100; i++) {
      log.write(`broker: refused: zone 'web' request ${i}`, { zone: "web", kind: "refused" });
      if (i % 10 === 0) log.write(`zone 'db': transition ${i}`);
    }
    log.write("broker: zone 'web' offers", { zone: "web", kind: "offer" });
    log.write("broker: refused: zone 'db'", { zone: "db", kind: "refused" });
    await until("the summary line", () => log.suppressed === 97 && lines(f).some((l) => l.includes("suppressed")), 5000);
    const got = lines(f).map((l) => l.replace(/^\S+ /, ""));
    assert.equal(got.filter((l) => l.startsWith("broker: refused: zone 'web'")).length, 3);
    assert.equal(got.filter((l) => l.startsWith("zone 'db': transition")).length, 10, "lines without a zone source are never suppressed");
    assert.ok(got.includes("broker: zone 'web' offers") && got.includes("broker: refused: zone 'db'"));
    assert.ok(got.includes("zone 'web': 97 similar lines (refused) suppressed in the last 1 s"), got.join("\n"));
    // A new window: the zone may log again.
    log.write("broker: refused: zone 'web' again", { zone: "web", kind: "refused" });
    assert.ok(lines(f).at(-1)!.endsWith("broker: refused: zone 'web' again"));
    log.close();
  });

  test("every line is escaped: one entry is one line, and no control reaches the file", () => {
    const f = path.join(dir, "escape.log");
    const log = new ZoneLog(f);
    log.write("zone 'web': x\n2026-12-01T00:00:00.000Z zone 'db': running\x1b]0;T\x07\u202e");
    log.close();
    const text = fs.readFileSync(f, "utf8");
    assert.equal(text.split("\n").length, 2, text);
    assert.doesNotMatch(text.slice(0, -1), RAW);
    assert.match(text, / zone 'web': x\\n2026-12-01T00:00:00.000Z zone 'db': running\\x1b\]0;T\\x07\\u202e\n$/);
  });

  test("past its bound the log is rotated to .1 (one old file kept) and stays bounded", () => {
    const f = path.join(dir, "rotate.log");
    const log = new ZoneLog(f, { maxBytes: 4096 });
    const line = "zone 'web': running " + "x".repeat(80);
    for (let i = 0; i < 1000; i++) log.write(`${line} ${i}`);
    log.close();
    const lineBytes = 25 + line.length + 5;
    assert.ok(fs.statSync(f).size < 4096, `current file ${fs.statSync(f).size} bytes`);
    const old = fs.statSync(`${f}.1`).size;
    assert.ok(old >= 4096 && old < 4096 + lineBytes, `old file ${old} bytes`);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith("rotate.log")).sort(), ["rotate.log", "rotate.log.1"]);
    assert.ok(lines(f).at(-1)!.endsWith(`${line} 999`), "the newest line is in the current file");
  });

  test("a write error never throws: lines are dropped and counted, and the log says so once it can write again", () => {
    const full = new ZoneLog("/dev/full");
    for (let i = 0; i < 10; i++) full.write(`zone 'web': line ${i}`, i % 2 ? { zone: "web", kind: "x" } : undefined);
    assert.equal(full.dropped, 10);
    full.close();
    // A log whose directory is missing (ENOENT), then back.
    const sub = path.join(dir, "later");
    const log = new ZoneLog(path.join(sub, "zoneadmd.log"));
    log.write("zone 'web': lost");
    assert.equal(log.dropped, 1);
    fs.mkdirSync(sub);
    log.write("zone 'web': running");
    log.close();
    const got = lines(path.join(sub, "zoneadmd.log")).map((l) => l.replace(/^\S+ /, ""));
    assert.deepEqual(got, ["zoneadmd: 1 log lines lost (ENOENT)", "zone 'web': running"]);
  });
});

const root = new ZoneTestRoot("hostile");
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill("SIGKILL");
  root.remove();
});
const zp = (n: string): string => path.join(root.dir, "zones", n);
const logFile = (): string => path.join(root.paths.runDir, "zoneadmd.log");

/** A process name written to forge a global-zone line in zps and retitle the terminal; \377 is not UTF-8. */
const FORGED = "x\n      global      0       1       0 /sbin/FAKE\x1b]0;T\x07\xff";
const FORGED_PRINTF = "x\\n      global      0       1       0 /sbin/FAKE\\033]0;T\\007\\377";
const FORGED_ESCAPED = "x\\n      global      0       1       0 /sbin/FAKE\\x1b]0;T\\x07\\xff";

/** 16 parallel loops, each making `n` calls the zone may not make, one connection each; prints how many were refused. */
const FLOOD = `
const net = require("node:net");
const n = Number(process.argv[2]);
let refused = 0;
function loop() {
  return new Promise((res) => {
    let left = n;
    const again = () => {
      if (left-- === 0) return res();
      const s = net.createConnection("/run/zones/broker.sock");
      s.on("connect", () => s.write("CALL global forbidden\\n"));
      s.on("data", (d) => { if (String(d).includes("may not call")) refused++; });
      s.on("error", () => {});
      s.on("close", again);
    };
    again();
  });
}
Promise.all(Array.from({ length: 16 }, loop)).then(() => console.log("refused " + refused));
`;
const FLOOD_CALLS = 16 * 250;

describe("zone-controlled text on real zones", { concurrency: false }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "mini", `create; set zonepath=${zp("mini")}; set brand=minimal`]);
    root.ok("zonecfg", ["-z", "flood", `create; set zonepath=${zp("flood")}`]);
    // Exclusive-IP: its root names its own links. No address: nothing is routed.
    root.ok("zonecfg", ["-z", "excl", `create; set zonepath=${zp("excl")}; set brand=minimal; set ip-type=exclusive; add net; set physical=zbr0; end`]);
    for (const z of ["mini", "flood", "excl"]) root.ok("zoneadm", ["-z", z, "install"]);
    // flood runs the host's node: the flood script, and this build's zchan (as in channel.test.ts).
    const kit = path.join(zp("flood"), "root/opt/zchan");
    fs.mkdirSync(path.join(kit, "node_modules"), { recursive: true });
    fs.writeFileSync(path.join(zp("flood"), "root/opt/flood.cjs"), FLOOD);
    fs.copyFileSync(path.join(TOP, "dist/bin/zchan.cjs"), path.join(kit, "zchan.cjs"));
    for (const m of ["koffi", "@koromix"]) fs.cpSync(path.join(TOP, "node_modules", m), path.join(kit, "node_modules", m), { recursive: true });
    fs.writeFileSync(path.join(kit, "zchan"), '#!/bin/sh\nunset NODE_EXTRA_CA_CERTS\nexec node /opt/zchan/zchan.cjs "$@"\n', { mode: 0o755 });
    root.ok("zoneadm", ["-z", "mini", "boot"]);
    root.ok("zoneadm", ["-z", "flood", "boot"]);
    root.ok("zoneadm", ["-z", "excl", "boot"]);
  });

  test("zps: a process whose argv holds newlines, escapes and bytes that are not UTF-8 is shown escaped on its own line", () => {
    root.ok("zlogin", ["mini", `sh -c 'sleep 60; :' "$(printf '${FORGED_PRINTF}')" </dev/null >/dev/null 2>&1 &`]);
    const out = spawnSync(path.join(BIN, "zps"), [], { env: root.env, timeout: 30_000 }).stdout;
    assert.equal(out.indexOf(0x1b), -1, "no ESC byte");
    assert.equal(out.indexOf(0x07), -1, "no BEL byte");
    const text = out.toString("utf8");
    assert.ok(!text.includes("\ufffd"), "no byte silently replaced");
    assert.doesNotMatch(text, /^\s+global\s+0\s+1\s+0 \/sbin\/FAKE/m, "no forged global-zone line");
    const mine = text.split("\n").filter((l) => l.includes("/sbin/FAKE"));
    assert.ok(mine.length >= 1, text);
    for (const l of mine) {
      assert.match(l, /^ {8}mini /, "the line is the zone's");
      assert.ok(l.endsWith(`sh -c sleep 60; : ${FORGED_ESCAPED}`), l);
    }
    assert.ok(!text.includes(FORGED));
  });

  test("zipcs: an owner name from the zone's /etc/passwd is escaped; zlogin -l quotes a user name escaped", () => {
    // The zone's root puts a hostile name first for uid 0.
    root.ok("zlogin", ["mini", `{ printf '\\033]0;T\\007\\342\\200\\256:x:0:0::/:/bin/sh\\n'; cat /etc/passwd; } >/tmp/p && cat /tmp/p >/etc/passwd`]);
    const pid = readRun(root.paths, "mini")!.pid;
    const mk = spawnSync("nsenter", [`--ipc=/proc/${pid}/ns/ipc`, "perl", "-e", 'defined(shmget(0x2a, 4096, 01600)) or die "shmget: $!"'], { encoding: "utf8" });
    assert.equal(mk.status, 0, mk.stderr);
    for (const args of [["-m", "-z", "mini"], ["-m", "-Z"]]) {
      const r = root.run("zipcs", args);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout, RAW);
      const row = r.stdout.split("\n").find((l) => l.includes("0x0000002a"));
      assert.ok(row, r.stdout);
      // Cut to ipcs's 10 columns between escapes, never inside one.
      assert.match(row!, /^(mini {9})?0x0000002a \d+ +\\x1b\]0;T {3}600 /, row);
    }
    const z = root.run("zlogin", ["-l", "a\u202eb\x1bc", "mini", "true"]);
    assert.notEqual(z.status, 0);
    assert.doesNotMatch(z.stderr, RAW);
    assert.match(z.stderr, /no user "a\\u202eb\\x1bc"/);
  });

  test("zonenet: a link an exclusive-IP zone's root named with escape sequences is shown escaped", () => {
    root.ok("zlogin", ["excl", `ip link set net0 name "$(printf 'n\\033]0;T\\007')" && ip link set "$(printf 'n\\033]0;T\\007')" up`]);
    for (const args of [["-z", "excl"], ["-p", "-z", "excl"]]) {
      const r = root.run("zonenet", args);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout, RAW);
      assert.ok(r.stdout.includes("n\\x1b]0;T\\x07"), r.stdout);
    }
    assert.match(root.ok("zonenet", ["-p", "-z", "excl"]), /^excl:excl:n\\x1b\]0;T\\x07:/);
  });

  test("zchan subscribe: an event's payload is one escaped line, whoever published it", async () => {
    const sub = spawn(path.join(BIN, "zlogin"), ["flood", "/opt/zchan/zchan subscribe -n 1 alerts"], { env: root.env, stdio: ["ignore", "pipe", "pipe"] });
    children.push(sub);
    const out: Buffer[] = [];
    let err = "";
    sub.stdout!.on("data", (d: Buffer) => out.push(d));
    sub.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    await until("the subscription", () => err.includes("subscribed"));
    // Another process of the zone (here nobody) forges a second event line and retitles the terminal.
    root.ok("zlogin", ["-l", "nobody", "flood", "sh", "-c", "printf 'a\\033]0;T\\007\\nglobal\\tfault: fan 2 failed\\377' | /opt/zchan/zchan publish alerts"]);
    await until("the event", () => sub.exitCode !== null);
    const got = Buffer.concat(out);
    assert.equal(got.indexOf(0x1b), -1, "no ESC byte");
    assert.equal(got.toString("utf8"), "flood\ta\\x1b]0;T\\x07\\nglobal\\tfault: fan 2 failed\\xff\n");
  });

  test("a zone flooding the broker with refused calls: the log grows by a bounded amount and says how much it suppressed; another zone's transitions are still logged", async (t) => {
    const before = fs.statSync(logFile()).size;
    const flood = spawn(path.join(BIN, "zlogin"), ["flood", `node /opt/flood.cjs ${FLOOD_CALLS / 16}`], { env: root.env, stdio: ["ignore", "pipe", "pipe"] });
    children.push(flood);
    let out = "";
    flood.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const since = (): string => fs.readFileSync(logFile()).subarray(before).toString("utf8");
    await until("the flood to be refused", () => since().includes("zone 'flood' (pid"));
    root.ok("zoneadm", ["-z", "mini", "halt"]);
    await until("the flood to end", () => flood.exitCode !== null);
    const refused = Number(/refused (\d+)/.exec(out)?.[1] ?? 0);
    assert.equal(refused, FLOOD_CALLS, out);
    assert.match(since(), /zone 'mini': installed$/m, "the other zone's halt is logged during the flood");
    // Every refusal is either written or counted in a summary, once its window has ended.
    const SUMMARY = /zone 'flood': (\d+) similar lines \(broker call refused\) suppressed in the last \d+ s$/gm;
    const written = (): number => since().split("\n").filter((l) => l.includes("broker: refused: zone 'flood'")).length;
    const suppressed = (): number => [...since().matchAll(SUMMARY)].reduce((n, m) => n + Number(m[1]), 0);
    await until("the suppression summaries", () => written() + suppressed() >= refused);
    const grown = fs.statSync(logFile()).size - before;
    // Unlimited, each refusal is a line of ~110 bytes (~440 KB here); limited, 20 lines and one
    // summary per 10 s window, and mini's halt: a few KiB, whatever the speed of the flood.
    assert.ok(grown < 64 * 1024, `the log grew by ${grown} bytes for ${refused} refused calls`);
    assert.ok(suppressed() > 0);
    t.diagnostic(`${refused} calls refused; the log grew by ${grown} bytes; ${written()} lines written, ${suppressed()} suppressed`);
  });
});
