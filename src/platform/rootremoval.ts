/**
 * Unmounting and removing a zone's root tree (at halt, uninstall and a failed install):
 * every mount at or below the root detached through a pinned walk, and the whole tree
 * removed without following a link (ZoneRoot.removeTree). Its own file so that the
 * ZoneRoot class (zonefs.ts) holds the pinned walk and the calls made through it, and
 * the undoing of a root reads here.
 */
import * as fs from "node:fs";
import { ZoneError, q } from "../native/errors.js";
import { mountsBelowBytes } from "./idmap.js";
import { errnoText, sys } from "../native/sys.js";
import { code, ZoneRoot } from "./zonefs.js";

const MNT_DETACH = 2;
const EINVAL = 22;

/**
 * Detach every mount at or below the root (/proc/self/mountinfo), each reached by a
 * pinned walk. One that cannot be reached does not keep the others mounted: all are
 * tried, then the first failure is thrown.
 */
export function unmountAll(this: ZoneRoot): void {
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

/** Detach every mount at or below zone root `root`; a root that is gone has none. */
export function unmountZoneRoot(root: string): void {
  if (mountsBelowBytes(root).length === 0) return;
  const zr = ZoneRoot.open(root);
  try {
    unmountAll.call(zr);
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
