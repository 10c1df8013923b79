/**
 * systemd as a zone's init: what it needs from the platform beyond a busybox init.
 * - sys_admin in the zone's user namespace, for the mounts of its services' sandboxing
 *   (PrivateTmp, ProtectSystem, ...); granted only together with the locked masks of
 *   masks.ts, so the zone's root cannot lift them with it.
 * - a cgroup tree it may write: on a v1 host the zone's group in the `name=systemd`
 *   hierarchy (systemd then runs in legacy mode, its own hierarchy only); on a hybrid
 *   host that group and also the zone's group of the unified hierarchy at
 *   /sys/fs/cgroup/unified (hybrid mode: without it systemd in a container never
 *   learns that a unit's group emptied, and a unit whose last process exits after its
 *   main one — user@.service's sd-pam at shutdown — waits out its stop timeout); on
 *   pure v2 the zone's delegated group, seen through the cgroup namespace.
 * - /run/lock and /tmp as tmpfs, mounted before it starts (it may not mount them on
 *   top of locked mounts the zone cannot see under).
 * Keyed on the init being systemd (its path's last word), or a brand saying so: the
 * decision only widens what the zone gets in the ways masks.ts makes safe, so an init
 * that merely looks like systemd gains nothing it could abuse.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { OciMount, OciProcess, OciSpec } from "./oci/spec.js";
import { helperMount, lockTrees, type LockedTree } from "./masks.js";
import { ensureBusyboxTree } from "./brands/minimal.js";
import { ZoneRoot } from "./zonefs.js";
import { ZoneError } from "../native/errors.js";
import { errnoText, sys } from "../native/sys.js";

/** Does `init` (the zone's init argv) run systemd? */
export function isSystemdInit(init: readonly string[], brandSays = false): boolean {
  if (brandSays) return true;
  const exe = init[0] ?? "";
  return path.posix.basename(exe) === "systemd";
}

/** The capability systemd needs for its services' mount namespaces. */
const SYSTEMD_CAPS = ["CAP_SYS_ADMIN"];

/** Add systemd's capabilities to a process (init or a zlogin template), in place. */
export function grantSystemdCaps(p: OciProcess): void {
  const c = p.capabilities;
  if (!c) return;
  for (const set of [c.bounding, c.effective, c.permitted]) for (const cap of SYSTEMD_CAPS) if (!set.includes(cap)) set.push(cap);
}

/** Where a v1 host mounts the `name=systemd` hierarchy. */
export const SYSTEMD_HIERARCHY = "/sys/fs/cgroup/systemd";

/** Where a hybrid host mounts the unified (cgroup v2) hierarchy beside the v1 ones. */
export const UNIFIED_HIERARCHY = "/sys/fs/cgroup/unified";
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Is the host hybrid: a cgroup2 mount at /sys/fs/cgroup/unified (a statfs, no mountinfo read)? */
export function hybridUnified(): boolean {
  try {
    return fs.statfsSync(UNIFIED_HIERARCHY).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** The zone's group in systemd's cgroup tree on the host: name=systemd (v1) or the unified root (v2). */
export function zoneSystemdCgroup(cgroupsPath: string, v2: boolean): string {
  return path.join(v2 ? "/sys/fs/cgroup" : SYSTEMD_HIERARCHY, cgroupsPath);
}

/** The tmpfs mounts systemd needs before it starts, for the spec's mount list. */
export function systemdMounts(): OciMount[] {
  const tmp = (destination: string, mode: string, extra: string[]): OciMount => ({ destination, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", `mode=${mode}`, ...extra] });
  return [tmp("/run/lock", "1777", ["noexec", "size=5120k"]), tmp("/tmp", "1777", ["size=25%"])];
}

/**
 * systemd's cgroup tree, below the zone's locked /sys (masks.ts): on v1 a tmpfs at
 * /sys/fs/cgroup and the zone's name=systemd group bound writable in it; on v2 the
 * zone's group bound at /sys/fs/cgroup (what the cgroup namespace shows as its root).
 */
export function cgroupMounts(cgroupsPath: string, v2: boolean, hybrid = !v2 && hybridUnified()): OciMount[] {
  const group = zoneSystemdCgroup(cgroupsPath, v2);
  if (v2) return [{ destination: "/sys/fs/cgroup", type: "bind", source: group, options: ["rw"] }];
  return [
    { destination: "/sys/fs/cgroup", type: "tmpfs", source: "tmpfs", options: ["mode=755", "size=64k"] },
    { destination: SYSTEMD_HIERARCHY, type: "bind", source: group, options: ["rw"] },
    // The runtime puts the zone in the unified hierarchy too (0::/<cgroupsPath>).
    ...(hybrid ? [{ destination: UNIFIED_HIERARCHY, type: "bind", source: path.join(UNIFIED_HIERARCHY, cgroupsPath), options: ["rw"] }] : []),
  ];
}

/** Edit a zone's spec and zlogin template for a systemd init, in place. */
export function systemdSpec(spec: OciSpec, template: OciProcess): void {
  grantSystemdCaps(spec.process);
  grantSystemdCaps(template);
  // The minimal brand's copy of the host's static busybox, made now on a host that has none yet.
  spec.mounts.push(...systemdMounts(), helperMount(path.join(ensureBusyboxTree(), "busybox")));
}

/** The zone's /proc and /sys as masks.ts builds them: the spec's binds below each, and systemd's cgroups. */
export function lockedTrees(spec: OciSpec, v2: boolean): LockedTree[] {
  const under = (dir: string): OciMount[] => spec.mounts.filter((m) => m.type === "bind" && m.destination.startsWith(`/${dir}/`));
  return [
    { dir: "proc", mounts: under("proc") },
    { dir: "sys", mounts: [...cgroupMounts(spec.linux.cgroupsPath, v2), ...under("sys")] },
  ];
}

/** Files of a v2 group its delegate must own (cgroup-v2.rst, "Delegation Containment"). */
const V2_DELEGATED = ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"];

/**
 * Hand the zone's group in systemd's tree to the zone's root (host uid `base`), after
 * the runtime made it and before init starts: systemd makes its own groups below.
 * v1: the directory and its files (tasks, cgroup.procs, ...); v2: the directory and
 * the delegation files only, so the limits on the group stay the host's.
 */
export function delegateCgroup(cgroupsPath: string, v2: boolean, base: number, hybrid = !v2 && hybridUnified()): void {
  chownGroup(zoneSystemdCgroup(cgroupsPath, v2), v2, base);
  // Hybrid: the unified group is delegated as on v2 (it holds no controller here: they are all v1's).
  if (hybrid) chownGroup(path.join(UNIFIED_HIERARCHY, cgroupsPath), true, base);
}

function chownGroup(dir: string, v2: boolean, base: number): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  try {
    fs.fchownSync(fd, base, base);
  } finally {
    fs.closeSync(fd);
  }
  // Fresh group made by the runtime: its files are the kernel's, no link among them.
  const files = v2 ? V2_DELEGATED : fs.readdirSync(dir).filter((f) => !fs.lstatSync(path.join(dir, f)).isDirectory());
  for (const f of files) fs.lchownSync(path.join(dir, f), base, base);
}

/** masks.ts steps 2 and 3 for a created zone. */
export function lockZoneTrees(root: string, pid: number, runDir: string, trees: readonly LockedTree[]): void {
  const zr = ZoneRoot.open(root);
  try {
    lockTrees(zr, pid, runDir, trees);
  } finally {
    zr.close();
  }
}

const SYS_IOCTL = 16;
const TIOCGPTPEER = 0x5441;
const O_RDWR = 2;
const O_NOCTTY = 0o400;

/**
 * A slave descriptor of the zone's console pty, for its holder to keep open. systemd
 * keeps no descriptor of /dev/console (its stdio is /dev/null): it opens the console
 * for each message, and between two of them no slave is open, so a read of the master
 * fails with EIO and zoneadmd's reader stops, losing the boot messages. Opened from
 * the master itself (TIOCGPTPEER), never through a path of the zone's /dev.
 */
export function consolePeer(master: number): number {
  const s = sys();
  const fd = Number(s.syscall(SYS_IOCTL, "int", master, "ulong", TIOCGPTPEER, "int", O_RDWR | O_NOCTTY));
  if (fd < 0) throw new ZoneError(`zone console: cannot open the pty's slave: ${errnoText(s.errno())}`);
  return fd;
}
