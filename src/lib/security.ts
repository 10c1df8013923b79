/**
 * What a zone's processes may do beyond their user namespace: the capability bounding
 * set (from limitpriv), a seccomp filter, and the /proc and /sys paths hidden or made
 * read-only. A zone is a whole system whose su and passwd must work, so containment
 * comes from these and the user namespace, never from no_new_privs.
 */
import { ALL_CAPABILITIES, resolveLimitpriv } from "./capabilities.js";

export interface SeccompArg {
  index: number;
  value: number;
  op: "SCMP_CMP_EQ" | "SCMP_CMP_NE" | "SCMP_CMP_MASKED_EQ";
  valueTwo?: number;
}

export interface SeccompSyscall {
  names: string[];
  action: "SCMP_ACT_ALLOW" | "SCMP_ACT_ERRNO";
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: "SCMP_ACT_ALLOW" | "SCMP_ACT_ERRNO";
  architectures: string[];
  syscalls: SeccompSyscall[];
}

const EPERM = 1;

/** The zone's capabilities in OCI names, kernel order; exclusive-IP zones administer their own links. */
export function ociCapabilities(limitpriv: string, ipType: "shared" | "exclusive"): string[] {
  const caps = new Set(resolveLimitpriv(limitpriv));
  if (ipType === "exclusive") for (const c of ["net_admin", "net_raw"]) caps.add(c);
  return ALL_CAPABILITIES.filter((c) => caps.has(c)).map((c) => `CAP_${c.toUpperCase()}`);
}

/** Denied with EPERM, grouped by why. Everything else is allowed. */
const DENIED: Record<string, string[]> = {
  // Loading code into the kernel or replacing it.
  kernel: ["kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module", "query_module", "get_kernel_syms"],
  // Kernel-global observation and programmability.
  tracing: ["bpf", "perf_event_open", "lookup_dcookie", "syslog", "fanotify_init"],
  // The machine's clock is shared by every zone.
  clock: ["settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime"],
  // Swap, accounting and quotas are host-wide.
  host: ["swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "nfsservctl", "sysfs", "_sysctl", "ustat", "uselib"],
  // The kernel keyring is not namespaced.
  keys: ["keyctl", "add_key", "request_key"],
  // File handles bypass the mount tree (the "shocker" escape).
  handles: ["open_by_handle_at", "name_to_handle_at"],
  // userfaultfd turns kernel races into reliable exploits; kcmp and port access leak or poke the host.
  exploitAids: ["userfaultfd", "kcmp", "iopl", "ioperm", "vm86", "vm86old"],
};

export function seccompProfile(): LinuxSeccomp {
  return {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
    syscalls: [
      { names: Object.values(DENIED).flat(), action: "SCMP_ACT_ERRNO", errnoRet: EPERM },
    ],
  };
}

/** Hidden from the zone (an empty file or directory is mounted over them). */
export const MASKED_PATHS: readonly string[] = [
  "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
];

/** Visible but read-only. */
export const READONLY_PATHS: readonly string[] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
