/**
 * zonestat's readers (src/platform/usage.ts) against fake cgroup v1 and v2 trees and a
 * fake /proc: which hierarchy holds which controller, and the counters of a zone's
 * group in each layout (memsw present or not, nested groups, duplicate tgids).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { cgroupRoots, cpuListSize, linkBytes, readCgroupUsage, readHostTasks, readHostUsage } from "../../src/platform/usage.js";

const top = fs.mkdtempSync(path.join(os.tmpdir(), "zones-usage-"));
after(() => fs.rmSync(top, { recursive: true, force: true }));

function put(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

const mountLine = (n: number, dir: string, fstype: string, opts: string): string => `${n} 23 0:${n} / ${dir.replace(/ /g, "\\040")} rw,relatime - ${fstype} ${fstype} ${opts}`;

describe("cgroup hierarchies from mountinfo", () => {
  test("hybrid v1: each controller in its own or a joint hierarchy; the empty unified one is not used", () => {
    const d = path.join(top, "hy brid");
    put(path.join(d, "unified/cgroup.controllers"), "\n");
    const mi = [
      mountLine(1, path.join(d, "cpu,cpuacct"), "cgroup", "rw,cpu,cpuacct"),
      mountLine(2, path.join(d, "memory"), "cgroup", "rw,memory"),
      mountLine(3, path.join(d, "pids"), "cgroup", "rw,pids"),
      mountLine(4, path.join(d, "cpuset"), "cgroup", "rw,cpuset"),
      mountLine(5, path.join(d, "unified"), "cgroup2", "rw"),
      mountLine(6, "/proc", "proc", "rw"),
    ].join("\n");
    assert.deepEqual(cgroupRoots(mi), {
      cpu: { dir: path.join(d, "cpu,cpuacct"), v2: false },
      memory: { dir: path.join(d, "memory"), v2: false },
      pids: { dir: path.join(d, "pids"), v2: false },
      cpuset: { dir: path.join(d, "cpuset"), v2: false },
    });
  });

  test("pure v2: the controllers its root lists", () => {
    const d = path.join(top, "v2root");
    put(path.join(d, "cgroup.controllers"), "cpuset cpu io memory pids\n");
    const h = { dir: d, v2: true };
    assert.deepEqual(cgroupRoots(mountLine(1, d, "cgroup2", "rw")), { cpu: h, memory: h, pids: h, cpuset: h });
  });
});

describe("a zone's counters", () => {
  test("cgroup v1: cpuacct.usage, memory and memsw usage, pids.current, distinct tgids below, cpuset", () => {
    const d = path.join(top, "v1");
    const z = "zones-abc/web";
    put(path.join(d, "cpuacct", z, "cpuacct.usage"), "1500000000\n");
    put(path.join(d, "memory", z, "memory.usage_in_bytes"), "104857600\n");
    put(path.join(d, "memory", z, "memory.memsw.usage_in_bytes"), "125829120\n");
    put(path.join(d, "pids", z, "pids.current"), "7\n");
    put(path.join(d, "pids", z, "cgroup.procs"), "100\n101\n100\n");
    put(path.join(d, "pids", z, "nested/cgroup.procs"), "102\n101\n");
    put(path.join(d, "cpuset", z, "cpuset.cpus"), "0-1,3\n");
    const roots = {
      cpu: { dir: path.join(d, "cpuacct"), v2: false },
      memory: { dir: path.join(d, "memory"), v2: false },
      pids: { dir: path.join(d, "pids"), v2: false },
      cpuset: { dir: path.join(d, "cpuset"), v2: false },
    };
    assert.deepEqual(readCgroupUsage(roots, z), { cpuNs: 1.5e9, memory: 104857600, virtual: 125829120, tasks: 7, processes: 3, cpus: 3 });
    // Without swap accounting the zone's virtual memory is its memory.
    fs.rmSync(path.join(d, "memory", z, "memory.memsw.usage_in_bytes"));
    assert.equal(readCgroupUsage(roots, z).virtual, 104857600);
    // A zone whose group is gone (halted meanwhile) has no counters, and no error.
    assert.deepEqual(readCgroupUsage(roots, "zones-abc/gone"), { cpuNs: undefined, memory: undefined, virtual: undefined, tasks: undefined });
  });

  test("cgroup v2: cpu.stat usage_usec, memory.current plus memory.swap.current, pids.current, cpuset.cpus.effective", () => {
    const d = path.join(top, "v2");
    const z = "zones-abc/db";
    put(path.join(d, z, "cpu.stat"), "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
    put(path.join(d, z, "memory.current"), "52428800\n");
    put(path.join(d, z, "memory.swap.current"), "4096\n");
    put(path.join(d, z, "pids.current"), "3\n");
    put(path.join(d, z, "cgroup.procs"), "200\n201\n");
    put(path.join(d, z, "cpuset.cpus.effective"), "1\n");
    const h = { dir: d, v2: true };
    assert.deepEqual(readCgroupUsage({ cpu: h, memory: h, pids: h, cpuset: h }, z), { cpuNs: 2.5e9, memory: 52428800, virtual: 52432896, tasks: 3, processes: 2, cpus: 1 });
  });

  test("CPU lists", () => {
    assert.equal(cpuListSize("0-3,6\n"), 5);
    assert.equal(cpuListSize("\n"), 0);
  });
});

describe("the host", () => {
  test("/proc/stat, meminfo and pid_max", () => {
    const p = path.join(top, "proc");
    put(path.join(p, "stat"), "cpu  100 5 20 1000 7 3 2 1 0 0\ncpu0 50 2 10 500 3 1 1 0 0 0\ncpu1 50 3 10 500 4 2 1 1 0 0\nintr 1\n");
    put(path.join(p, "meminfo"), "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    600 kB\nSwapTotal:       200 kB\nSwapFree:        150 kB\nSUnreclaim:       10 kB\nKernelStack:       5 kB\nPageTables:        3 kB\n");
    put(path.join(p, "sys/kernel/pid_max"), "4194304\n");
    assert.deepEqual(readHostUsage(p), {
      ncpus: 2,
      busyNs: (100 + 5 + 20 + 3 + 2 + 1) * 1e7,
      systemNs: (3 + 2 + 1) * 1e7,
      memTotal: 1000 * 1024,
      memUsed: 400 * 1024,
      memKernel: 18 * 1024,
      swapTotal: 200 * 1024,
      swapUsed: 50 * 1024,
      pidMax: 4194304,
    });
  });

  test("tasks: every process, every thread, and the kernel's threads", () => {
    const p = path.join(top, "proc2");
    put(path.join(p, "loadavg"), "0.10 0.20 0.30 2/9 4242\n");
    put(path.join(p, "1/stat"), "1 (init) S 0 1 1\n");
    put(path.join(p, "2/stat"), "2 (kthreadd) S 0 0 0\n");
    put(path.join(p, "3/stat"), "3 (kworker/0:0) I 2 0 0\n");
    // A process may call itself anything, ") S 2" included.
    put(path.join(p, "40/stat"), "40 (x) S 2 (y) S 1 40 40\n");
    put(path.join(p, "self/stat"), "");
    assert.deepEqual(readHostTasks(p), { processes: 4, lwps: 9, kernel: 2 });
    // Where the kernel lists kthreadd's children, that one file says it.
    put(path.join(p, "2/task/2/children"), "3 40 41 ");
    assert.deepEqual(readHostTasks(p), { processes: 4, lwps: 9, kernel: 4 });
  });

  test("link bytes from sysfs; a name with a slash is never a link", () => {
    const s = path.join(top, "net");
    put(path.join(s, "zv1/statistics/rx_bytes"), "1000\n");
    put(path.join(s, "zv1/statistics/tx_bytes"), "2000\n");
    assert.deepEqual(linkBytes("zv1", s), { rx: 1000, tx: 2000 });
    assert.equal(linkBytes("gone", s), undefined);
    assert.equal(linkBytes("../net/zv1", s), undefined);
  });
});
