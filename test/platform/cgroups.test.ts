/**
 * The zone cgroup interface (src/platform/cgroups/), one suite run against three trees:
 * a fake cgroup v1 layout, a fake pure-v2 layout (temp directories laid out like
 * /sys/fs/cgroup, with the files the kernel would have), and this host's real v1
 * hierarchies on a scratch group, where the kernel itself checks what is written
 * (memsw >= memory, cpuset subsets). Then the mapping from a zone's configuration
 * (limits.ts, oci.ts), the checks of what Linux can honour (rctlcheck.ts) and the
 * dedicated-CPU registry (cpusets.ts), on temporary files only.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { blankZone } from "../../src/document/model.js";
import { setRctlLimit } from "../../src/document/rctls.js";
import { isV2, type ZoneCgroup } from "../../src/platform/cgroups/cgroup.js";
import { V1Cgroup } from "../../src/platform/cgroups/v1.js";
import { V2Cgroup } from "../../src/platform/cgroups/v2.js";
import { memoryLimits, pidsLimit, zoneLimits } from "../../src/platform/cgroups/limits.js";
import { ociResources } from "../../src/platform/cgroups/oci.js";
import { memlockProblem, withMemlock } from "../../src/platform/cgroups/memlock.js";
import { rctlConfigProblems, rctlHostProblems } from "../../src/platform/rctlcheck.js";
import { DedicatedCpus, formatCpuList, parseCpuList, rebalance } from "../../src/platform/cpusets.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "zones-cgroups-"));
const cleanups: Array<() => void> = [];
after(() => {
  for (const c of cleanups.reverse()) c();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const REL = "zones-test/web";
const MAX62 = String(2 ** 62 - 4096);

function files(dir: string, content: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, v] of Object.entries(content)) fs.writeFileSync(path.join(dir, f), v + "\n");
}

/** A v1 tree as runc leaves a zone's groups, with its defaults; `memsw`: swap accounting. */
function fakeV1(name: string, memsw = true): string {
  const root = path.join(tmp, name);
  const mem: Record<string, string> = { "memory.limit_in_bytes": MAX62, "memory.soft_limit_in_bytes": MAX62, "memory.usage_in_bytes": "1048576" };
  if (memsw) Object.assign(mem, { "memory.memsw.limit_in_bytes": MAX62, "memory.memsw.usage_in_bytes": "2097152" });
  for (const at of ["", path.dirname(REL), REL]) {
    files(path.join(root, "cpu", at), { "cpu.shares": "1024", "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000" });
    files(path.join(root, "cpuacct", at), { "cpuacct.usage": "5000" });
    files(path.join(root, "cpuset", at), { "cpuset.cpus": "0-1" });
    files(path.join(root, "memory", at), mem);
    files(path.join(root, "pids", at), { "pids.max": "max", "pids.current": "3", "cgroup.procs": "10\n11" });
  }
  fs.rmSync(path.join(root, "pids", "pids.max")); // the root group has none: supports() looks below
  return root;
}

function fakeV2(name: string, swap = true): string {
  const root = path.join(tmp, name);
  files(root, { "cgroup.controllers": "cpuset cpu io memory pids" });
  const g: Record<string, string> = {
    "cpu.weight": "100",
    "cpu.max": "max 100000",
    "cpu.stat": "usage_usec 5\nuser_usec 3",
    "cpuset.cpus": "",
    "memory.max": "max",
    "memory.high": "max",
    "memory.current": "1048576",
    "pids.max": "max",
    "pids.current": "3",
    "cgroup.procs": "10\n11",
  };
  if (swap) Object.assign(g, { "memory.swap.max": "max", "memory.swap.current": "0" });
  files(path.join(root, REL), g);
  return root;
}

/** A scratch group in this host's real v1 hierarchies, removed at the end. */
function realV1(): string | undefined {
  const root = "/sys/fs/cgroup";
  if (isV2(root) || !fs.existsSync(path.join(root, "pids")) || process.getuid?.() !== 0) return undefined;
  const made: string[] = [];
  // zones-test-<pid>/web in each controller; cpuset groups start empty and need the parent's CPUs and mems.
  const parent = `zones-test-${process.pid}`;
  for (const c of ["cpu", "cpuacct", "cpuset", "memory", "pids"]) {
    for (const d of [parent, `${parent}/web`]) {
      const dir = path.join(root, c, d);
      fs.mkdirSync(dir);
      made.push(dir);
      if (c === "cpuset")
        for (const f of ["cpuset.cpus", "cpuset.mems"]) fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(path.dirname(dir), f), "utf8"));
    }
  }
  cleanups.push(() => {
    for (const d of made.reverse()) fs.rmdirSync(d);
  });
  return parent;
}

/** A scratch group on a pure cgroup v2 host (the device machine, most hosts), removed at the end. */
function realV2(): string | undefined {
  const root = "/sys/fs/cgroup";
  if (!isV2(root) || process.getuid?.() !== 0) return undefined;
  const parent = `zones-test-${process.pid}`;
  const dir = path.join(root, parent);
  fs.mkdirSync(dir);
  cleanups.push(() => fs.rmdirSync(dir));
  const want = ["cpu", "cpuset", "memory", "pids"].filter((c) => fs.readFileSync(path.join(root, "cgroup.controllers"), "utf8").includes(c));
  for (const d of [root, dir]) fs.writeFileSync(path.join(d, "cgroup.subtree_control"), want.map((c) => `+${c}`).join(" "));
  fs.mkdirSync(path.join(dir, "web"));
  cleanups.push(() => fs.rmdirSync(path.join(dir, "web")));
  return parent;
}

interface Tree {
  name: string;
  make(): ZoneCgroup | undefined;
  /** Usage is the fake's fixed numbers. */
  fake: boolean;
}

const TREES: Tree[] = [
  { name: "fake cgroup v1", fake: true, make: () => new V1Cgroup(fakeV1("v1"), REL) },
  { name: "fake cgroup v2", fake: true, make: () => new V2Cgroup(fakeV2("v2"), REL) },
  {
    name: "this host's cgroup v1 (scratch group)",
    fake: false,
    make: () => {
      const parent = realV1();
      return parent ? new V1Cgroup("/sys/fs/cgroup", `${parent}/web`) : undefined;
    },
  },
  {
    name: "this host's cgroup v2 (scratch group)",
    fake: false,
    make: () => {
      const parent = realV2();
      return parent ? new V2Cgroup("/sys/fs/cgroup", `${parent}/web`) : undefined;
    },
  },
];

for (const tree of TREES) {
  describe(`zone cgroup: ${tree.name}`, () => {
    const cg = tree.make();
    const skip = cg === undefined ? "no such hierarchy on this host, or not root" : false;

    test("it exists and supports every control", { skip }, () => {
      assert.equal(cg!.exists(), true);
      for (const c of ["cpu-shares", "cpu-cap", "cpus", "memory", "memory-soft", "pids"] as const) assert.equal(cg!.supports(c), true, c);
    });

    test("apply sets every control and get reads each back in illumos units", { skip }, () => {
      cg!.apply({ "cpu-shares": 20, "cpu-cap": 50, cpus: "0", memory: 64 * 2 ** 20, "memory-soft": 48 * 2 ** 20, swap: 128 * 2 ** 20, pids: 20 });
      assert.equal(cg!.get("cpu-shares"), 20);
      assert.equal(cg!.get("cpu-cap"), 50);
      assert.equal(cg!.get("cpus"), "0");
      assert.equal(cg!.get("memory"), 64 * 2 ** 20);
      assert.equal(cg!.get("memory-soft"), 48 * 2 ** 20);
      if (cg!.supports("swap")) assert.equal(cg!.get("swap"), 128 * 2 ** 20);
      assert.equal(cg!.get("pids"), 20);
    });

    test("memory can go above the old swap limit and below it again (memsw order)", { skip }, () => {
      cg!.apply({ memory: 64 * 2 ** 20, swap: 64 * 2 ** 20 });
      cg!.apply({ memory: 256 * 2 ** 20, swap: 512 * 2 ** 20 });
      assert.equal(cg!.get("memory"), 256 * 2 ** 20);
      cg!.apply({ memory: 32 * 2 ** 20, swap: 48 * 2 ** 20 });
      assert.equal(cg!.get("memory"), 32 * 2 ** 20);
      if (cg!.supports("swap")) assert.equal(cg!.get("swap"), 48 * 2 ** 20);
    });

    test("set changes one control; undefined lifts it", { skip }, () => {
      cg!.set("pids", 30);
      assert.equal(cg!.get("pids"), 30);
      cg!.set("cpu-cap", 150);
      assert.equal(cg!.get("cpu-cap"), 150);
      cg!.apply({});
      for (const c of ["cpu-cap", "memory", "memory-soft", "pids"] as const) assert.equal(cg!.get(c), undefined, c);
      // cpus absent: left as it was (only ready dedicates CPUs).
      assert.equal(cg!.get("cpus"), "0");
    });

    test("usage: tasks, processes, memory, CPU time", { skip }, () => {
      const u = cg!.usage();
      if (tree.fake) {
        assert.equal(u.tasks, 3);
        assert.deepEqual(u.processes, [10, 11]);
        assert.equal(u.memory, 1048576);
        assert.ok(u.cpuNs >= 5000);
      } else {
        assert.equal(u.tasks, 0);
        assert.deepEqual(u.processes, []);
      }
    });
  });
}

describe("what the host lacks", () => {
  test("v1 without memsw, v2 without memory.swap.max: no swap control, and verify says so", () => {
    for (const cg of [new V1Cgroup(fakeV1("v1-noswap", false), REL), new V2Cgroup(fakeV2("v2-noswap", false), REL)]) {
      assert.equal(cg.supports("swap"), false);
      assert.throws(() => cg.set("swap", 2 ** 30), /no swap accounting/);
      const z = blankZone("web");
      setRctlLimit(z, "zone.max-swap", 2 ** 30);
      const p = rctlHostProblems(z, cg, new DedicatedCpus(path.join(tmp, "cpus-none"), () => [0, 1]));
      assert.equal(p.length, 1);
      assert.match(p[0]!, /^rctl "zone.max-swap" cannot be had on this host: its cgroup v[12] has no swap accounting/);
    }
  });
});

describe("a zone's configuration as cgroup limits", () => {
  test("max-processes and max-lwps are one pids.max, the lower; unset lwps keeps the default", () => {
    const z = blankZone("web");
    assert.equal(pidsLimit(z), 8192);
    setRctlLimit(z, "zone.max-lwps", 100);
    setRctlLimit(z, "zone.max-processes", 30);
    assert.equal(pidsLimit(z), 30);
  });

  test("physical is hard; zone.max-physical-memory deny is hard, none is soft", () => {
    const z = blankZone("web");
    z.cappedMemory = { physical: 256 * 2 ** 20 };
    z.rctl.push({ name: "zone.max-physical-memory", values: [{ priv: "privileged", limit: 200 * 2 ** 20, action: "none" }] });
    assert.deepEqual(memoryLimits(z), { hard: 256 * 2 ** 20, soft: 200 * 2 ** 20 });
    assert.equal(zoneLimits(z)["memory-soft"], 200 * 2 ** 20);
  });

  test("the OCI resources: v1 shares, memsw and reservation; v2 weight, swap.max and memory.high via unified", () => {
    const z = blankZone("web");
    z.cappedMemory = { physical: 64 * 2 ** 20 };
    setRctlLimit(z, "zone.cpu-shares", 20);
    setRctlLimit(z, "zone.max-swap", 128 * 2 ** 20);
    z.rctl.push({ name: "zone.max-physical-memory", values: [{ priv: "privileged", limit: 48 * 2 ** 20, action: "none" }] });
    const v1 = ociResources(z, "1", false);
    assert.deepEqual(v1.memory, { limit: 64 * 2 ** 20, swap: 128 * 2 ** 20, reservation: 48 * 2 ** 20 });
    assert.deepEqual(v1.cpu, { shares: 20, cpus: "1" });
    assert.equal(v1.unified, undefined);
    const v2 = ociResources(z, undefined, true);
    assert.deepEqual(v2.memory, { limit: 64 * 2 ** 20 });
    assert.deepEqual(v2.unified, { "memory.swap.max": String(64 * 2 ** 20), "memory.high": String(48 * 2 ** 20), "cpu.weight": "20" });
  });

  test("locked memory: the runtime runs under prlimit", () => {
    assert.deepEqual(withMemlock(4096, ["runc", "create"]), ["prlimit", "--memlock=4096:4096", "--", "runc", "create"]);
    assert.deepEqual(withMemlock(undefined, ["runc"]), ["runc"]);
  });

  test("locked memory above the host's hard limit is refused where root lacks CAP_SYS_RESOURCE", () => {
    const limits = "Limit                     Soft Limit           Hard Limit           Units\nMax locked memory         8388608              8388608              bytes\n";
    const without = "CapEff:\t000001fffeffffff\n"; // bit 24 clear, as on this project's VM
    const withCap = "CapEff:\t000001ffffffffff\n";
    assert.equal(memlockProblem(4 << 20, limits, without), undefined);
    assert.equal(memlockProblem(8 << 20, limits, without), undefined);
    assert.match(memlockProblem(64 << 20, limits, without) ?? "", /^capped-memory locked 67108864 bytes cannot be had on this host: .*hard RLIMIT_MEMLOCK \(8388608 bytes\).*CAP_SYS_RESOURCE/);
    assert.equal(memlockProblem(64 << 20, limits, withCap), undefined);
    assert.equal(memlockProblem(64 << 20, limits.replace(/8388608 +bytes/, "unlimited            bytes"), without), undefined);
  });
});

describe("controls Linux cannot honour are refused", () => {
  const cases: Array<[string, (z: ReturnType<typeof blankZone>) => void, RegExp]> = [
    ["zone.max-lofi", (z) => setRctlLimit(z, "zone.max-lofi", 4), /^rctl "zone.max-lofi": no lofi devices on Linux; use add fs with an image file$/],
    ["a signal action", (z) => z.rctl.push({ name: "zone.max-lwps", values: [{ priv: "privileged", limit: 5, action: "signal=SIGTERM" }] }), /action "signal=SIGTERM" cannot be honoured on Linux/],
    ["a basic value", (z) => z.rctl.push({ name: "zone.max-lwps", values: [{ priv: "basic", limit: 5, action: "deny" }] }), /priv=basic cannot be had/],
    ["two values", (z) => z.rctl.push({ name: "zone.max-lwps", values: [{ priv: "privileged", limit: 5, action: "deny" }, { priv: "privileged", limit: 6, action: "deny" }] }), /2 values given/],
    ["action=none on a limit", (z) => z.rctl.push({ name: "zone.max-lwps", values: [{ priv: "privileged", limit: 5, action: "none" }] }), /action=none would limit nothing/],
    ["importance", (z) => (z.dedicatedCpu = { ncpus: "1", importance: "2" }), /importance "2" has no Linux meaning/],
    ["swap under physical", (z) => { z.cappedMemory = { physical: 2 ** 30 }; setRctlLimit(z, "zone.max-swap", 2 ** 20); }, /swap "1M" is less than physical "1G"/],
  ];
  for (const [what, edit, re] of cases) {
    test(what, () => {
      const z = blankZone("web");
      edit(z);
      const p = rctlConfigProblems(z);
      assert.equal(p.length, 1, JSON.stringify(p));
      assert.match(p[0]!, re);
    });
  }
  test("what Linux has passes: cpu-shares none, cpu-cap, physical-memory none (soft)", () => {
    const z = blankZone("web");
    setRctlLimit(z, "zone.cpu-shares", 5);
    setRctlLimit(z, "zone.cpu-cap", 50);
    setRctlLimit(z, "zone.max-lwps", 50);
    z.rctl.push({ name: "zone.max-physical-memory", values: [{ priv: "privileged", limit: 2 ** 20, action: "none" }] });
    assert.deepEqual(rctlConfigProblems(z), []);
  });
});

describe("dedicated CPUs", () => {
  const reg = (online: number[]): DedicatedCpus => new DedicatedCpus(path.join(tmp, `cpus-${online.length}`), () => online);
  const runDir = (n: string): string => {
    const d = path.join(tmp, "run", n);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };

  test("CPU lists", () => {
    assert.deepEqual(parseCpuList("0-2,5\n"), [0, 1, 2, 5]);
    assert.equal(formatCpuList([5, 0, 1, 2]), "0-2,5");
  });

  test("each zone gets CPUs of its own, never the lowest; too few free is one clear line; release frees them", () => {
    const r = reg([0, 1, 2, 3]);
    assert.equal(r.hostMax(), 3);
    assert.equal(r.allocate(runDir("a"), "a", "2"), "1-2");
    // Kept on a second ready.
    assert.equal(r.allocate(runDir("a"), "a", "2"), "1-2");
    assert.equal(r.allocate(runDir("b"), "b", "1-3"), "3");
    assert.throws(() => r.allocate(runDir("c"), "c", "1"), /^ZoneError: dedicated-cpu ncpus=1: only 0 of the host's 4 CPUs can be dedicated now \(CPU 0 stays the global zone's; CPU 1-2 is dedicated to zone 'a', CPU 3 is dedicated to zone 'b'\)$/);
    assert.deepEqual(r.shared(), [0]);
    r.release(runDir("a"));
    assert.equal(r.allocate(runDir("c"), "c", "1"), "1");
  });

  test("the other zones of every root run on the CPUs no zone holds, and get them back", () => {
    const r = new DedicatedCpus(path.join(tmp, "cpus-rebalance"), () => [0, 1, 2, 3]);
    const cg = path.join(tmp, "rebalance");
    for (const g of ["zones/a", "zones/ded", "zones-abc123/b", "other/c"]) files(path.join(cg, "cpuset", g), { "cpuset.cpus": "0-3" });
    r.allocate(runDir("ded"), "ded", "2", "zones/ded");
    rebalance(r, cg);
    const read = (g: string): string => fs.readFileSync(path.join(cg, "cpuset", g, "cpuset.cpus"), "utf8").trim();
    assert.deepEqual(["zones/a", "zones/ded", "zones-abc123/b", "other/c"].map(read), ["0,3", "0-3", "0,3", "0-3"]);
    r.release(runDir("ded"));
    rebalance(r, cg);
    assert.deepEqual(["zones/a", "zones-abc123/b"].map(read), ["0-3", "0-3"]);
  });

  test("a zone whose run directory is gone (a host crash) holds nothing", () => {
    const r = reg([0, 1]);
    const d = runDir("gone");
    assert.equal(r.allocate(d, "gone", "1"), "1");
    fs.rmSync(d, { recursive: true });
    assert.equal(r.allocate(runDir("next"), "next", "1"), "1");
  });
});
