/**
 * The global zone's reserve (src/platform/reserve.ts) and the defaults a silent
 * configuration gets at boot (src/document/defaults.ts), on real zones: the root's parent
 * cgroup is limited to the host's size minus the reserve, the setting file moves it,
 * zones without limits of their own cannot together take more memory or pids than
 * that, and SysV shm has a default bound. Allocations stay small (a 200 MiB share).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { readRun } from "../../../src/document/store/runstate.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("reserve");
after(() => root.remove());
const zp = (n: string): string => path.join(root.dir, "zones", n);
const MIB = 1024 * 1024;
const conf = (): string => path.join(root.configDir, "zoneadmd.conf");

/** The host's size, read here on its own rather than through the code under test. */
const MEM_TOTAL = Number(/^MemTotal:\s+(\d+) kB$/m.exec(fs.readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
const PID_MAX = Number(fs.readFileSync("/proc/sys/kernel/pid_max", "utf8"));
const pageDown = (n: number): number => Math.floor(n / 4096) * 4096;

const V2 = fs.existsSync("/sys/fs/cgroup/cgroup.controllers");
/** A control file of the root's parent cgroup (or of a zone's group below it). */
function control(ctl: "memory" | "pids", v1: string, v2: string, zone = ""): string {
  return path.join("/sys/fs/cgroup", V2 ? "" : ctl, root.paths.hostPrefix, zone, V2 ? v2 : v1);
}
const readNum = (file: string): number => Number(fs.readFileSync(file, "utf8").trim());
const parentMemory = (): number => readNum(control("memory", "memory.limit_in_bytes", "memory.max"));
const parentPids = (): number => readNum(control("pids", "pids.max", "pids.max"));

function setConf(text: string): void {
  fs.writeFileSync(conf(), text, { mode: 0o644 });
}

function inZone(zone: string, line: string): { status: number; out: string } {
  const r = root.run("zlogin", [zone, line]);
  return { status: r.status, out: r.stdout + r.stderr };
}

function boot(zone: string): void {
  const r = root.run("zoneadm", ["-z", zone, "boot"]);
  assert.equal(r.status, 0, r.stderr);
}

function halt(...zones: string[]): void {
  for (const z of zones) root.run("zoneadm", ["-z", z, "halt"]);
}

/** Kill the zone's processes named `comm` from the global zone. */
function killInZone(zone: string, comm: string): void {
  for (const pid of fs.readFileSync(control("pids", "cgroup.procs", "cgroup.procs", zone), "utf8").split("\n").filter(Boolean)) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm) process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
}

describe("the global zone keeps a reserve", { concurrency: false }, () => {
  before(() => {
    for (const z of ["a", "b"]) {
      root.ok("zonecfg", ["-z", z, `create; set zonepath=${zp(z)}; set brand=minimal`]);
      root.ok("zoneadm", ["-z", z, "install"]);
    }
  });
  // Each test boots what it needs: a failed one leaves nothing running for the next.
  afterEach(() => halt("a", "b"));
  after(() => {
    for (const z of ["a", "b"]) root.run("zoneadm", ["-z", z, "uninstall", "-F"]);
  });

  test("the root's parent cgroup has the host's size minus the default reserve; a zone without max-lwps gets 8192", () => {
    fs.rmSync(conf(), { force: true });
    boot("a");
    assert.equal(parentMemory(), pageDown(MEM_TOTAL - Math.max(512 * MIB, Math.floor(MEM_TOTAL / 10))));
    if (!V2 && fs.existsSync(control("memory", "memory.memsw.limit_in_bytes", ""))) {
      assert.equal(readNum(control("memory", "memory.memsw.limit_in_bytes", "")), parentMemory(), "no spilling into swap beyond it");
    }
    assert.equal(parentPids(), PID_MAX - Math.max(1024, Math.floor(PID_MAX / 10)));
    assert.equal(readNum(control("pids", "pids.max", "pids.max", "a")), 8192);
  });

  test("the setting file moves the reserve, also for zones that outlived zoneadmd", () => {
    setConf("# the global zone keeps\nreserve-memory=4G\n\nreserve-pids = 4096\n");
    boot("a");
    assert.equal(parentMemory(), pageDown(MEM_TOTAL - 4 * 1024 * MIB));
    assert.equal(parentPids(), PID_MAX - 4096);
    // A new daemon applies the file as it is now to the zones still running.
    setConf("reserve-memory=3G\nreserve-pids=5000\n");
    root.killDaemon();
    assert.equal(inZone("a", "echo up").out, "up\n");
    assert.equal(parentMemory(), pageDown(MEM_TOTAL - 3 * 1024 * MIB));
    assert.equal(parentPids(), PID_MAX - 5000);
  });

  test("a bad setting file is refused with one line naming the file, the line and the value", () => {
    const cases: Array<[string, RegExp]> = [
      ["reserve-pids=100\nreserve-memory=lots\n", /zoneadmd\.conf line 2: reserve-memory must be a number of bytes.*: "lots"$/],
      ["reserve-cpu=1\n", /zoneadmd\.conf line 1: unknown setting "reserve-cpu"/],
      [`reserve-pids=${PID_MAX}\n`, new RegExp(`zoneadmd\\.conf line 1: reserve-pids leaves zones no pids.*: "${PID_MAX}"$`)],
      ["reserve-memory 2G\n", /zoneadmd\.conf line 1: expected name=value: "reserve-memory 2G"$/],
    ];
    for (const [text, want] of cases) {
      setConf(text);
      const r = root.run("zoneadm", ["-z", "a", "boot"]);
      assert.equal(r.status, 1, text);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr.trim(), /^zoneadm: zone 'a': /);
      assert.match(r.stderr.trim(), want);
    }
    // Not a file a zone or a host user could have put there.
    fs.rmSync(conf());
    fs.writeFileSync(path.join(root.dir, "elsewhere"), "reserve-memory=1G\n");
    fs.symlinkSync(path.join(root.dir, "elsewhere"), conf());
    assert.match(root.run("zoneadm", ["-z", "a", "boot"]).stderr, /zoneadmd\.conf is a symbolic link; refusing it/);
    fs.rmSync(conf());
    setConf("reserve-memory=1G\n");
    fs.chmodSync(conf(), 0o666);
    assert.match(root.run("zoneadm", ["-z", "a", "boot"]).stderr, /zoneadmd\.conf must be owned by root and writable by root only/);
    fs.rmSync(conf());
    assert.equal(root.ok("zoneadm", ["list", "-p"]).includes(":a:"), false, "zone a did not boot");
  });

  test("zones without capped-memory cannot take more memory together than the share: the hog dies, the zone lives", () => {
    setConf(`reserve-memory=${MEM_TOTAL - 200 * MIB}\n`);
    boot("a");
    assert.equal(parentMemory(), 200 * MIB);
    const init = readRun(root.paths, "a")!.pid;
    // oom_score_adj 1000: the OOM killer takes the hog first, not the zone's init.
    const hog = inZone("a", "echo 1000 > /proc/self/oom_score_adj; dd if=/dev/zero of=/dev/null bs=400M count=1");
    assert.notEqual(hog.status, 0, "a 400M buffer does not fit in 200M");
    // tmpfs pages are charged to the writer's memory cgroup, whatever size= the mount says.
    const tmpfs = inZone("a", "echo 1000 > /proc/self/oom_score_adj; unshare -Urm sh -c 'mount -t tmpfs -o size=100g none /mnt && dd if=/dev/zero of=/mnt/f bs=1M count=400'");
    assert.notEqual(tmpfs.status, 0, "400M into a nested tmpfs of size=100g");
    assert.equal(readRun(root.paths, "a")!.pid, init);
    assert.ok(fs.existsSync(`/proc/${init}`), "the zone's init lives on");
    assert.equal(inZone("a", "echo alive").out, "alive\n");
    if (!V2) assert.ok(readNum(control("memory", "memory.max_usage_in_bytes", "")) <= 200 * MIB);
    // The default SysV shm bound is a quarter of the share.
    assert.equal(inZone("a", "cat /proc/sys/kernel/shmall").out, `${(50 * MIB) / 4096}\n`);
  });

  test("zones without max-lwps cannot take more pids together than the share", (t) => {
    setConf(`reserve-pids=${PID_MAX - 200}\n`);
    boot("a");
    boot("b");
    assert.equal(parentPids(), 200);
    const current = (z: string): number => readNum(control("pids", "pids.current", "pids.current", z));
    const sleepers = "sleep 600 </dev/null >/dev/null 2>&1 &";
    // Zone a takes 120 without reaching any limit; zone b forks until it fails.
    assert.equal(inZone("a", `busybox sh -c 'for i in $(seq 120); do ${sleepers} done; echo made'`).out, "made\n");
    const bomb = inZone("b", `busybox sh -c 'for i in $(seq 300); do ${sleepers} done; echo made'`);
    assert.match(bomb.out, /can't fork/);
    const a = current("a");
    const b = current("b");
    assert.ok(a >= 120, `zone a holds ${a}`);
    assert.ok(a + b <= 200, `zones hold ${a} + ${b} pids`);
    t.diagnostic(`zone a holds ${a} pids, zone b ${b}, of 200`);
    killInZone("a", "sleep");
    killInZone("b", "sleep");
    // The killed sleepers' pids return once the zones' inits have reaped them: on a busy
    // host a login may still find none and the runtime fail to start its threads.
    let alive = inZone("b", "echo alive");
    for (let i = 0; i < 50 && alive.out !== "alive\n"; i++) {
      spawnSync("sleep", ["0.1"]);
      alive = inZone("b", "echo alive");
    }
    assert.equal(alive.out, "alive\n");
  });
});

describe("defaults stay out of the stored configuration", () => {
  test("create then add rctl zone.max-lwps works; export shows no default; info shows it", () => {
    root.ok("zonecfg", ["-z", "fresh", "create"]);
    const exported = root.ok("zonecfg", ["-z", "fresh", "export"]);
    assert.doesNotMatch(exported, /max-lwps|max-processes|rctl/);
    const info = root.ok("zonecfg", ["-z", "fresh", "info"]);
    assert.match(info, /^\[max-lwps: 8192 \(default\)\]$/m);
    assert.match(info, /^\[max-shm-ids: 128 \(default\)\]$/m);
    assert.equal(root.ok("zonecfg", ["-z", "fresh", "info max-lwps"]), "max-lwps: 8192 (default)\n");
    const r = root.run("zonecfg", ["-z", "fresh", "add rctl; set name=zone.max-lwps; add value (priv=privileged,limit=100,action=deny); end"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(root.ok("zonecfg", ["-z", "fresh", "info"]), /^\[max-lwps: 100\]$/m);
    assert.match(root.ok("zonecfg", ["-z", "fresh", "export"]), /set name=zone\.max-lwps\nadd value \(priv=privileged,limit=100,action=deny\)/);
    // The shm default follows capped-memory: a quarter of it.
    root.ok("zonecfg", ["-z", "fresh", "add capped-memory; set physical=64M; end"]);
    assert.match(root.ok("zonecfg", ["-z", "fresh", "info"]), /^\[max-shm-memory: 16M \(default\)\]$/m);
    root.ok("zonecfg", ["-z", "fresh", "delete -F"]);
  });
});

describe("SysV shared memory has a default bound", () => {
  before(() => {
    root.ok("zonecfg", ["-z", "s", `create; set zonepath=${zp("s")}; add capped-memory; set physical=64M; end`]);
    root.ok("zoneadm", ["-z", "s", "install"]);
    boot("s");
  });
  after(() => {
    halt("s");
    root.run("zoneadm", ["-z", "s", "uninstall", "-F"]);
  });

  test("without max-shm-memory or max-shm-ids, segments stop at a quarter of capped-memory and at 128 ids", () => {
    // perl's built-in shmget; 0 is IPC_PRIVATE. The segments live on, unattached.
    const code = [
      `defined(shmget(0, 12*1024*1024, 0600)) or die "first: $!\\n";`,
      `print defined(shmget(0, 12*1024*1024, 0600)) ? "second made\\n" : "second: $!\\n";`,
      `my $n = 1; while ($n < 5000 && defined(shmget(0, 4096, 0600))) { $n++ } print "$n ids: $!\\n";`,
    ].join(" ");
    const r = root.run("zlogin", ["s", "perl", "-e", code]);
    assert.equal(r.stdout + r.stderr, "second: No space left on device\n128 ids: No space left on device\n");
  });
});
