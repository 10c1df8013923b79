/**
 * A zone's seccomp filter as data (src/platform/security.ts seccompProfile): what it
 * denies, with which errno, and what a zone still needs to be a whole system.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { seccompProfile, type LinuxSeccomp, type SeccompArg, type SeccompSyscall } from "../../src/platform/security.js";
import { allNames, EPERM, PROBE_SYSCALLS } from "./seccompsupport.js";

// ---------------------------------------------------------------------------------------
// Seccomp: the profile as data

/** What a zone needs to be a whole system; these act inside its own namespaces. */
const ZONE_SYSCALLS = ["reboot", "mount", "umount2", "pivot_root", "setns", "ptrace", "process_vm_readv", "process_vm_writev", "mount_setattr", "sethostname"];
const CLONE_NEWNS = 0x20000n;
const CLONE_NEWIPC = 0x08000000n;
const CLONE_NEWUSER = 0x10000000n;
const SIGCHLD = 17n;
const PERSONALITY_OK = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

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
