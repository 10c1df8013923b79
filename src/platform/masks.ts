/**
 * Masks of a zone's /proc and /sys that its root cannot lift, even holding sys_admin
 * in its user namespace (systemd zones, systemd.ts).
 *
 * The runtime makes /proc, /sys and their masks inside the zone's mount namespace,
 * which the zone's user namespace owns: there a zone root with sys_admin may unmount
 * a mask, or mount a fresh procfs beside it (the kernel allows that while an unmasked
 * procfs is visible). The kernel locks a mount (MNT_LOCKED: it cannot be unmounted,
 * and its read-only, nosuid, nodev and noexec flags cannot be cleared) when it reaches
 * a mount namespace owned by a less privileged user namespace as part of a tree: so
 * each tree is built here, from the host's namespaces, and sent into the zone's
 * namespace by mount propagation:
 *  1. before create (stageTrees): an empty read-only tmpfs, shared, on the zone's
 *     /proc and /sys; the runtime's copy of the host's mounts makes the zone's copies
 *     of them slaves;
 *  2. after create, before init starts (lockTrees): a procfs of the zone's pid
 *     namespace, or a sysfs of its network namespace (made by zoneadmd for that
 *     namespace, kernelfs.ts, into a private host scratch tmpfs), with the masks, the read-only
 *     binds and the spec's binds below it (lxcfs views, systemd's cgroup tree); the
 *     whole tree is attached on the stage, and the kernel propagates it into the zone
 *     with every mount below its top locked;
 *  3. the host's copies are detached (the stage made private first, so the detach
 *     does not propagate), and the runtime's own procfs and sysfs, which cover ours
 *     there, are unmounted from the zone's namespace by the host's static busybox bound
 *     in for that, both in one run (no zone binary ever runs with host credentials).
 * The zone may still unmount a whole /proc or /sys (its top), which reveals only the
 * empty stage; a new procfs or sysfs mount is then refused, as none unmasked is visible.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { errnoText, sys } from "../native/sys.js";
import { ATTR_NODEV, ATTR_NOEXEC, ATTR_NOSUID, ATTR_RDONLY, cloneTree, freshMount, moveOnto, setAttrs } from "./mountapi.js";
import { MASKED_PATHS, READONLY_PATHS } from "./security.js";
import type { ZoneRoot } from "./zonefs.js";
import type { OciMount } from "./oci/spec.js";
import { mountZoneKernelFs } from "./kernelfs.js";

const SYS_MOUNT_SETATTR = 442;
const AT_EMPTY_PATH = 0x1000;
const MS_PRIVATE = 1 << 18;
const MS_SHARED = 1 << 20;
const O_PATH = 0o10000000;
const O_NOFOLLOW = 0o400000;
const MNT_DETACH = 2;
const UMOUNT_NOFOLLOW = 8;
const EINVAL = 22;
const TOOLS_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/** Set the propagation of the one mount `fd` is the root of. */
function propagation(fd: number, how: number, label: string): void {
  const s = sys();
  const attr = { attr_set: 0, attr_clr: 0, propagation: how, userns_fd: 0 };
  if (Number(s.syscall(SYS_MOUNT_SETATTR, "int", fd, "str", "", "uint", AT_EMPTY_PATH, s.koffi.pointer(s.mountAttr), attr, "size_t", s.koffi.sizeof(s.mountAttr))) < 0)
    throw new ZoneError(`${label}: cannot set mount propagation: ${errnoText(s.errno())}`);
}

/** An empty read-only tmpfs mounted on `at` (an O_PATH fd); returns its root, O_PATH. */
function emptyTmpfsOn(at: number, label: string, reopen: () => number): number {
  const m = freshMount("tmpfs", [["size", "4k"], ["mode", "0755"]], ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC, label);
  try {
    moveOnto(m, at, label);
  } finally {
    fs.closeSync(m);
  }
  return reopen();
}

/** Step 1: a shared stage on the zone's `dir`, before the runtime creates the zone. */
function stage(zr: ZoneRoot, dir: string): void {
  const at = zr.mountPoint(dir);
  try {
    const fd = emptyTmpfsOn(at, `zone /${dir} stage`, () => zr.mountPoint(dir));
    try {
      propagation(fd, MS_SHARED, `zone /${dir} stage`);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.closeSync(at);
  }
}

function run(label: string, cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { PATH: TOOLS_PATH }, timeout: 10_000 });
  if (r.status !== 0) throw new ZoneError(`${label}: ${cmd} ${args.join(" ")} failed: ${(r.stderr || r.error?.message || `status ${r.status}`).trim().split("\n")[0]}`);
}

/** Mount on host path `at` (below the scratch, host-owned: no zone name is followed). */
function onto(tree: number, at: string, label: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(at, O_PATH | O_NOFOLLOW);
  } catch (err) {
    fs.closeSync(tree);
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false; // this kernel has no such file: nothing to mask
    throw new ZoneError(`${label}: cannot open the mount point: ${(err as Error).message}`);
  }
  try {
    moveOnto(tree, fd, label);
  } finally {
    fs.closeSync(fd);
    fs.closeSync(tree);
  }
  return true;
}

/** Where the zone's namespace has the host's static busybox until lockProc is done (helperMount). */
export const HELPER_AT = "/run/.zones-helper/busybox";

/** The spec's bind of the host's static busybox, for lockProc's unmounts. */
export function helperMount(busybox: string): OciMount {
  return { destination: HELPER_AT, type: "bind", source: busybox, options: ["bind", "ro", "nosuid", "nodev"] };
}

/** One kernel tree of the zone built from the host: /proc or /sys. */
export interface LockedTree {
  /** "proc" or "sys": the zone's directory, the file system, the namespace it shows. */
  dir: "proc" | "sys";
  /** Binds and tmpfs mounts below it (lxcfs views, systemd's cgroup tree), in order. */
  mounts: readonly OciMount[];
}

const LOCKED_ATTRS = ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC;

/** Step 1 for each tree: the shared stages, before the runtime creates the zone. */
export function stageTrees(zr: ZoneRoot, trees: readonly LockedTree[]): void {
  for (const t of trees) stage(zr, t.dir);
}

/**
 * Steps 2 and 3, between the runtime's create and start: `pid` is the zone's init
 * (waiting to exec), `runDir` the zone's host-only run directory.
 */
export function lockTrees(zr: ZoneRoot, pid: number, runDir: string, trees: readonly LockedTree[]): void {
  for (const t of trees) lockTree(zr, pid, path.join(runDir, `${t.dir}.build`), t);
  // The runtime's mounts cover ours in the zone's namespace: removed there, all in one
  // run, by a host binary bound in for the purpose (static: no zone library is loaded);
  // no process of the zone runs yet, and the helper reads nothing of the zone's. The
  // helper's own bind goes last (it runs from it: a lazy unmount).
  const label = trees.map((t) => `zone /${t.dir}`).join(", ") || "zone helper";
  run(label, "nsenter", ["--target", String(pid), "--mount", "--", HELPER_AT, "umount", "-l", ...trees.map((t) => `/${t.dir}`), HELPER_AT]);
}

function lockTree(zr: ZoneRoot, pid: number, scratch: string, t: LockedTree): void {
  const label = `zone /${t.dir}`;
  fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const sfd = fs.openSync(scratch, O_PATH | O_NOFOLLOW);
  try {
    // Private, so nothing built in it reaches any other namespace but through the stage.
    fs.closeSync(emptyTmpfsOn(sfd, label, () => fs.openSync(scratch, O_PATH | O_NOFOLLOW)));
  } finally {
    fs.closeSync(sfd);
  }
  const sroot = fs.openSync(scratch, O_PATH | O_NOFOLLOW);
  try {
    propagation(sroot, MS_PRIVATE, label);
  } finally {
    fs.closeSync(sroot);
  }
  const below = (p: string): string => path.join(scratch, p.slice(t.dir.length + 2));
  try {
    // procfs shows the pid namespace it is made for, sysfs the network namespace of its
    // maker: the zone's (kernelfs.ts), mounted by host root in the host's namespace.
    mountZoneKernelFs(t.dir, pid, scratch, label);
    for (const m of MASKED_PATHS.filter((p) => p.startsWith(`/${t.dir}/`))) {
      let dir: boolean;
      try {
        dir = fs.lstatSync(below(m)).isDirectory();
      } catch {
        continue; // this kernel has no such file: nothing to mask
      }
      const tree = dir ? freshMount("tmpfs", [["size", "4k"], ["mode", "0555"]], LOCKED_ATTRS, `${label} mask ${m}`) : cloneTree("/dev/null", `${label} mask ${m}`);
      onto(tree, below(m), `${label} mask ${m}`);
    }
    for (const r of READONLY_PATHS.filter((p) => p.startsWith(`/${t.dir}/`))) {
      if (!fs.existsSync(below(r))) continue;
      const tree = cloneTree(below(r), `${label} read-only ${r}`);
      setAttrs(tree, LOCKED_ATTRS, `${label} read-only ${r}`);
      onto(tree, below(r), `${label} read-only ${r}`);
    }
    for (const m of t.mounts) {
      const what = `${label} ${m.destination}`;
      if (m.type === "tmpfs") {
        const params = (m.options ?? []).filter((o) => o.includes("=")).map((o) => o.split("=", 2) as [string, string]);
        onto(freshMount("tmpfs", params, ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC, what), below(m.destination), what);
      } else {
        // A mount point in a tmpfs made just above (systemd's cgroup tree): the scratch is host-only.
        if (!fs.existsSync(below(m.destination))) fs.mkdirSync(below(m.destination), { mode: 0o755 });
        const tree = cloneTree(m.source, what);
        setAttrs(tree, ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC | ((m.options ?? []).includes("ro") ? ATTR_RDONLY : 0), what);
        if (!onto(tree, below(m.destination), what)) throw new ZoneError(`${what}: no mount point ${q(m.destination)} in the zone's /${t.dir}`);
      }
    }
    // One tree, attached on the stage: the kernel locks what lies below its top.
    const tree = cloneTree(scratch, label);
    const stageFd = zr.mountPoint(t.dir);
    try {
      try {
        moveOnto(tree, stageFd, label);
      } finally {
        fs.closeSync(tree);
      }
      // The runtime's mount, which covers ours in the zone, goes after every tree is
      // attached (lockTrees). Cut the stage's link to the zone (the descriptor still names the stage, under
      // the new tree), then drop the host's copy without the detach propagating.
      propagation(stageFd, MS_PRIVATE, label);
      const top = zr.mountPoint(t.dir);
      try {
        if (sys().umount2(`/proc/self/fd/${top}`, MNT_DETACH) !== 0) throw new ZoneError(`${label}: cannot detach the host's copy: ${errnoText(sys().errno())}`);
      } finally {
        fs.closeSync(top);
      }
    } finally {
      fs.closeSync(stageFd);
    }
  } finally {
    detachAll(scratch, label);
  }
}

/** Detach the scratch's procfs and tmpfs, then remove it. */
function detachAll(scratch: string, label: string): void {
  for (let i = 0; i < 2; i++) {
    if (sys().umount2(scratch, MNT_DETACH | UMOUNT_NOFOLLOW) !== 0) {
      if (sys().errno() === EINVAL) break;
      throw new ZoneError(`${label}: cannot detach scratch ${q(scratch)}: ${errnoText(sys().errno())}`);
    }
  }
  fs.rmdirSync(scratch);
}
