/**
 * A zone's privileges: its capability set and its masked and read-only /proc and /sys
 * paths (src/platform/security.ts). Its seccomp filter is tested in seccomp.test.ts (the
 * profile as data) and libseccomp.test.ts (the profile as runc and crun build it).
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { ZoneError } from "../../src/native/errors.js";
import { MASKED_PATHS, READONLY_PATHS, ociCapabilities } from "../../src/platform/security.js";

// ---------------------------------------------------------------------------------------
// Capabilities

const NEVER = ["CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_TIME", "CAP_DAC_READ_SEARCH", "CAP_BPF", "CAP_PERFMON", "CAP_SYSLOG"];

/** Kernel numbers of the capabilities the tests look at (linux/capability.h). */
const CAP_NUMBER: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5,
  CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36, CAP_AUDIT_READ: 37, CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

describe("ociCapabilities", () => {
  test("the default set runs a whole system: init, su, sudo, passwd, reboot", () => {
    const caps = ociCapabilities("default", "shared");
    for (const c of ["CAP_SYS_BOOT", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_SETFCAP"])
      assert.ok(caps.includes(c), c);
  });

  test("the default set leaves out sys_admin (capabilities.ts: masks would not hold), and limitpriv grants it", () => {
    assert.ok(!ociCapabilities("default", "shared").includes("CAP_SYS_ADMIN"));
    assert.ok(ociCapabilities("default,sys_admin", "shared").includes("CAP_SYS_ADMIN"));
    assert.ok(!ociCapabilities("default,sys_admin,-sys_admin", "shared").includes("CAP_SYS_ADMIN"));
    assert.ok(!ociCapabilities("default,-sys_admin", "shared").includes("CAP_SYS_ADMIN"));
    assert.deepEqual(ociCapabilities("default,-sys_admin", "shared"), ociCapabilities("default", "shared"));
  });

  test("an empty limitpriv is the default set", () => {
    assert.deepEqual(ociCapabilities("", "shared"), ociCapabilities("default", "shared"));
  });

  test("never the capabilities that reach the whole machine, for either ip-type", () => {
    for (const ip of ["shared", "exclusive"] as const) {
      const caps = ociCapabilities("default", ip);
      for (const c of NEVER) assert.ok(!caps.includes(c), `${ip}: ${c}`);
    }
  });

  test("OCI names, each once, in kernel order", () => {
    for (const lp of ["default", "default,sys_time,sys_admin,cap_net_raw", "chown,setuid,kill"]) {
      const caps = ociCapabilities(lp, "exclusive");
      for (const c of caps) assert.match(c, /^CAP_[A-Z_]+$/);
      assert.equal(new Set(caps).size, caps.length);
      const numbers = caps.map((c) => CAP_NUMBER[c]);
      for (const n of numbers) assert.equal(typeof n, "number");
      assert.deepEqual(numbers, [...numbers].sort((a, b) => (a as number) - (b as number)), lp);
    }
  });

  test("exclusive-IP zones get net_admin and net_raw; shared-IP zones do not", () => {
    const shared = ociCapabilities("default", "shared");
    const exclusive = ociCapabilities("default", "exclusive");
    for (const c of ["CAP_NET_ADMIN", "CAP_NET_RAW"]) {
      assert.ok(!shared.includes(c), `shared ${c}`);
      assert.ok(exclusive.includes(c), `exclusive ${c}`);
    }
    assert.deepEqual(exclusive.filter((c) => !shared.includes(c)), ["CAP_NET_ADMIN", "CAP_NET_RAW"]);
  });

  test("limitpriv's removal of a network capability holds in an exclusive-IP zone", () => {
    const caps = ociCapabilities("default,-net_raw", "exclusive");
    assert.ok(caps.includes("CAP_NET_ADMIN"));
    assert.ok(!caps.includes("CAP_NET_RAW"));
    assert.ok(!ociCapabilities("default,!cap_net_admin", "exclusive").includes("CAP_NET_ADMIN"));
    assert.ok(ociCapabilities("default,-net_raw,net_raw", "exclusive").includes("CAP_NET_RAW"));
  });

  test("limitpriv adds and removes: default,sys_time adds CAP_SYS_TIME", () => {
    assert.ok(ociCapabilities("default,sys_time", "shared").includes("CAP_SYS_TIME"));
    assert.ok(ociCapabilities("default,cap_sys_time", "shared").includes("CAP_SYS_TIME"));
    assert.ok(!ociCapabilities("default,-setuid", "shared").includes("CAP_SETUID"));
  });

  test("sys_module and sys_rawio are never granted; bad names are refused", () => {
    assert.throws(() => ociCapabilities("default,sys_module", "shared"), ZoneError);
    assert.throws(() => ociCapabilities("default,sys_rawio", "exclusive"), ZoneError);
    assert.throws(() => ociCapabilities("default,no_such_cap", "shared"), ZoneError);
  });
});

describe("masked and read-only paths", () => {
  test("the kernel's memory, keys, timers and firmware are masked", () => {
    for (const p of ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"])
      assert.ok(MASKED_PATHS.includes(p), p);
    // Read by ordinary tools (top, irqbalance): visible.
    assert.ok(!MASKED_PATHS.includes("/proc/interrupts"));
  });

  test("kernel tunables and sysrq are read-only", () => {
    assert.deepEqual([...READONLY_PATHS].sort(), ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]);
  });

  test("absolute, each once, and never both masked and read-only", () => {
    for (const list of [MASKED_PATHS, READONLY_PATHS]) {
      assert.equal(new Set(list).size, list.length);
      for (const p of list) assert.equal(path.posix.normalize(p), p);
      for (const p of list) assert.ok(p.startsWith("/proc/") || p.startsWith("/sys/"), p);
    }
    for (const p of MASKED_PATHS) assert.ok(!READONLY_PATHS.includes(p), p);
  });
});
