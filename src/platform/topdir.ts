/**
 * The zones directory as a "top of directory hierarchies" for ext4's inode allocator
 * (FS_TOPDIR_FL, `chattr +T`), as /home is. Without it every new zonepath lands in its
 * parent's block group, beside the inodes of the zones removed before it; ext4 without
 * a journal skips each inode freed in the last minute (five when its table block is
 * still dirty) one buffer lookup at a time, so on a host that installs and removes
 * zones all day each new file costs a walk over the dead ones (measured: a third of
 * zoneadmd's time, and create+install+boot 16 zones/s falling to 10). With the flag,
 * each zonepath starts in a group of its own choosing (Orlov's spread), as each home
 * directory does. It is an allocation hint only: nothing of the files changes, and a
 * file system that has no such flag (tmpfs, xfs, btrfs) is left as it is.
 */
import * as fs from "node:fs";
import { sys } from "../native/sys.js";

// _IOR('f', 1, long) and _IOW('f', 2, long) on 64-bit Linux; the kernel moves an int.
const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
const FS_TOPDIR_FL = 0x00020000;

let ioctl: ((fd: number, req: number, arg: Buffer) => number) | undefined;

/** Directories this process has marked (or found it cannot): one ioctl each per daemon. */
const done = new Set<string>();

/**
 * Mark `dir` (root's own directory of zonepaths) a top directory; true if it now is.
 * Never fails: a file system without the flag, or a directory gone, costs only the hint.
 */
export function markTopDir(dir: string): boolean {
  if (done.has(dir)) return true;
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    ioctl ??= sys().koffi.load("libc.so.6").func("int ioctl(int fd, unsigned long req, void *arg)") as (fd: number, req: number, arg: Buffer) => number;
    const flags = Buffer.alloc(8);
    if (ioctl(fd, FS_IOC_GETFLAGS, flags) !== 0) return false;
    const had = flags.readUInt32LE(0);
    if ((had & FS_TOPDIR_FL) === 0) {
      flags.writeUInt32LE((had | FS_TOPDIR_FL) >>> 0, 0);
      if (ioctl(fd, FS_IOC_SETFLAGS, flags) !== 0) return false;
    }
    done.add(dir);
    return true;
  } finally {
    fs.closeSync(fd);
  }
}
