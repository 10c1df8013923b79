/**
 * One zone's failure is that zone's alone: a zone the runtime refuses to create (for
 * real: runc itself fails) leaves zoneadmd serving and nothing of its platform behind;
 * a zonepath the zone's root cannot reach, or an address on a network the global zone
 * is on through another interface, is refused before anything is made, with one line
 * that says why; and the daemon's safety net logs what nobody handled.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { randomBytes } from "node:crypto";
import { mountsBelow } from "../../../src/platform/idmap.js";
import { hostLinksOf } from "../../../src/platform/network/hostlinks.js";
import { bridgeName, nftTable } from "../../../src/platform/network/plan.js";
import { readNets } from "../../../src/platform/network/netrecords.js";
import { Repository } from "../../../src/document/store/repository.js";
import { readRun } from "../../../src/document/store/runstate.js";
import { SlotRegistry } from "../../../src/platform/slots.js";
import { BIN } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("fail");
// This suite's own range: 10.213.51-54.0/24, never routed off the machine.
const DUMMY = `zt${randomBytes(3).toString("hex")}d`;
const HOSTBR = `zt${randomBytes(3).toString("hex")}b`;
const zp = (n: string): string => path.join(root.dir, "zones", n);
const state = (n: string): string => new Repository(root.paths).find(n)?.state ?? "absent";
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function sh(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

after(() => {
  root.remove();
  sh("ip", ["link", "del", DUMMY]);
  sh("ip", ["link", "del", HOSTBR]);
});

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function configure(name: string, body = "", zonepath = zp(name)): void {
  root.ok("zonecfg", ["-z", name, `create; set zonepath=${zonepath}; set brand=minimal; ${body}`]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The zone's own cgroup directories, in any hierarchy. */
function cgroupsOf(zone: string): string[] {
  const hs = ["/sys/fs/cgroup", ...fs.readdirSync("/sys/fs/cgroup").map((h) => `/sys/fs/cgroup/${h}`)];
  return hs.map((h) => path.join(h, root.paths.hostPrefix, zone)).filter((d) => fs.existsSync(d));
}

/** Pseudo-terminal masters zoneadmd holds: one console per ready or running zone. */
function daemonPtys(): number {
  const dir = `/proc/${root.daemonPid()}/fd`;
  return fs.readdirSync(dir).filter((f) => {
    try {
      return /ptmx$/.test(fs.readlinkSync(path.join(dir, f)));
    } catch {
      return false;
    }
  }).length;
}

const daemonLog = (): string => fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8");

/** Nothing of the zone's platform is left on the host. */
function assertNothingLeft(zone: string): void {
  assert.equal(state(zone), "installed");
  assert.deepEqual(mountsBelow(zp(zone)), [], "mounts left under the zonepath");
  assert.ok(!root.containers().includes(zone), "the runtime's container is left");
  assert.deepEqual(cgroupsOf(zone), [], "cgroups left");
  assert.equal(fs.existsSync(path.join(root.paths.runDir, "zone", zone)), false, "run directory left");
  assert.equal(readRun(root.paths, zone), undefined);
  assert.ok(!readNets(root.paths).some((n) => n.zone === zone), "network record left");
}

describe("a zone that fails, at the runtime or before", { concurrency: false }, () => {
  before(() => {
    configure("ok");
    root.ok("zoneadm", ["-z", "ok", "install"]);
    root.ok("zoneadm", ["-z", "ok", "boot"]);
  });

  test("runc create fails for real: one line, zoneadmd serves on, nothing left, uninstall -F works", () => {
    configure("broken", "add net; set physical=zbr0; set address=10.213.52.5/24; set defrouter=10.213.52.1; end;");
    root.ok("zoneadm", ["-z", "broken", "install"]);
    // The runtime mounts proc at /proc: on a regular file it refuses, and so the create fails.
    fs.rmdirSync(path.join(zp("broken"), "root/proc"));
    fs.writeFileSync(path.join(zp("broken"), "root/proc"), "");
    const pid = root.daemonPid()!;
    const okInit = readRun(root.paths, "ok")!.pid;
    const ptys = daemonPtys();
    const r = root.run("zoneadm", ["-z", "broken", "boot"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^zoneadm: zone 'broken': (runc|crun) create failed: [^\n]*proc[^\n]*\n$/);
    assert.equal(root.daemonPid(), pid, "zoneadmd was replaced");
    assert.ok(alive(pid), "zoneadmd died");
    assert.doesNotMatch(daemonLog(), /unhandled rejection|uncaught exception/, "the failure reached the safety net");
    assertNothingLeft("broken");
    assert.equal(fs.existsSync(`/sys/class/net/${bridgeName(root.paths.hostPrefix, "zbr0")}`), false, "the zone bridge was made");
    assert.equal(daemonPtys(), ptys, "zoneadmd holds a terminal of the failed zone");
    // The zone that was running runs on; another still boots and runs.
    assert.equal(readRun(root.paths, "ok")!.pid, okInit);
    assert.equal(root.ok("zlogin", ["ok", "cat /etc/zonename"]), "ok\n");
    configure("late");
    root.ok("zoneadm", ["-z", "late", "install"]);
    root.ok("zoneadm", ["-z", "late", "boot"]);
    assert.equal(root.ok("zlogin", ["late", "echo up"]), "up\n");
    assert.equal(root.daemonPid(), pid);
    // The same failure again, then the zone goes.
    assert.equal(root.run("zoneadm", ["-z", "broken", "boot"]).status, 1);
    assertNothingLeft("broken");
    root.ok("zoneadm", ["-z", "broken", "uninstall", "-F"]);
    assert.equal(state("broken"), "configured");
    assert.equal(fs.existsSync(path.join(zp("broken"), "root")), false);
    root.ok("zoneadm", ["-z", "late", "halt"]);
  });

  test("a zonepath under a directory closed to the zone's uids: verify, install and boot say which and why", () => {
    // As `mktemp -d` makes it.
    const closed = path.join(root.dir, "closed");
    fs.mkdirSync(closed, { mode: 0o700 });
    fs.chmodSync(closed, 0o700);
    configure("shut", "", path.join(closed, "shut"));
    const line = (who: string): RegExp =>
      new RegExp(`^zoneadm: zone 'shut': zonepath's parent "${esc(closed)}" is mode 700; the zone's root \\(${esc(who)}\\) must be able to search it: chmod o\\+x "${esc(closed)}", or choose another zonepath\\n$`);
    const v = root.run("zoneadm", ["-z", "shut", "verify"]);
    assert.equal(v.status, 1);
    assert.match(v.stderr, line("an unprivileged host uid"));
    const i = root.run("zoneadm", ["-z", "shut", "install"]);
    assert.equal(i.status, 1);
    assert.match(i.stderr, line("an unprivileged host uid"));
    assert.equal(state("shut"), "configured");
    assert.deepEqual(fs.readdirSync(closed), [], "install made something");
    // Installed while open, then closed again: boot names the zone's host uid.
    fs.chmodSync(closed, 0o755);
    root.ok("zoneadm", ["-z", "shut", "install"]);
    fs.chmodSync(closed, 0o700);
    const uid = new SlotRegistry().find(new Repository(root.paths).find("shut")!.uuid)!.slot * 65536;
    const pid = root.daemonPid()!;
    const b = root.run("zoneadm", ["-z", "shut", "boot"]);
    assert.equal(b.status, 1);
    assert.match(b.stderr, line(`host uid ${uid}`));
    assert.match(root.run("zoneadm", ["-z", "shut", "verify"]).stderr, line(`host uid ${uid}`));
    assert.equal(root.daemonPid(), pid);
    assert.ok(alive(pid), "zoneadmd died");
    assert.deepEqual(mountsBelow(path.join(closed, "shut")), []);
    assertNothingLeft("shut");
    root.ok("zoneadm", ["-z", "shut", "uninstall", "-F"]);
  });
});

describe("a zone address on a network the global zone is on through another interface", { concurrency: false }, () => {
  before(() => {
    for (const [cmd, ...args] of [
      // A host interface on 10.213.51.0/25 (this kernel has no dummy driver: a veth pair).
      ["ip", "link", "add", DUMMY, "type", "veth", "peer", "name", `${DUMMY}p`],
      ["ip", "addr", "add", "10.213.51.1/25", "dev", DUMMY],
      ["ip", "link", "set", `${DUMMY}p`, "up"],
      ["ip", "link", "set", DUMMY, "up"],
      ["ip", "link", "add", HOSTBR, "type", "bridge"],
      ["ip", "addr", "add", "10.213.54.1/24", "dev", HOSTBR],
      ["ip", "link", "set", HOSTBR, "up"],
    ]) {
      const r = sh(cmd!, args);
      assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
    }
  });

  const leftovers = (): string[] => [
    ...hostLinksOf(root.paths.hostPrefix),
    ...readNets(root.paths).map((n) => `record of ${n.zone}`),
    ...(sh("nft", ["list", "table", "bridge", nftTable(root.paths.hostPrefix)]).status === 0 ? ["nft table"] : []),
  ];

  test("refused at verify and boot, naming the host interface; nothing plumbed", () => {
    configure("n1", "add net; set physical=zbr0; set address=10.213.51.5/24; end;");
    // n2's router is a host on the veth's network; n3's is the global zone's own address there.
    configure("n2", "add net; set physical=zbr0; set address=10.213.51.6/24; set defrouter=10.213.51.100; end;");
    configure("n3", "add net; set physical=zbr0; set address=10.213.51.7/24; set defrouter=10.213.51.1; end;");
    const inside = new RegExp(`net address 10\\.213\\.51\\.5/24 is inside network 10\\.213\\.51\\.0/25 of host interface ${DUMMY}; `);
    const router = new RegExp(`^zoneadm: zone 'n2': net defrouter 10\\.213\\.51\\.100 is a host on network 10\\.213\\.51\\.0/25 of host interface ${DUMMY}, not a router on physical zbr0$`, "m");
    const held = new RegExp(`^zoneadm: zone 'n3': net defrouter 10\\.213\\.51\\.1 is already an address of the global zone on ${DUMMY}\\n$`);
    const v1 = root.run("zoneadm", ["-z", "n1", "verify"]);
    assert.equal(v1.status, 1);
    assert.match(v1.stderr, new RegExp(`^zoneadm: zone 'n1': ${inside.source}[^\\n]*\\n$`));
    const v2 = root.run("zoneadm", ["-z", "n2", "verify"]);
    assert.equal(v2.status, 1);
    assert.match(v2.stderr, router);
    assert.match(root.run("zoneadm", ["-z", "n3", "verify"]).stderr, held);
    for (const z of ["n1", "n2", "n3"]) root.ok("zoneadm", ["-z", z, "install"]);
    const b1 = root.run("zoneadm", ["-z", "n1", "boot"]);
    assert.equal(b1.status, 1);
    assert.match(b1.stderr, new RegExp(`^zoneadm: zone 'n1': ${inside.source}[^\\n]*\\n$`));
    const b2 = root.run("zoneadm", ["-z", "n2", "boot"]);
    assert.equal(b2.status, 1);
    assert.match(b2.stderr, new RegExp(`^zoneadm: zone 'n2': net address 10\\.213\\.51\\.6/24 is inside network 10\\.213\\.51\\.0/25 of host interface ${DUMMY}; [^\\n]*\\n$`));
    const b3 = root.run("zoneadm", ["-z", "n3", "boot"]);
    assert.equal(b3.status, 1);
    assert.match(b3.stderr, held);
    assert.deepEqual(leftovers(), []);
    assert.equal(fs.existsSync(`/sys/class/net/${bridgeName(root.paths.hostPrefix, "zbr0")}`), false);
    for (const z of ["n1", "n2", "n3"]) assertNothingLeft(z);
    // A subnet that holds the host's network overlaps it just the same.
    root.ok("zonecfg", ["-z", "n1", "select net physical=zbr0; set address=10.213.51.200/24; end"]);
    assert.match(root.run("zoneadm", ["-z", "n1", "verify"]).stderr, new RegExp(`^zoneadm: zone 'n1': net address 10\\.213\\.51\\.200/24 overlaps network 10\\.213\\.51\\.0/25 of host interface ${DUMMY}; `));
  });

  test("allowed: more zones on a zone bridge that holds their router, and zones on a host bridge the global zone is on", () => {
    configure("r1", "add net; set physical=zbr0; set address=10.213.53.5/24; set defrouter=10.213.53.1; end;");
    configure("r2", "add net; set physical=zbr0; set address=10.213.53.6/24; set defrouter=10.213.53.1; end;");
    configure("lan", `add net; set physical=${HOSTBR}; set address=10.213.54.5/24; set defrouter=10.213.54.1; end;`);
    for (const z of ["r1", "r2", "lan"]) {
      root.ok("zoneadm", ["-z", z, "install"]);
      root.ok("zoneadm", ["-z", z, "boot"]);
    }
    root.ok("zoneadm", ["-z", "r2", "verify"]);
    // The global zone reaches both, each through its own interface.
    const ping = (a: string): number => (sh("sh", ["-c", "command -v ping"]).status === 0 ? sh("ping", ["-c", "1", "-W", "2", a]) : sh("busybox", ["ping", "-c", "1", "-W", "2", a])).status;
    assert.equal(ping("10.213.53.6"), 0);
    assert.equal(ping("10.213.54.5"), 0);
    for (const z of ["r1", "r2", "lan"]) root.ok("zoneadm", ["-z", z, "halt"]);
  });
});

describe("zoneadmd's safety net", { concurrency: false }, () => {
  // Faults injected into the real daemon from a preloaded module: what is tested is
  // what zoneadmd does with an error nobody handled, not how one arises.
  const preload = path.join(root.dir, "fault.cjs");

  test("an unhandled rejection is logged on one line and zoneadmd serves on; an uncaught exception ends it alone", async () => {
    fs.writeFileSync(
      preload,
      `if ((process.argv[1] || "").endsWith("zoneadmd.cjs")) {
  process.on("SIGUSR2", () => { Promise.reject(new Error("injected rejection\\nsecond line")); });
  process.on("SIGWINCH", () => { throw new Error("injected exception"); });
}
`,
    );
    const old = root.daemonPid()!;
    process.kill(old, "SIGTERM");
    await until("the daemon to stop", () => !alive(old));
    const env = { ...root.env, NODE_OPTIONS: `--require ${preload}` };
    const runtime = (e: NodeJS.ProcessEnv): { status: number | null; stderr: string } =>
      spawnSync(path.join(BIN, "zoneadm"), ["runtime"], { env: e, encoding: "utf8", timeout: 30_000 });
    assert.equal(runtime(env).status, 0);
    const pid = root.daemonPid()!;
    assert.notEqual(pid, old);
    const okInit = readRun(root.paths, "ok")!.pid;
    process.kill(pid, "SIGUSR2");
    await until("the rejection logged", () => daemonLog().includes("unhandled rejection: injected rejection"));
    assert.match(daemonLog(), new RegExp(`zoneadmd ${pid}: unhandled rejection: injected rejection; still serving\\n`));
    assert.equal(runtime(root.env).status, 0);
    assert.equal(root.daemonPid(), pid);
    assert.ok(alive(pid));
    process.kill(pid, "SIGWINCH");
    await until("the daemon to exit", () => !alive(pid));
    assert.match(daemonLog(), new RegExp(`zoneadmd ${pid}: uncaught exception: injected exception; exiting, zones keep running\\n`));
    // The zone ran on without a daemon; the next command starts one that finds it.
    assert.ok(alive(okInit), "the zone's init died with zoneadmd");
    assert.equal(root.ok("zlogin", ["ok", "echo still"]), "still\n");
    assert.notEqual(root.daemonPid(), pid);
    assert.equal(state("ok"), "running");
  });
});
