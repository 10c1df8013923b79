/**
 * What the seccomp tests share (seccomp and libseccomp .test.ts): the probe syscalls
 * the filter must deny, the errno it denies with, and every name a profile mentions.
 */
import type { LinuxSeccomp } from "../../src/platform/security.js";

/** The probes of shared/reference/linux-notes.md that seccomp answers with EPERM. */
export const PROBE_SYSCALLS = ["settimeofday", "swapon", "kexec_load", "bpf", "perf_event_open", "userfaultfd", "keyctl", "open_by_handle_at", "init_module"];
export const EPERM = 1;

/** Every syscall name the profile mentions, with repeats. */
export function allNames(p: LinuxSeccomp): string[] {
  return p.syscalls.flatMap((s) => s.names);
}
