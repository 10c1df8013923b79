/**
 * Id-mapped bind mounts (kernel >= 5.12): a host tree shown through a zone's uid slot,
 * so host files owned by root appear owned by the zone's root and set-uid programs
 * work inside. Made with open_tree + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount,
 * which runc 1.1 cannot do itself; the mount is placed in the zone root before the
 * runtime creates the zone, and the runtime's recursive bind of the root carries it.
 */
import * as fs from "node:fs";
import { ZoneError, q } from "../native/errors.js";
import { errnoText, sys } from "../native/sys.js";
import { killNow, spawnWatched, type Exit } from "../native/posixspawn.js";
import { helperArgv, setprivBin } from "./helperbins.js";
import type { ZoneRoot } from "./zonefs.js";
import { ATTR_IDMAP, cloneTree, moveOnto, setAttrs } from "./mountapi.js";

const O_PATH = 0o10000000;
export { ATTR_RDONLY as MOUNT_ATTR_RDONLY, ATTR_NOSUID as MOUNT_ATTR_NOSUID, ATTR_NODEV as MOUNT_ATTR_NODEV } from "./mountapi.js";
const MNT_DETACH = 2;
const UMOUNT_NOFOLLOW = 8;

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
 * and the holder ends as soon as the namespace is open: the fd keeps it. With `inverse`,
 * the map goes the other way (brands/debian.ts's copy writes a slot's tree through it).
 */
export async function mappedUserns(base: number, size: number, inverse = false): Promise<HeldUserns> {
  // Started by posix_spawn (no fork of zoneadmd's memory): setpriv takes the slot's ids.
  let pid: number;
  let exit: Promise<Exit>;
  try {
    const argv = [`--reuid=${base}`, `--regid=${base}`, "--clear-groups", ...helperArgv("unshare", ["--user", ...helperArgv("sleep", ["60"])])];
    ({ pid, exit } = await spawnWatched(setprivBin(), argv, { fds: ["null", "null", "null"], env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } }));
  } catch (e) {
    throw new ZoneError(`cannot create a user namespace as uid ${base}: ${(e as Error).message}`);
  }
  let exited: string | undefined;
  void exit.then((x) => (exited = x.signal !== null ? `signal ${x.signal}` : `status ${x.code}`), (e: Error) => (exited = e.message));
  let fd: number;
  try {
    const self = fs.readlinkSync("/proc/self/ns/user");
    const deadline = Date.now() + 5000;
    for (;;) {
      if (exited !== undefined) throw new ZoneError(`cannot create a user namespace as uid ${base}: unshare ended with ${exited}`);
      try {
        // Only unshare, which setpriv starts as the slot's ids, changes the namespace.
        if (fs.readlinkSync(`/proc/${pid}/ns/user`) !== self) break;
      } catch {
        // not started yet
      }
      if (Date.now() > deadline) throw new ZoneError(`cannot create a user namespace as uid ${base}: timed out`);
      await new Promise((r) => setTimeout(r, 1));
    }
    // Inverse (base..base+size-1 inside as 0..size-1 outside): an id-mapped mount through
    // it shows the slot's files as host ids, so host root writes the slot's owners.
    const map = inverse ? `${base} 0 ${size}\n` : `0 ${base} ${size}\n`;
    fs.writeFileSync(`/proc/${pid}/uid_map`, map);
    fs.writeFileSync(`/proc/${pid}/gid_map`, map);
    fd = fs.openSync(`/proc/${pid}/ns/user`, "r");
  } finally {
    killNow(pid);
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
  /** An existing directory to mount it on, inside the zone's root. */
  target: string;
}

/**
/**
 * Bind each source at its target in the zone through the id map base/size, with `attrs`
 * (read-only, nodev, ...). Every target is pinned first (zonefs: no link followed, one
 * line naming a missing or tampered one), so nothing is mounted unless all are sound,
 * and the mounts go onto those descriptors, never onto a path the zone could redirect.
 * One user namespace serves every bind of the call: `userns`, a namespace fd of that map
 * the caller holds (the zone's own), or else one made for the call.
 */
export async function idmappedBinds(zone: ZoneRoot, binds: readonly IdmappedBind[], base: number, size: number, attrs: number, userns?: number): Promise<void> {
  const fds: number[] = [];
  try {
    for (const b of binds) fds.push(zone.mountPoint(b.target));
    await bindOnto(binds.map((b, i) => ({ source: b.source, fd: fds[i]!, label: `${q(b.target)} in the zone` })), base, size, attrs, userns);
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

/** One id-mapped bind onto a host directory the caller trusts (tests, benchmarks). */
export async function idmappedBind(source: string, target: string, base: number, size: number, attrs: number): Promise<void> {
  const fd = fs.openSync(target, O_PATH | fs.constants.O_DIRECTORY);
  try {
    await bindOnto([{ source, fd, label: target }], base, size, attrs);
  } finally {
    fs.closeSync(fd);
  }
}

async function bindOnto(binds: readonly { source: string; fd: number; label: string }[], base: number, size: number, attrs: number, userns?: number): Promise<void> {
  if (binds.length === 0) return;
  const ns = userns === undefined ? await mappedUserns(base, size) : { fd: userns, release() {} };
  try {
    for (const { source, fd, label } of binds) {
      const tree = cloneTree(source, `id-mapped mount of ${source}`);
      try {
        setAttrs(tree, ATTR_IDMAP | attrs, `id-mapped mount of ${source}`, ns.fd);
        moveOnto(tree, fd, `mount at ${label}`);
      } finally {
        fs.closeSync(tree);
      }
    }
  } finally {
    ns.release();
  }
}

/** Detach a mount on a host path the caller trusts; a target that is not mounted is fine. */
export function unmount(target: string): void {
  const s = sys();
  if (s.umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) !== 0) {
    const e = s.errno();
    if (e !== 22 && e !== 2) throw new ZoneError(`umount ${target}: ${errnoText(e)}`); // EINVAL: not a mount point; ENOENT
  }
}

/** mountinfo's escapes (\040 space, \011 tab, \012 newline, \134 backslash), on a latin1 string. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Mount points at or below `dir`, deepest first, as the bytes the kernel has: a zone
 * names its directories, and a name need not be UTF-8.
 */
export function mountsBelowBytes(dir: string): Buffer[] {
  const self = Buffer.from(dir);
  const below = Buffer.from(dir + "/");
  const out: Buffer[] = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "latin1").split("\n")) {
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    const mp = Buffer.from(unescapeMountinfo(field), "latin1");
    if (mp.equals(self) || mp.subarray(0, below.length).equals(below)) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Mount points at or below `dir`, deepest first (see mountsBelowBytes). */
export function mountsBelow(dir: string): string[] {
  return mountsBelowBytes(dir).map((b) => b.toString());
}
