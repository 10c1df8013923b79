/**
 * What a zone's processes may do beyond their user namespace: the capability bounding
 * set (from limitpriv), a seccomp filter, and the /proc and /sys paths hidden or made
 * read-only. Pure data for the OCI spec builder (oci/spec.ts); no I/O.
 *
 * A zone is a whole system whose own init, su, sudo and passwd must work, so zone
 * processes run without no_new_privs: containment comes from the user namespace (zone
 * uid 0 is an unprivileged host uid), the bounding set below and the seccomp filter.
 */
import { ALL_CAPABILITIES, resolveLimitpriv } from "../document/capabilities.js";

// ---------------------------------------------------------------------------------------
// Capabilities

/** Added to exclusive-IP zones, which configure their own links, addresses, routes and
 *  firewall inside their own network namespace (illumos grants sys_ip_config there). */
const EXCLUSIVE_IP_CAPABILITIES = ["net_admin", "net_raw"] as const;

/**
 * The zone's capability set in OCI names ("CAP_CHOWN", ...), in kernel order: what
 * limitpriv grants (resolveLimitpriv throws ZoneError on a bad value), plus net_admin
 * and net_raw for an exclusive-IP zone unless limitpriv's last word on them removes
 * them ("default,-net_raw").
 */
export function ociCapabilities(limitpriv: string, ipType: "shared" | "exclusive"): string[] {
  const caps = new Set<string>(resolveLimitpriv(limitpriv));
  if (ipType === "exclusive")
    for (const c of EXCLUSIVE_IP_CAPABILITIES) if (lastMention(limitpriv, c) !== "remove") caps.add(c);
  return ALL_CAPABILITIES.filter((c) => caps.has(c)).map((c) => `CAP_${c.toUpperCase()}`);
}

/** Whether limitpriv's last entry naming `cap` adds or removes it (the value is already valid). */
function lastMention(limitpriv: string, cap: string): "add" | "remove" | undefined {
  let last: "add" | "remove" | undefined;
  for (const raw of limitpriv.split(",")) {
    const item = raw.trim().toLowerCase();
    const remove = item.startsWith("-") || item.startsWith("!");
    const name = remove ? item.slice(1) : item;
    if ((name.startsWith("cap_") ? name.slice(4) : name) === cap) last = remove ? "remove" : "add";
  }
  return last;
}

// ---------------------------------------------------------------------------------------
// Seccomp: the subset of the OCI runtime spec's LinuxSeccomp that zones use

export type SeccompAction = "SCMP_ACT_ALLOW" | "SCMP_ACT_ERRNO" | "SCMP_ACT_KILL_PROCESS" | "SCMP_ACT_LOG";

export type SeccompArch = "SCMP_ARCH_X86_64" | "SCMP_ARCH_X86" | "SCMP_ARCH_X32" | "SCMP_ARCH_AARCH64" | "SCMP_ARCH_ARM";

export type SeccompOperator =
  | "SCMP_CMP_NE" | "SCMP_CMP_LT" | "SCMP_CMP_LE" | "SCMP_CMP_EQ" | "SCMP_CMP_GE" | "SCMP_CMP_GT" | "SCMP_CMP_MASKED_EQ";

/**
 * One comparison of a syscall argument. For SCMP_CMP_MASKED_EQ the test is
 * `(arg & value) == valueTwo`. Values stay below 2^53 so that JSON carries them exactly.
 */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

/**
 * A rule for some syscalls. runc 1.1 and crun 1.8 AND the comparisons of one rule when
 * they name different arguments, but split a rule that compares the same argument twice
 * into one rule per comparison (OR), and crun reads at most 6 comparisons: so every rule
 * here compares each argument at most once.
 */
export interface SeccompSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  architectures: SeccompArch[];
  syscalls: SeccompSyscall[];
}

const EPERM = 1;

/**
 * Denied with EPERM, by group. Everything not listed is allowed: a zone runs a whole
 * distribution, and its user namespace plus the bounding set already keep it from the
 * machine; this list removes kernel attack surface and the classic escape tools even
 * where a kernel bug or a granted capability would otherwise let a call through.
 * Deliberately allowed: reboot (in a pid namespace it only ends the zone), mount,
 * umount2, pivot_root, mount_setattr, setns, ptrace and process_vm_readv/writev (they
 * act inside the zone's own namespaces); unshare and clone except for the namespaces
 * of namespaceRules().
 * Every name is known to libseccomp 2.5.4 (runc and crun skip unknown names, with a
 * warning); a name absent on one architecture (vm86 off i386, say) is skipped there.
 */
export const DENIED_SYSCALL_GROUPS: Readonly<Record<string, readonly string[]>> = {
  // Loading code into the running kernel, or replacing the kernel: modules and kexec.
  kernelCode: [
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "create_module", "query_module", "get_kernel_syms",
  ],
  // Programs and probes run by the kernel itself, and views into kernel-global
  // activity: eBPF, perf events (a long record of kernel exploits and address leaks),
  // the oprofile dcookie lookup, the kernel log ring (dmesg shows the host's log), and
  // fanotify, which watches whole mounts and file systems.
  kernelObservation: ["bpf", "perf_event_open", "lookup_dcookie", "syslog", "fanotify_init"],
  // Exploit aids: userfaultfd holds a kernel thread at a page fault of its choosing,
  // turning races into reliable exploits; kcmp orders kernel objects by address;
  // io_uring has been the source of many kernel exploits and no zone service needs it.
  exploitAids: ["userfaultfd", "kcmp", "io_uring_setup", "io_uring_enter", "io_uring_register"],
  // The kernel keyring is not namespaced: keys, and key quotas, are shared with the host.
  keyring: ["keyctl", "add_key", "request_key"],
  // File handles open any inode of a file system by number, past the zone's root and
  // mount tree (the "shocker" escape). Making a handle (name_to_handle_at) stays
  // allowed: systemd and mount tools use it, and it opens nothing.
  fileHandles: ["open_by_handle_at"],
  // One clock serves every zone and the host (including the 32-bit time64 variants).
  // adjtimex and clock_adjtime stay allowed: read-only uses (ntp_gettime, timedatectl)
  // need them, and the kernel refuses their changes outside the host's user namespace.
  clock: ["settimeofday", "clock_settime", "clock_settime64", "stime"],
  // Machine-wide resources: swap devices, process accounting, disk quotas.
  machine: ["swapon", "swapoff", "acct", "quotactl", "quotactl_fd"],
  // Obsolete interfaces kept only for old binaries, each a past source of kernel bugs
  // and none needed by a modern system: nfsservctl, uselib (a.out), ustat, sysfs,
  // _sysctl.
  obsolete: ["nfsservctl", "uselib", "ustat", "sysfs", "_sysctl"],
  // Direct hardware access: I/O ports and virtual-8086 mode (i386).
  hardware: ["iopl", "ioperm", "vm86", "vm86old"],
};

/** Every denied name, once. */
export const DENIED_SYSCALLS: readonly string[] = Object.values(DENIED_SYSCALL_GROUPS).flat();

/**
 * personality(2) values a zone may set: PER_LINUX (0), PER_LINUX32 (0x8, `linux32`),
 * UNAME26 (0x20000) and their union, and 0xffffffff, which only reads the current
 * persona. Every other value is refused: the remaining flags (ADDR_NO_RANDOMIZE,
 * READ_IMPLIES_EXEC, MMAP_PAGE_ZERO, ADDR_LIMIT_*, ...) switch off ASLR or NX-style
 * protections that kernel exploits rely on being there.
 */
export const PERSONALITY_ALLOWED: readonly number[] = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** The persona bits that may be combined freely: PER_LINUX32 | UNAME26. */
const PERSONA_FREE_BITS = 0x8 | 0x20000;
const PERSONALITY_QUERY = 0xffffffff;

/**
 * Rules that refuse personality(x) for every x outside PERSONALITY_ALLOWED.
 *
 * With an allow-by-default filter, "allow only these values" must be written as deny
 * rules, each testing argument 0 once (see SeccompSyscall), which the runtime ORs:
 *   - x > 0xffffffff;
 *   - x has a bit outside PER_LINUX32|UNAME26 set but is not 0xffffffff. Going round the
 *     30 other bits b0..b29 in a cycle, "b(k) set and b(k+1) clear" for each k covers
 *     every such x except those with all 30 set; "b0 set and PER_LINUX32 clear" and
 *     "b0 set and UNAME26 clear" cover those, short of 0xffffffff itself.
 * None of these matches an allowed value: each needs a bit outside PER_LINUX32|UNAME26
 * set and some bit clear. 33 rules, each one masked comparison.
 */
function personalityRules(): SeccompSyscall[] {
  const bit = (n: number): number => 2 ** n; // 1 << 31 would be negative
  const free: number[] = [];
  for (let n = 0; n < 32; n++) if ((bit(n) & PERSONA_FREE_BITS) === 0) free.push(bit(n));
  const persona: number[] = [];
  for (let n = 0; n < 32; n++) if ((bit(n) & PERSONA_FREE_BITS) !== 0) persona.push(bit(n));
  const first = free[0] as number;
  const masked = (set: number, clear: number): SeccompArg => ({ index: 0, op: "SCMP_CMP_MASKED_EQ", value: set + clear, valueTwo: set });
  const args: SeccompArg[] = [
    { index: 0, op: "SCMP_CMP_GT", value: PERSONALITY_QUERY },
    ...free.map((b, k) => masked(b, free[(k + 1) % free.length] as number)),
    ...persona.map((p) => masked(first, p)),
  ];
  return args.map((a) => ({ names: ["personality"], action: "SCMP_ACT_ERRNO", errnoRet: EPERM, args: [a] }));
}

const ENOSYS = 38;
const EAFNOSUPPORT = 97;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const AF_VSOCK = 40;

/**
 * Namespaces a zone may not make, so that its limits hold for every process in it:
 * a new IPC namespace starts with fresh IPC limits that zipcs does not see (always
 * refused, nesting or not: nested containers share the zone's IPC namespace), and a
 * new user namespace holds every capability over what it makes (refused unless the
 * zone is configured with nesting). clone's flags are argument 0 on every listed
 * architecture (s390, where they are argument 1, is not listed). clone3 passes its
 * flags in memory the filter cannot read, so it is refused with ENOSYS: glibc's
 * pthread_create and posix_spawn then fall back to clone, as under Docker's profile.
 */
function namespaceRules(nesting: boolean): SeccompSyscall[] {
  const flag = (f: number): SeccompArg[] => [{ index: 0, op: "SCMP_CMP_MASKED_EQ", value: f, valueTwo: f }];
  const refused = nesting ? [CLONE_NEWIPC] : [CLONE_NEWIPC, CLONE_NEWUSER];
  return [
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
    ...refused.map((f): SeccompSyscall => ({ names: ["unshare", "clone"], action: "SCMP_ACT_ERRNO", errnoRet: EPERM, args: flag(f) })),
  ];
}

/**
 * The architectures of the filter. SCMP_ARCH_X86 (i386) is left out: there socket()
 * is multiplexed through socketcall(2), whose arguments lie in memory, and libseccomp
 * 2.5.4 (runc 1.1's) turns the AF_VSOCK rule below into a denial of every
 * socketcall(SYS_SOCKET), so all 32-bit sockets would fail; without it, i386 programs
 * are refused outright (the filter's bad-architecture action), which also removes the
 * 32-bit compat syscall layer from a zone's reach.
 */
export const SECCOMP_ARCHITECTURES: readonly SeccompArch[] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"];

/** The seccomp filter of every process of a zone; `nesting`: its zonecfg property. */
export function seccompProfile(zone: { nesting: boolean } = { nesting: false }): LinuxSeccomp {
  return {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: [...SECCOMP_ARCHITECTURES],
    syscalls: [
      { names: [...DENIED_SYSCALLS], action: "SCMP_ACT_ERRNO", errnoRet: EPERM },
      ...personalityRules(),
      ...namespaceRules(zone.nesting),
      // vsock ports belong to the whole machine, not to a network namespace: a zone
      // holding one would take it from the host (and it reaches the hypervisor).
      { names: ["socket"], action: "SCMP_ACT_ERRNO", errnoRet: EAFNOSUPPORT, args: [{ index: 0, op: "SCMP_CMP_EQ", value: AF_VSOCK }] },
    ],
  };
}

// ---------------------------------------------------------------------------------------
// /proc and /sys

/**
 * Hidden from the zone (the runtime mounts an empty file or directory over them): the
 * kernel's memory image, the kernel keyring of the whole machine, timer and scheduler
 * internals that leak kernel addresses and other zones' activity, and firmware and
 * hardware views (ACPI, sound, SCSI, power capping) that belong to the host.
 */
export const MASKED_PATHS: readonly string[] = [
  "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
  "/sys/firmware", "/sys/devices/virtual/powercap",
];

/**
 * Visible but read-only: kernel tunables (/proc/sys, core_pattern among them), the
 * magic SysRq trigger, and bus, file-system and IRQ settings of the machine.
 */
export const READONLY_PATHS: readonly string[] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
