/**
 * A zone's seccomp filter checked against libseccomp, the library runc and crun build it
 * with: every name must resolve, the profile must compile for every listed architecture,
 * and a child process running under it must see the denials.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { seccompProfile, type LinuxSeccomp, type SeccompArg } from "../../src/platform/security.js";
import { allNames, EPERM, PROBE_SYSCALLS } from "./seccompsupport.js";

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
