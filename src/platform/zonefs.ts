/**
 * The one module for paths inside a zone's tree (<zonepath>/root). The zone's root owns
 * every file there and may have replaced any of them by a symbolic link into the host, a
 * FIFO or another directory; zoneadmd acts there as host root. So no path under the root
 * is ever handed to the kernel whole. Each step starts from a descriptor of the directory
 * already reached and names one component in it (/proc/self/fd/N/name, opened O_PATH |
 * O_NOFOLLOW | O_DIRECTORY): it is looked up in that directory and nowhere else, and a
 * symbolic link is refused at any component, as illumos zoneadmd refuses them. The final
 * entry is acted on with calls that do not follow it (lstat, lchown, mkdir, symlink,
 * unlink, rmdir, rename, open O_NOFOLLOW) or through a descriptor of it.
 *
 * Plain Node fs calls on /proc/self/fd paths, not openat2(2) through FFI: zlogin and
 * install then need no koffi (~20 ms to load), and with links refused outright the only
 * thing openat2 would add, resolving links scoped to the root, is not wanted.
 */
import * as fs from "node:fs";
import { ZoneError, q } from "../native/errors.js";
import { mountsBelowBytes } from "./idmap.js";
import { errnoText, sys } from "../native/sys.js";

/** Linux's O_PATH: a descriptor that names an inode without opening it (not in fs.constants). */
const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_DIRECTORY, O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NONBLOCK, O_NOCTTY } = fs.constants;
const DIR_PATH = O_PATH | O_NOFOLLOW | O_DIRECTORY;
const MNT_DETACH = 2;
const EINVAL = 22;

/** A path relative to a zone's root, as bytes: a zone may name its files with any byte but NUL and '/'. */
export type ZonePath = string | Buffer;

/** `/proc/self/fd/<fd>` or `/proc/self/fd/<fd>/<name>`: one step from a pinned directory. */
function at(fd: number, name?: Buffer): Buffer {
  const base = Buffer.from(`/proc/self/fd/${fd}`);
  return name ? Buffer.concat([base, Buffer.from("/"), name]) : base;
}

/** How messages show a zone path: always quoted, so a newline in a name stays visible. */
function shown(parts: readonly Buffer[]): string {
  return q("/" + parts.map((p) => p.toString()).join("/"));
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? "error";
}

export class ZoneRoot {
  private constructor(
    /** The zone root on the host (trusted: the zonepath is the global zone's). */
    readonly path: string,
    private fd: number,
  ) {}

  /** Pin a zone root; it must be a directory (not a link) itself. */
  static open(root: string): ZoneRoot {
    try {
      return new ZoneRoot(root, fs.openSync(root, DIR_PATH));
    } catch (err) {
      throw new ZoneError(`zone root ${q(root)} cannot be opened as a directory: ${code(err)}`);
    }
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  /** The components of `rel` ("." and ".." refused: every step must go down). */
  private parts(rel: ZonePath): Buffer[] {
    const b = typeof rel === "string" ? Buffer.from(rel) : rel;
    const out: Buffer[] = [];
    let start = 0;
    for (let i = 0; i <= b.length; i++) {
      if (i < b.length && b[i] !== 0x2f) continue;
      const p = b.subarray(start, i);
      start = i + 1;
      if (p.length === 0) continue;
      if (p.includes(0) || p.equals(Buffer.from(".")) || p.equals(Buffer.from("..")))
        throw new ZoneError(`path ${q(b.toString())} in the zone has a ".", ".." or NUL component`);
      out.push(p);
    }
    return out;
  }

  /** Why `name` in the pinned directory `dir` is no directory we may enter. */
  private refusal(dir: number, parts: readonly Buffer[], i: number, what: string, err: unknown): ZoneError {
    const whole = `${what} ${shown(parts)}`;
    const here = i === parts.length - 1 ? whole : `${whole}: ${shown(parts.slice(0, i + 1))}`;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(at(dir, parts[i]));
    } catch {
      // absent: said below
    }
    if (!st) return new ZoneError(`${here} does not exist in the zone`);
    if (st.isSymbolicLink()) return new ZoneError(`${here} is a symbolic link in the zone; refusing to follow it`);
    if (!st.isDirectory()) return new ZoneError(`${here} is not a directory in the zone`);
    return new ZoneError(`${here} cannot be opened in the zone: ${code(err)}`);
  }

  /**
   * An O_PATH descriptor of the directory the first `depth` components of `parts` name,
   * each step pinned; the caller closes it. Refusals name the whole path.
   */
  private walk(parts: readonly Buffer[], what: string, depth = parts.length): number {
    let cur = fs.openSync(at(this.fd), O_PATH);
    for (let i = 0; i < depth; i++) {
      let next: number;
      try {
        next = fs.openSync(at(cur, parts[i]), DIR_PATH);
      } catch (err) {
        const e = this.refusal(cur, parts, i, what, err);
        fs.closeSync(cur);
        throw e;
      }
      fs.closeSync(cur);
      cur = next;
    }
    return cur;
  }

  /** An O_PATH descriptor of the last of `parts`, a directory, entered from its pinned parent `dir`. */
  private step(dir: number, parts: readonly Buffer[], what: string): number {
    try {
      return fs.openSync(at(dir, parts[parts.length - 1]), DIR_PATH);
    } catch (err) {
      throw this.refusal(dir, parts, parts.length - 1, what, err);
    }
  }

  /** The pinned parent directory of `rel` and its last component ("" for the root itself). */
  private parent(rel: ZonePath, what: string): { dir: number; name: Buffer; parts: Buffer[] } {
    const parts = this.parts(rel);
    const dir = this.walk(parts, what, Math.max(parts.length - 1, 0));
    return { dir, name: parts[parts.length - 1] ?? Buffer.alloc(0), parts };
  }

  /**
   * Make directory `rel` (its parent must exist) or take the one there, then give it
   * its owner and mode through a descriptor of it: never through a link.
   */
  mkdir(rel: ZonePath, mode: number, uid: number, gid: number): void {
    const { dir, name, parts } = this.parent(rel, "directory");
    try {
      if (name.length > 0) {
        try {
          fs.mkdirSync(at(dir, name), { mode: 0o700 });
        } catch (err) {
          if (code(err) !== "EEXIST") throw new ZoneError(`cannot make directory ${shown(parts)} in the zone: ${code(err)}`);
        }
      }
      // The last step of walk(), from the parent already pinned: walking again from the
      // root would cost an open and a close per component for the same directory.
      const d = name.length > 0 ? this.step(dir, parts, "directory") : fs.openSync(at(this.fd), O_PATH);
      try {
        fs.chownSync(at(d), uid, gid);
        fs.chmodSync(at(d), mode); // after chown, which clears set-id bits
      } finally {
        fs.closeSync(d);
      }
    } finally {
      fs.closeSync(dir);
    }
  }

  /**
   * Write file `rel` whole: a new file beside it in the pinned directory, owned and
   * moded through its descriptor, renamed over the old entry. Whatever was there — a
   * link into the host, a FIFO, a hard link to another file — is replaced, never
   * written through. `fresh` (an install building a new tree): created in place, no
   * temporary to rename, unless something is there already (then replaced as above).
   */
  writeFile(rel: ZonePath, data: string | Buffer, mode: number, uid: number, gid: number, fresh = false): void {
    const { dir, name, parts } = this.parent(rel, "file");
    if (name.length === 0) throw new ZoneError("the zone root is not a file");
    try {
      if (fresh && createNew(dir, name, parts, data, mode, uid, gid)) return;
    } catch (err) {
      fs.closeSync(dir);
      throw err;
    }
    const tmp = Buffer.concat([Buffer.from("."), name.subarray(0, 200), Buffer.from(`.zonefs-${process.pid}-${Math.random().toString(36).slice(2)}`)]);
    try {
      const fd = fs.openSync(at(dir, tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        fs.writeFileSync(fd, data);
        fs.fchownSync(fd, uid, gid);
        fs.fchmodSync(fd, mode); // after chown, which clears set-id bits
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(at(dir, tmp), at(dir, name));
    } catch (err) {
      try {
        fs.unlinkSync(at(dir, tmp));
      } catch {
        // never made, or renamed already
      }
      throw new ZoneError(`cannot write ${shown(parts)} in the zone: ${code(err)}`);
    } finally {
      fs.closeSync(dir);
    }
  }

  /** Make `rel` a symbolic link to `target` (replacing a file or link there), owned by uid/gid. */
  symlink(rel: ZonePath, target: string | Buffer, uid: number, gid: number): void {
    const { dir, name, parts } = this.parent(rel, "link");
    if (name.length === 0) throw new ZoneError("the zone root cannot be a link");
    try {
      try {
        fs.unlinkSync(at(dir, name));
      } catch (err) {
        if (code(err) !== "ENOENT") throw err;
      }
      fs.symlinkSync(target, at(dir, name));
      fs.lchownSync(at(dir, name), uid, gid);
    } catch (err) {
      throw new ZoneError(`cannot make link ${shown(parts)} in the zone: ${code(err)}`);
    } finally {
      fs.closeSync(dir);
    }
  }

  /**
   * The content of regular file `rel`, at most `maxBytes`. The entry is pinned with
   * O_PATH and checked before it is opened for reading, so a FIFO or device the zone
   * put there is never opened at all.
   */
  readFile(rel: ZonePath, maxBytes: number): Buffer {
    const { dir, name, parts } = this.parent(rel, "file");
    let p = -1;
    try {
      try {
        p = fs.openSync(at(dir, name), O_PATH | O_NOFOLLOW);
      } catch (err) {
        throw new ZoneError(`cannot read ${shown(parts)} in the zone: ${code(err)}`);
      }
      const st = fs.fstatSync(p);
      if (st.isSymbolicLink()) throw new ZoneError(`${shown(parts)} in the zone is a symbolic link; refusing to follow it`);
      if (!st.isFile()) throw new ZoneError(`${shown(parts)} in the zone is not a regular file`);
      if (st.size > maxBytes) throw new ZoneError(`${shown(parts)} in the zone is larger than ${maxBytes} bytes`);
      // Reopening the pinned inode through its descriptor, not the name.
      const fd = fs.openSync(at(p), O_RDONLY | O_NONBLOCK | O_NOCTTY);
      try {
        // Sized by fstat, read to the end: the file may have changed size since.
        const chunks: Buffer[] = [];
        let total = 0;
        for (;;) {
          const buf = Buffer.allocUnsafe(Math.min(Math.max(st.size, 4096), maxBytes) + 1);
          const n = fs.readSync(fd, buf, 0, buf.length, null);
          if (n === 0) break;
          chunks.push(buf.subarray(0, n));
          total += n;
          if (total > maxBytes) throw new ZoneError(`${shown(parts)} in the zone is larger than ${maxBytes} bytes`);
        }
        return Buffer.concat(chunks, total);
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      if (p >= 0) fs.closeSync(p);
      fs.closeSync(dir);
    }
  }

  /** What `rel` is (its last component not followed), or undefined when absent; a link on the way is refused. */
  kind(rel: ZonePath): "dir" | "file" | "link" | "other" | undefined {
    const { dir, name } = this.parent(rel, "entry");
    try {
      const st = fs.lstatSync(name.length > 0 ? at(dir, name) : at(dir));
      return st.isDirectory() ? "dir" : st.isFile() ? "file" : st.isSymbolicLink() ? "link" : "other";
    } catch {
      return undefined;
    } finally {
      fs.closeSync(dir);
    }
  }

  /** Remove `rel` (a directory with all below it, on this mount only); absent is fine. */
  remove(rel: ZonePath): void {
    const { dir, name, parts } = this.parent(rel, "entry");
    try {
      if (name.length === 0) throw new ZoneError("the zone root itself cannot be removed this way");
      let st: fs.Stats;
      try {
        st = fs.lstatSync(at(dir, name));
      } catch {
        return;
      }
      if (!st.isDirectory()) return void fs.unlinkSync(at(dir, name));
      const sub = fs.openSync(at(dir, name), DIR_PATH);
      try {
        this.removeEntries(sub, parts, mountId(this.fd));
      } finally {
        fs.closeSync(sub);
      }
      fs.rmdirSync(at(dir, name));
    } catch (err) {
      throw err instanceof ZoneError ? err : new ZoneError(`cannot remove ${shown(parts)} in the zone: ${code(err)}`);
    } finally {
      fs.closeSync(dir);
    }
  }

  /** Set `rel`'s access and modification times (seconds), the entry itself, a link not followed. */
  times(rel: ZonePath, mtime: number): void {
    const { dir, name, parts } = this.parent(rel, "entry");
    try {
      // The root itself through its pinned descriptor (the magic link is followed to it).
      if (name.length > 0) fs.lutimesSync(at(dir, name), mtime, mtime);
      else fs.utimesSync(at(dir), mtime, mtime);
    } catch (err) {
      throw new ZoneError(`cannot set the times of ${shown(parts)} in the zone: ${code(err)}`);
    } finally {
      fs.closeSync(dir);
    }
  }

  /** Names in directory `rel`, reached with no link followed. */
  list(rel: ZonePath): Buffer[] {
    const d = this.walk(this.parts(rel), "directory");
    try {
      return fs.readdirSync(at(d), { encoding: "buffer" });
    } finally {
      fs.closeSync(d);
    }
  }

  /** Hard link `rel` to the existing regular file `existing`, both in the tree, neither followed. */
  link(rel: ZonePath, existing: ZonePath): void {
    const src = this.parent(existing, "link target");
    try {
      const dst = this.parent(rel, "link");
      try {
        if (src.name.length === 0 || dst.name.length === 0) throw new ZoneError("the zone root cannot be linked");
        const st = fs.lstatSync(at(src.dir, src.name));
        if (!st.isFile()) throw new ZoneError(`hard link ${shown(dst.parts)}: its target ${shown(src.parts)} is not a regular file in the zone`);
        try {
          fs.unlinkSync(at(dst.dir, dst.name));
        } catch (err) {
          if (code(err) !== "ENOENT") throw err;
        }
        fs.linkSync(at(src.dir, src.name), at(dst.dir, dst.name)); // linkat without AT_SYMLINK_FOLLOW
      } catch (err) {
        throw err instanceof ZoneError ? err : new ZoneError(`cannot link ${shown(dst.parts)} to ${shown(src.parts)} in the zone: ${code(err)}`);
      } finally {
        fs.closeSync(dst.dir);
      }
    } finally {
      fs.closeSync(src.dir);
    }
  }

  /** Is `rel` a directory, reached without following any link? */
  isDirectory(rel: ZonePath): boolean {
    try {
      fs.closeSync(this.walk(this.parts(rel), "directory"));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * An O_PATH descriptor of existing directory `rel`, to mount on (move_mount with
   * MOVE_MOUNT_T_EMPTY_PATH) or unmount through; the caller closes it. Missing, a
   * file, or a link at any component: one line naming the path.
   */
  mountPoint(rel: ZonePath): number {
    return this.walk(this.parts(rel), "mount point");
  }

  /**
   * Detach every mount at or below the root (/proc/self/mountinfo), each reached by a
   * pinned walk. One that cannot be reached does not keep the others mounted: all are
   * tried, then the first failure is thrown.
   */
  unmountAll(): void {
    const prefix = Buffer.byteLength(this.path);
    let failure: ZoneError | undefined;
    for (const mp of mountsBelowBytes(this.path)) {
      try {
        const fd = this.mountPoint(mp.subarray(prefix));
        try {
          // The magic link is followed to the descriptor's own mount, never to a name.
          if (sys().umount2(`/proc/self/fd/${fd}`, MNT_DETACH) !== 0) {
            const e = sys().errno();
            if (e !== EINVAL) throw new ZoneError(`cannot unmount ${q(mp.subarray(prefix).toString() || "/")} in the zone: ${errnoText(e)}`);
          }
        } finally {
          fs.closeSync(fd);
        }
      } catch (err) {
        failure ??= err instanceof ZoneError ? err : new ZoneError(`cannot unmount in the zone: ${code(err)}`);
      }
    }
    if (failure) throw failure;
  }

  /**
   * Remove the whole tree and the root itself, then close. Links are removed, never
   * followed; a directory on another mount (compared by mount ID, since an id-mapped
   * bind of the host's own file system has the same st_dev) is refused as still mounted.
   */
  removeTree(): void {
    const mnt = mountId(this.fd);
    this.removeEntries(this.fd, [], mnt);
    this.close();
    fs.rmdirSync(this.path);
  }

  private removeEntries(dir: number, parts: Buffer[], mnt: number): void {
    for (const e of fs.readdirSync(at(dir), { encoding: "buffer", withFileTypes: true })) {
      const name = e.name as unknown as Buffer; // encoding "buffer" gives Buffer names
      const here = [...parts, name];
      try {
        if (e.isDirectory()) {
          const sub = fs.openSync(at(dir, name), DIR_PATH); // pinned below `dir`, no link followed
          try {
            if (mountId(sub) !== mnt) throw new ZoneError(`cannot remove ${shown(here)} in the zone: it is still mounted`);
            this.removeEntries(sub, here, mnt);
          } finally {
            fs.closeSync(sub);
          }
          fs.rmdirSync(at(dir, name));
        } else fs.unlinkSync(at(dir, name));
      } catch (err) {
        if (err instanceof ZoneError) throw err;
        throw new ZoneError(`cannot remove ${shown(here)} in the zone: ${code(err)}`);
      }
    }
  }
}

/** The mount a descriptor lies on (its fdinfo; Node has no statx). */
function mountId(fd: number): number {
  const m = /^mnt_id:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
  if (!m) throw new ZoneError(`cannot tell the mount of descriptor ${fd}`);
  return Number(m[1]);
}

/**
 * Create file `name` in pinned directory `dir` with O_EXCL (nothing there is followed or
 * reused), owned and moded through its descriptor; false if an entry exists already.
 */
function createNew(dir: number, name: Buffer, parts: readonly Buffer[], data: string | Buffer, mode: number, uid: number, gid: number): boolean {
  let fd: number;
  try {
    fd = fs.openSync(at(dir, name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (err) {
    if (code(err) === "EEXIST") return false;
    throw new ZoneError(`cannot write ${shown(parts)} in the zone: ${code(err)}`);
  }
  try {
    fs.writeFileSync(fd, data);
    fs.fchownSync(fd, uid, gid);
    fs.fchmodSync(fd, mode); // after chown, which clears set-id bits
  } catch (err) {
    // Not left half written: the install that fails is retried over this tree.
    try {
      fs.unlinkSync(at(dir, name));
    } catch {
      // gone already
    }
    throw new ZoneError(`cannot write ${shown(parts)} in the zone: ${code(err)}`);
  } finally {
    fs.closeSync(fd);
  }
  fs.closeSync(dir);
  return true;
}

/** Detach every mount at or below zone root `root`; a root that is gone has none. */
export function unmountZoneRoot(root: string): void {
  if (mountsBelowBytes(root).length === 0) return;
  const zr = ZoneRoot.open(root);
  try {
    zr.unmountAll();
  } finally {
    zr.close();
  }
}

/** Remove zone root `root` and everything below it; an absent root is fine. */
export function removeZoneRoot(root: string): void {
  let zr: ZoneRoot;
  try {
    fs.lstatSync(root);
  } catch {
    return;
  }
  try {
    zr = ZoneRoot.open(root);
  } catch (err) {
    if (fs.lstatSync(root).isDirectory()) throw err;
    fs.unlinkSync(root); // a failed install's stray file: the zonepath is the global zone's
    return;
  }
  try {
    zr.removeTree();
  } finally {
    zr.close();
  }
}
