/**
 * The new mount API (kernel >= 5.2/5.12) as small functions: a detached mount made from
 * a host tree (open_tree) or a fresh file system (fsopen/fsconfig/fsmount), given its
 * flags (mount_setattr), then moved onto a pinned descriptor (move_mount). Detached
 * mounts never appear at any path until moved, so nothing the zone names is followed.
 * Each function throws one line naming `label`.
 */
import * as fs from "node:fs";
import { ZoneError } from "../native/errors.js";
import { errnoText, sys } from "../native/sys.js";

const SYS_OPEN_TREE = 428;
const SYS_MOVE_MOUNT = 429;
const SYS_FSOPEN = 430;
const SYS_FSCONFIG = 431;
const SYS_FSMOUNT = 432;
const SYS_MOUNT_SETATTR = 442;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const AT_RECURSIVE = 0x8000;
const AT_EMPTY_PATH = 0x1000;
const AT_FDCWD = -100;
const MOVE_MOUNT_F_EMPTY_PATH = 4;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
const FSOPEN_CLOEXEC = 1;
const FSMOUNT_CLOEXEC = 1;
const FSCONFIG_SET_FLAG = 0;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;

export const ATTR_RDONLY = 0x1;
export const ATTR_NOSUID = 0x2;
export const ATTR_NODEV = 0x4;
export const ATTR_NOEXEC = 0x8;
export const ATTR_NOATIME = 0x10;
export const ATTR_STRICTATIME = 0x20;
export const ATTR_NODIRATIME = 0x80;
export const ATTR_IDMAP = 0x100000;

/** A detached recursive copy of host tree `source` (an fd the caller closes). */
export function cloneTree(source: string, label: string): number {
  const s = sys();
  const fd = Number(s.syscall(SYS_OPEN_TREE, "int", AT_FDCWD, "str", source, "uint", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (fd < 0) throw new ZoneError(`${label}: cannot open ${source}: ${errnoText(s.errno())}`);
  return fd;
}

/** Set `attrs` on every mount of detached tree `tree`; with ATTR_IDMAP, `userns` is the map. */
export function setAttrs(tree: number, attrs: number, label: string, userns = 0): void {
  if (attrs === 0) return;
  const s = sys();
  const attr = { attr_set: attrs, attr_clr: 0, propagation: 0, userns_fd: userns };
  if (Number(s.syscall(SYS_MOUNT_SETATTR, "int", tree, "str", "", "uint", AT_EMPTY_PATH | AT_RECURSIVE, s.koffi.pointer(s.mountAttr), attr, "size_t", s.koffi.sizeof(s.mountAttr))) < 0)
    throw new ZoneError(`${label}: cannot set mount flags: ${errnoText(s.errno())}`);
}

/** Move detached mount `tree` onto the directory `target` (an O_PATH descriptor) names. */
export function moveOnto(tree: number, target: number, label: string): void {
  const s = sys();
  if (Number(s.syscall(SYS_MOVE_MOUNT, "int", tree, "str", "", "int", target, "str", "", "uint", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)) < 0)
    throw new ZoneError(`${label}: cannot mount: ${errnoText(s.errno())}`);
}

/**
 * A detached fresh mount of file system `type` with parameters `params` (a key alone is
 * a flag, such as "ro"; `source` names a block device) (made
 * in the caller's user namespace: host root's, so the zone cannot reconfigure it) and
 * mount flags `attrs`. The fd is the caller's to close.
 */
export function freshMount(type: string, params: ReadonlyArray<readonly [string, string?]>, attrs: number, label: string): number {
  const s = sys();
  const fsfd = Number(s.syscall(SYS_FSOPEN, "str", type, "uint", FSOPEN_CLOEXEC));
  if (fsfd < 0) throw new ZoneError(`${label}: fsopen ${type}: ${errnoText(s.errno())}`);
  try {
    for (const [k, v] of params) {
      const r = v === undefined ? s.syscall(SYS_FSCONFIG, "int", fsfd, "uint", FSCONFIG_SET_FLAG, "str", k, "void *", null, "int", 0) : s.syscall(SYS_FSCONFIG, "int", fsfd, "uint", FSCONFIG_SET_STRING, "str", k, "str", v, "int", 0);
      if (Number(r) < 0) throw new ZoneError(`${label}: ${v === undefined ? k : `${k}=${v}`} refused by ${type}: ${errnoText(s.errno())}`);
    }
    if (Number(s.syscall(SYS_FSCONFIG, "int", fsfd, "uint", FSCONFIG_CMD_CREATE, "void *", null, "void *", null, "int", 0)) < 0)
      throw new ZoneError(`${label}: cannot create ${type}: ${errnoText(s.errno())}`);
    const m = Number(s.syscall(SYS_FSMOUNT, "int", fsfd, "uint", FSMOUNT_CLOEXEC, "uint", attrs));
    if (m < 0) throw new ZoneError(`${label}: fsmount ${type}: ${errnoText(s.errno())}`);
    return m;
  } finally {
    fs.closeSync(fsfd);
  }
}
