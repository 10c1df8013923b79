/**
 * Id-mapped bind mounts (kernel >= 5.12): a host tree shown through a zone's uid slot,
 * so host files owned by root appear owned by the zone's root and set-uid programs
 * work inside. Made with open_tree + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount,
 * which runc 1.1 cannot do itself; the mount is placed in the zone root before the
 * runtime creates the zone, and the runtime's recursive bind of the root carries it.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { ZoneError } from "./errors.js";
import { errnoText, sys } from "./sys.js";

const SYS_OPEN_TREE = 428;
const SYS_MOVE_MOUNT = 429;
const SYS_MOUNT_SETATTR = 442;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const AT_RECURSIVE = 0x8000;
const AT_EMPTY_PATH = 0x1000;
const AT_FDCWD = -100;
const MOVE_MOUNT_F_EMPTY_PATH = 4;
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
const MOUNT_ATTR_IDMAP = 0x100000;
const MNT_DETACH = 2;

/** A user namespace held open by a descriptor of this process until release(). */
export interface HeldUserns {
  /** What MOUNT_ATTR_IDMAP takes; also tells the namespace apart from any other. */
  fd: number;
  /**
   * For the OCI spec's linux.namespaces, which the runtime joins at create: the fd
   * through this process's /proc entry, which no other process can come to name (a
   * holder's pid could be reused once it ends).
   */
  path: string;
  /** Close the fd; safe to repeat. */
  release(): void;
}

/**
 * A user namespace mapping 0..size-1 to base..base+size-1 and OWNED by host uid `base`:
 * the holder is started as that uid, so the kernel charges per-user quotas counted
 * through the namespace (inotify instances, pending signals, mqueue bytes, namespace
 * counts) to the zone's slot uid, not to host root. Host root then writes the maps,
 * and the holder ends as soon as the namespace is open: the fd keeps it.
 */
export async function mappedUserns(base: number, size: number): Promise<HeldUserns> {
  const child = spawn("unshare", ["--user", "sleep", "60"], { stdio: "ignore", uid: base, gid: base, cwd: "/", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
  let exited: string | undefined;
  child.on("exit", (code, signal) => (exited = signal ?? `status ${code}`));
  child.on("error", (e) => (exited = e.message));
  let fd: number;
  try {
    const self = fs.readlinkSync("/proc/self/ns/user");
    const deadline = Date.now() + 5000;
    for (;;) {
      if (exited !== undefined) throw new ZoneError(`cannot create a user namespace as uid ${base}: unshare ended with ${exited}`);
      try {
        if (child.pid && fs.readlinkSync(`/proc/${child.pid}/ns/user`) !== self) break;
      } catch {
        // not started yet
      }
      if (Date.now() > deadline) throw new ZoneError(`cannot create a user namespace as uid ${base}: timed out`);
      await new Promise((r) => setTimeout(r, 1));
    }
    fs.writeFileSync(`/proc/${child.pid}/uid_map`, `0 ${base} ${size}\n`);
    fs.writeFileSync(`/proc/${child.pid}/gid_map`, `0 ${base} ${size}\n`);
    fd = fs.openSync(`/proc/${child.pid}/ns/user`, "r");
  } finally {
    child.kill("SIGKILL");
  }
  let open = true;
  const release = (): void => {
    if (open) fs.closeSync(fd);
    open = false;
  };
  return { fd, path: `/proc/${process.pid}/fd/${fd}`, release };
}

export interface IdmappedBind {
  /** Host directory. */
  source: string;
  /** An existing directory to mount it on. */
  target: string;
}

/**
 * Bind each source at its target through the id map base/size, with `attrs` (read-only,
 * nodev, ...). One user namespace serves every bind of the call: `userns`, a namespace
 * fd of that map the caller holds (the zone's own), or else one made for the call.
 */
export async function idmappedBinds(binds: readonly IdmappedBind[], base: number, size: number, attrs: number, userns?: number): Promise<void> {
  if (binds.length === 0) return;
  const s = sys();
  const ns = userns === undefined ? await mappedUserns(base, size) : { fd: userns, release() {} };
  try {
    for (const { source, target } of binds) {
      const tree = Number(s.syscall(SYS_OPEN_TREE, "int", AT_FDCWD, "str", source, "uint", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
      if (tree < 0) throw new ZoneError(`open_tree ${source}: ${errnoText(s.errno())}`);
      try {
        const attr = { attr_set: MOUNT_ATTR_IDMAP | attrs, attr_clr: 0, propagation: 0, userns_fd: ns.fd };
        if (Number(s.syscall(SYS_MOUNT_SETATTR, "int", tree, "str", "", "uint", AT_EMPTY_PATH | AT_RECURSIVE, s.koffi.pointer(s.mountAttr), attr, "size_t", s.koffi.sizeof(s.mountAttr))) < 0)
          throw new ZoneError(`id-mapped mount of ${source}: ${errnoText(s.errno())}`);
        if (Number(s.syscall(SYS_MOVE_MOUNT, "int", tree, "str", "", "int", AT_FDCWD, "str", target, "uint", MOVE_MOUNT_F_EMPTY_PATH)) < 0)
          throw new ZoneError(`mount at ${target}: ${errnoText(s.errno())}`);
      } finally {
        fs.closeSync(tree);
      }
    }
  } finally {
    ns.release();
  }
}

/** One id-mapped bind (see idmappedBinds). */
export function idmappedBind(source: string, target: string, base: number, size: number, attrs: number): Promise<void> {
  return idmappedBinds([{ source, target }], base, size, attrs);
}

/** Detach a mount; a target that is not mounted is fine. */
export function unmount(target: string): void {
  const s = sys();
  if (s.umount2(target, MNT_DETACH) !== 0) {
    const e = s.errno();
    if (e !== 22 && e !== 2) throw new ZoneError(`umount ${target}: ${errnoText(e)}`); // EINVAL: not a mount point; ENOENT
  }
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsBelow(dir: string): string[] {
  const out: string[] = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4]?.replace(/\\040/g, " ");
    if (mp !== undefined && (mp === dir || mp.startsWith(dir + "/"))) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}
