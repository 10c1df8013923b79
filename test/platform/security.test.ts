/**
 * A zone's privileges: its capability set, its seccomp filter and its masked and
 * read-only /proc and /sys paths (src/platform/security.ts). Besides the data itself, the
 * filter is checked against libseccomp, the library runc and crun build it with: every
 * name must resolve, the profile must compile for every listed architecture, and a
 * child process running under it must see the denials.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { ZoneError } from "../../src/native/errors.js";
import {
  MASKED_PATHS, READONLY_PATHS, ociCapabilities, seccompProfile,
  type LinuxSeccomp, type SeccompArg, type SeccompSyscall,
} from "../../src/platform/security.js";

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

// ---------------------------------------------------------------------------------------
// Seccomp: the profile as data

/** The probes of shared/reference/linux-notes.md that seccomp answers with EPERM. */
const PROBE_SYSCALLS = ["settimeofday", "swapon", "kexec_load", "bpf", "perf_event_open", "userfaultfd", "keyctl", "open_by_handle_at", "init_module"];
/** What a zone needs to be a whole system; these act inside its own namespaces. */
const ZONE_SYSCALLS = ["reboot", "mount", "umount2", "pivot_root", "setns", "ptrace", "process_vm_readv", "process_vm_writev", "mount_setattr", "sethostname"];
const CLONE_NEWNS = 0x20000n;
const CLONE_NEWIPC = 0x08000000n;
const CLONE_NEWUSER = 0x10000000n;
const SIGCHLD = 17n;
const PERSONALITY_OK = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];
const EPERM = 1;

/** Whether the runtime's filter answers `name(args)` with an error: runc 1.1 and crun 1.8
 *  AND the comparisons of a rule unless one argument is compared twice, then OR them. */
function denies(profile: LinuxSeccomp, name: string, args: readonly bigint[]): SeccompSyscall | undefined {
  const matches = (a: SeccompArg): boolean => {
    const x = args[a.index] ?? 0n;
    const v = BigInt(a.value);
    switch (a.op) {
      case "SCMP_CMP_EQ": return x === v;
      case "SCMP_CMP_NE": return x !== v;
      case "SCMP_CMP_LT": return x < v;
      case "SCMP_CMP_LE": return x <= v;
      case "SCMP_CMP_GT": return x > v;
      case "SCMP_CMP_GE": return x >= v;
      case "SCMP_CMP_MASKED_EQ": return (x & v) === BigInt(a.valueTwo ?? 0);
    }
  };
  for (const rule of profile.syscalls) {
    if (!rule.names.includes(name) || rule.action === profile.defaultAction) continue;
    const conds = rule.args ?? [];
    const repeated = new Set(conds.map((c) => c.index)).size !== conds.length;
    if (conds.length === 0 || (repeated ? conds.some(matches) : conds.every(matches))) return rule;
  }
  return undefined;
}

/** Every syscall name the profile mentions, with repeats. */
function allNames(p: LinuxSeccomp): string[] {
  return p.syscalls.flatMap((s) => s.names);
}

describe("seccompProfile", () => {
  const profile = seccompProfile();

  test("allows by default, for four architectures: not i386, where socket() goes through socketcall", () => {
    assert.equal(profile.defaultAction, "SCMP_ACT_ALLOW");
    assert.deepEqual([...profile.architectures].sort(), ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64"]);
  });

  test("each probe syscall is denied outright, with EPERM", () => {
    for (const name of PROBE_SYSCALLS) {
      const rule = profile.syscalls.find((s) => s.names.includes(name));
      assert.ok(rule, name);
      assert.equal(rule.action, "SCMP_ACT_ERRNO", name);
      assert.equal(rule.errnoRet, EPERM, name);
      assert.equal(rule.args, undefined, `${name} is denied whatever its arguments`);
    }
  });

  test("reboot, mount, setns, ptrace and the other calls a zone needs are not filtered", () => {
    const named = new Set(allNames(profile));
    for (const name of ZONE_SYSCALLS) assert.ok(!named.has(name), name);
  });

  test("every rule denies with EPERM, but clone3 (ENOSYS) and socket (EAFNOSUPPORT); no rule repeats the default action", () => {
    const other: Record<string, number> = { clone3: 38, socket: 97 };
    for (const s of profile.syscalls) {
      assert.equal(s.action, "SCMP_ACT_ERRNO", s.names.join());
      assert.equal(s.errnoRet, other[s.names[0]!] ?? EPERM, s.names.join());
    }
  });

  test("no new user namespace unless nesting, no new IPC namespace ever; other clones pass", () => {
    const nested = seccompProfile({ nesting: true });
    for (const name of ["unshare", "clone"]) {
      for (const p of [profile, nested]) {
        assert.equal(denies(p, name, [CLONE_NEWIPC])?.errnoRet, EPERM, `${name}(CLONE_NEWIPC)`);
        assert.equal(denies(p, name, [CLONE_NEWIPC | CLONE_NEWUSER | SIGCHLD])?.errnoRet, EPERM, `${name}(CLONE_NEWIPC|CLONE_NEWUSER)`);
        assert.equal(denies(p, name, [CLONE_NEWNS | SIGCHLD]), undefined, `${name}(CLONE_NEWNS)`);
        assert.equal(denies(p, name, [0n]), undefined, `${name}(0)`);
      }
      assert.equal(denies(profile, name, [CLONE_NEWUSER | SIGCHLD])?.errnoRet, EPERM, `${name}(CLONE_NEWUSER)`);
      assert.equal(denies(nested, name, [CLONE_NEWUSER | SIGCHLD]), undefined, `${name}(CLONE_NEWUSER) with nesting`);
    }
    for (const p of [profile, nested]) assert.equal(denies(p, "clone3", [0n])?.errnoRet, 38, "clone3: ENOSYS, so that glibc falls back to clone");
  });

  test("socket: AF_VSOCK is refused, every other family passes", () => {
    assert.equal(denies(profile, "socket", [40n, 1n, 0n])?.errnoRet, 97);
    for (const family of [1n, 2n, 10n, 16n, 17n, 41n]) assert.equal(denies(profile, "socket", [family, 1n, 0n]), undefined, String(family));
  });

  test("no syscall name appears twice, except in the argument rules of one syscall", () => {
    const outright = profile.syscalls.filter((s) => !s.args).flatMap((s) => s.names);
    assert.equal(new Set(outright).size, outright.length, "a name denied outright twice");
    const conditional = new Set(profile.syscalls.filter((s) => s.args).flatMap((s) => s.names));
    // clone3 is refused outright with its own errno; it has no argument rules.
    assert.ok(!conditional.has("clone3"));
    for (const n of conditional) assert.ok(!outright.includes(n), `${n} is both denied outright and by its arguments`);
    for (const s of profile.syscalls) assert.equal(new Set(s.names).size, s.names.length);
  });

  test("every name is a syscall identifier", () => {
    for (const n of allNames(profile)) assert.match(n, /^[a-z_][a-z0-9_]*$/);
  });

  test("argument rules compare each argument once, within what JSON and the runtimes carry", () => {
    for (const s of profile.syscalls) {
      const args = s.args ?? [];
      assert.ok(args.length <= 6);
      assert.equal(new Set(args.map((a) => a.index)).size, args.length, "one comparison per argument");
      for (const a of args) {
        assert.ok(Number.isInteger(a.index) && a.index >= 0 && a.index < 6);
        assert.ok(Number.isSafeInteger(a.value) && a.value >= 0, String(a.value));
        if (a.op === "SCMP_CMP_MASKED_EQ") {
          assert.ok(Number.isSafeInteger(a.valueTwo) && (a.valueTwo as number) >= 0);
          assert.equal(Number(BigInt(a.value) & BigInt(a.valueTwo as number)), a.valueTwo, "valueTwo lies inside the mask");
        }
      }
    }
    // A plain JSON round trip keeps every number.
    assert.deepEqual(JSON.parse(JSON.stringify(profile)), profile);
  });

  test("the probe syscalls are denied whatever their arguments; reboot, unshare(0) and clone(0) are not", () => {
    for (const n of PROBE_SYSCALLS) assert.ok(denies(profile, n, [0n, 1n, 0xffffffffn]), n);
    for (const n of [...ZONE_SYSCALLS, "unshare", "clone"]) assert.equal(denies(profile, n, [0n]), undefined, n);
  });

  test("personality: the five safe values pass, every other value is denied", () => {
    for (const v of PERSONALITY_OK) assert.equal(denies(profile, "personality", [BigInt(v)]), undefined, v.toString(16));
    const ok = new Set(PERSONALITY_OK.map(BigInt));
    const check = (x: bigint): void => {
      if (ok.has(x)) return;
      assert.ok(denies(profile, "personality", [x]), `personality(0x${x.toString(16)}) must be denied`);
    };
    // The flags that weaken a process: ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO, ADDR_COMPAT_LAYOUT,
    // READ_IMPLIES_EXEC, ADDR_LIMIT_32BIT, ADDR_LIMIT_3GB; alone and with the safe bits.
    for (const f of [0x40000n, 0x100000n, 0x200000n, 0x400000n, 0x800000n, 0x8000000n])
      for (const base of [0n, 0x8n, 0x20000n, 0x20008n]) check(f | base);
    for (let n = 0n; n < 64n; n++) {
      check(1n << n);
      check((1n << n) | 0x20008n);
      check(0xffffffffn ^ (n < 32n ? 1n << n : 0n));
      check(0xffffffffn | (1n << n));
      check(0xffffffffffffffffn ^ (1n << n));
    }
    // Exhaustively around both ends of the 32-bit range, then pseudo-random 32- and 64-bit values.
    for (let x = 0n; x < 0x40000n; x++) check(x);
    for (let x = 0xfffc0000n; x <= 0xffffffffn; x++) check(x);
    let s = 0x9e3779b97f4a7c15n;
    const next = (): bigint => {
      s ^= (s << 13n) & 0xffffffffffffffffn;
      s ^= s >> 7n;
      s ^= (s << 17n) & 0xffffffffffffffffn;
      return s;
    };
    for (let i = 0; i < 20000; i++) {
      const r = next();
      check(r);
      check(r & 0xffffffffn);
      check(r & 0x3ffffn);
    }
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

// ---------------------------------------------------------------------------------------
// Seccomp against libseccomp, the library runc and crun build filters with

/** The part of koffi this file uses. */
interface KoffiLib {
  func(signature: string): (...args: unknown[]) => unknown;
}
interface Koffi {
  load(path: string): KoffiLib;
  struct(name: string, members: Record<string, string>): unknown;
}

const require = createRequire(import.meta.url);
const NR_SCMP_ERROR = -1;
/** The runtime's action codes (seccomp.h) and comparison operators (enum scmp_compare). */
const ACT_ALLOW = 0x7fff0000;
const actErrno = (errno: number): number => 0x00050000 | (errno & 0xffff);
const OPERATORS: Record<SeccompArg["op"], number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};
const SCMP_FLTATR_CTL_OPTIMIZE = 8;
/** The kernel's limit on one classic BPF program (BPF_MAXINSNS). */
const BPF_MAXINSNS = 4096;

interface Libseccomp {
  koffiPath: string;
  resolveArch(arch: string, name: string): number;
  /** Build the filter as runc does; returns its size in BPF instructions. */
  compile(profile: LinuxSeccomp): number;
  /** Build it likewise and return libseccomp's pseudo filter code (PFC) of it. */
  pfc(profile: LinuxSeccomp): string;
}

/** libseccomp.so.2 through koffi, or why it cannot be had. */
function libseccomp(): Libseccomp | string {
  let koffi: Koffi;
  let koffiPath: string;
  try {
    koffiPath = require.resolve("koffi");
    koffi = require("koffi") as Koffi;
  } catch (e) {
    return `koffi is not installed: ${(e as Error).message}`;
  }
  let lib: KoffiLib;
  try {
    lib = koffi.load("libseccomp.so.2");
  } catch (e) {
    return `libseccomp.so.2 cannot be loaded: ${(e as Error).message}`;
  }
  koffi.struct("scmp_arg_cmp", { arg: "uint32", op: "int", datum_a: "uint64", datum_b: "uint64" });
  const archToken = lib.func("uint32_t seccomp_arch_resolve_name(const char *name)");
  const resolveArch = lib.func("int seccomp_syscall_resolve_name_arch(uint32_t arch, const char *name)");
  const resolve = lib.func("int seccomp_syscall_resolve_name(const char *name)");
  const init = lib.func("void *seccomp_init(uint32_t def_action)");
  const release = lib.func("void seccomp_release(void *ctx)");
  const archAdd = lib.func("int seccomp_arch_add(void *ctx, uint32_t arch)");
  const attrSet = lib.func("int seccomp_attr_set(void *ctx, int attr, uint32_t value)");
  const ruleAdd = lib.func("int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int count, const scmp_arg_cmp *args)");
  const exportBpf = lib.func("int seccomp_export_bpf(void *ctx, int fd)");
  const exportPfc = lib.func("int seccomp_export_pfc(void *ctx, int fd)");
  const token = (arch: string): number => {
    const t = archToken(arch.replace(/^SCMP_ARCH_/, "").toLowerCase()) as number;
    if (t === 0) throw new Error(`libseccomp does not know architecture ${arch}`);
    return t;
  };
  const build = (profile: LinuxSeccomp, pfc: boolean): string => {
    const action = (s: { action: string; errnoRet?: number }): number => (s.action === "SCMP_ACT_ALLOW" ? ACT_ALLOW : actErrno(s.errnoRet ?? EPERM));
    const ctx = init(action({ action: profile.defaultAction }));
    assert.ok(ctx, "seccomp_init");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-seccomp-"));
    try {
      for (const a of profile.architectures) {
        const rc = archAdd(ctx, token(a)) as number;
        assert.ok(rc === 0 || rc === -17 /* EEXIST: the native one */, `seccomp_arch_add ${a}: ${rc}`);
      }
      // runc asks for a binary tree above 32 rules.
      if (profile.syscalls.length > 32) assert.equal(attrSet(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2), 0);
      for (const s of profile.syscalls) {
        for (const name of s.names) {
          const nr = resolve(name) as number;
          assert.notEqual(nr, NR_SCMP_ERROR, name);
          const args = (s.args ?? []).map((a) => ({ arg: a.index, op: OPERATORS[a.op], datum_a: a.value, datum_b: a.valueTwo ?? 0 }));
          const rc = ruleAdd(ctx, action(s), nr, args.length, args.length ? args : null) as number;
          assert.equal(rc, 0, `seccomp_rule_add ${name} ${JSON.stringify(s.args ?? [])}`);
        }
      }
      const file = path.join(dir, "filter");
      const fd = fs.openSync(file, "w");
      try {
        assert.equal((pfc ? exportPfc : exportBpf)(ctx, fd), 0, "seccomp_export");
      } finally {
        fs.closeSync(fd);
      }
      return fs.readFileSync(file, "latin1");
    } finally {
      release(ctx);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  return {
    koffiPath,
    resolveArch: (arch, name) => resolveArch(token(arch), name) as number,
    compile: (profile) => build(profile, false).length / 8, // struct sock_filter is 8 bytes
    pfc: (profile) => build(profile, true),
  };
}

/** scmp_sys_resolver (Debian package "seccomp"), if installed: the x86_64 number of a name. */
function resolverTool(): ((name: string) => number) | undefined {
  const probe = spawnSync("scmp_sys_resolver", ["-a", "x86_64", "read"], { encoding: "utf8" });
  if (probe.status !== 0) return undefined;
  return (name) => Number(spawnSync("scmp_sys_resolver", ["-a", "x86_64", name], { encoding: "utf8" }).stdout.trim());
}

/**
 * Runs in a child process: builds the profile's filter with libseccomp as runc and crun
 * do, loads it (libseccomp sets no_new_privs: this is a plain process, not a zone), makes
 * the probe calls and prints the errno of each (0 for success). Every error action
 * answers SENTINEL instead of its errnoRet, so that a denial by the filter is told apart
 * from the kernel's own EPERM to an unprivileged caller.
 */
const CHILD = `
import { createRequire } from "node:module";
const [profileJson, koffiPath, sentinelText, probesJson] = process.argv.slice(1);
const koffi = createRequire(koffiPath)(koffiPath);
const profile = JSON.parse(profileJson);
const SENTINEL = Number(sentinelText);
const lib = koffi.load("libseccomp.so.2");
koffi.struct("scmp_arg_cmp", { arg: "uint32", op: "int", datum_a: "uint64", datum_b: "uint64" });
const init = lib.func("void *seccomp_init(uint32_t def_action)");
const archAdd = lib.func("int seccomp_arch_add(void *ctx, uint32_t arch)");
const archToken = lib.func("uint32_t seccomp_arch_resolve_name(const char *name)");
const resolve = lib.func("int seccomp_syscall_resolve_name(const char *name)");
const ruleAdd = lib.func("int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int count, const scmp_arg_cmp *args)");
const load = lib.func("int seccomp_load(void *ctx)");
const OPS = ${JSON.stringify(OPERATORS)};
const action = (a) => (a === "SCMP_ACT_ALLOW" ? ${ACT_ALLOW} : 0x00050000 | SENTINEL);
const ctx = init(action(profile.defaultAction));
for (const a of profile.architectures) {
  const rc = archAdd(ctx, archToken(a.slice(10).toLowerCase()));
  if (rc < 0 && rc !== -17) throw new Error("seccomp_arch_add " + a + ": " + rc);
}
for (const s of profile.syscalls) {
  if (s.action === profile.defaultAction) continue;
  for (const name of s.names) {
    const args = (s.args ?? []).map((a) => ({ arg: a.index, op: OPS[a.op], datum_a: a.value, datum_b: a.valueTwo ?? 0 }));
    const rc = ruleAdd(ctx, action(s.action), resolve(name), args.length, args.length ? args : null);
    if (rc < 0) throw new Error("seccomp_rule_add " + name + ": " + rc);
  }
}
const rc = load(ctx);
if (rc !== 0) throw new Error("seccomp_load: " + rc);
const syscall = koffi.load("libc.so.6").func("long syscall(long number, ...)");
const out = JSON.parse(probesJson).map(([name, ...args]) => {
  koffi.errno(0);
  const r = syscall(resolve(name), ...args.flatMap((a) => ["long", a]));
  return r === -1 ? koffi.errno() : 0;
});
process.stdout.write(JSON.stringify(out));
`;

/** No Linux errno has this number (the highest is EHWPOISON, 133). */
const SENTINEL = 200;

describe("seccomp profile against libseccomp", () => {
  const lib = libseccomp();
  const profile = seccompProfile();

  test("every syscall name resolves on x86_64", (t) => {
    let resolveX86_64: ((name: string) => number) | undefined;
    if (typeof lib !== "string") resolveX86_64 = (name) => lib.resolveArch("SCMP_ARCH_X86_64", name);
    else resolveX86_64 = resolverTool();
    if (!resolveX86_64) return t.skip(`neither libseccomp through koffi (${lib}) nor scmp_sys_resolver is available`);
    for (const name of new Set(allNames(profile))) assert.notEqual(resolveX86_64(name), NR_SCMP_ERROR, `libseccomp does not know ${name}`);
    // The probes are real system calls there (not libseccomp's negative pseudo numbers).
    for (const name of PROBE_SYSCALLS) assert.ok(resolveX86_64(name) >= 0, name);
  });

  test("every name resolves on each architecture of the profile; the probes exist on the 64-bit ones", (t) => {
    if (typeof lib === "string") return t.skip(lib);
    for (const arch of profile.architectures)
      for (const name of new Set(allNames(profile))) assert.notEqual(lib.resolveArch(arch, name), NR_SCMP_ERROR, `${arch} ${name}`);
    for (const arch of ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"])
      for (const name of PROBE_SYSCALLS) assert.ok(lib.resolveArch(arch, name) >= 0, `${arch} ${name}`);
  });

  test("libseccomp builds the filter for all its architectures, well inside the kernel's size limit", (t) => {
    if (typeof lib === "string") return t.skip(lib);
    const insns = lib.compile(profile);
    assert.ok(insns > 0 && insns < BPF_MAXINSNS / 2, `${insns} BPF instructions`);
  });

  test("why i386 is not listed: there libseccomp makes the AF_VSOCK rule refuse every socketcall(SYS_SOCKET)", (t) => {
    if (typeof lib === "string") return t.skip(lib);
    const withI386: LinuxSeccomp = { ...profile, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"] };
    const code = lib.pfc(withI386);
    // The direct socket call (359) keeps its family test; socketcall (102) only tests its
    // call number, SYS_SOCKET (1): the family lies in memory the filter cannot read.
    assert.match(code, /if \(\$syscall == 359\)\n\s+if \(\$a0 == 40\)\n\s+action ERRNO\(97\);/);
    assert.match(code, /if \(\$syscall == 102\)\n\s+if \(\$a0 == 1\)\n\s+action ERRNO\(97\);/);
    assert.doesNotMatch(lib.pfc(profile), /syscall "socketcall"/, "the profile itself has no socketcall rule");
  });

  test("a process under the filter is refused the probes and bad personalities, and keeps the rest", (t) => {
    if (typeof lib === "string") return t.skip(lib);
    if (process.platform !== "linux") return t.skip("seccomp is Linux only");
    // Arguments that harm nothing even if a call got through: null pointers, bad flags,
    // and an unprivileged caller (nobody) when the tests run as root.
    const denied: Array<[string, ...number[]]> = [
      ["settimeofday", 0, 0], ["clock_settime", 0, 0], ["swapon", 0, 0], ["swapoff", 0], ["io_uring_setup", 0, 0],
      ["kexec_load", 0, 0, 0, 0xffffffff], ["init_module", 0, 0, 0], ["finit_module", -1, 0, 0], ["delete_module", 0, 0],
      ["bpf", -1, 0, 0], ["perf_event_open", 0, 0, -1, -1, 0], ["userfaultfd", 0xffffffff], ["keyctl", -1, 0, 0],
      ["add_key", 0, 0, 0, 0, 0], ["request_key", 0, 0, 0, 0], ["open_by_handle_at", -1, 0, 0],
      ["syslog", 3, 0, 0], ["acct", 0], ["kcmp", 0, 0, 99, 0, 0], ["iopl", 0], ["ioperm", 0, 0, 0], ["quotactl", 0, 0, 0, 0],
      ["personality", 0x40000], ["personality", 0x400000], ["personality", 0x100000], ["personality", 0x1],
      ["personality", 0x20009], ["personality", 0xfffffffe], ["personality", 0xfffffff7], ["personality", 0xfffdffff], ["personality", 0x80000000], ["personality", 0x100000000],
      ["unshare", 0x10000000], ["unshare", 0x08000000], ["clone3", 0, 0], ["socket", 40, 1, 0],
    ];
    const allowed: Array<[string, ...number[]]> = [
      ["getpid"], ["personality", 0xffffffff], ["personality", 0x8], ["personality", 0x20000], ["personality", 0x20008], ["personality", 0x0],
      // Reached the kernel, which refuses them for its own reasons (bad magic, null pointers, no flags).
      ["reboot", 0, 0, 0, 0], ["mount", 0, 0, 0, 0, 0], ["unshare", 0], ["ptrace", -1, 0, 0, 0], ["setns", -1, 0], ["umount2", 0, 0],
      // Read-only clock queries and making (not opening) a file handle.
      ["adjtimex", 0], ["name_to_handle_at", -1, 0, 0, 0, 0],
      // A UNIX socket: only AF_VSOCK is refused.
      ["socket", 1, 1, 0],
    ];
    const probes = [...denied, ...allowed];
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const r = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", CHILD, JSON.stringify(profile), lib.koffiPath, String(SENTINEL), JSON.stringify(probes)],
      { encoding: "utf8", env, timeout: 30_000, ...asNobody },
    );
    assert.equal(r.status, 0, `child failed: ${r.stderr}`);
    const errnos = JSON.parse(r.stdout) as number[];
    assert.equal(errnos.length, probes.length);
    probes.forEach((p, i) => {
      const label = `${p[0]}(${p.slice(1).map((a) => (typeof a === "number" && a > 9 ? "0x" + a.toString(16) : String(a))).join(", ")})`;
      if (i < denied.length) assert.equal(errnos[i], SENTINEL, `${label} must be denied by the filter`);
      else assert.notEqual(errnos[i], SENTINEL, `${label} must reach the kernel`);
    });
  });
});
