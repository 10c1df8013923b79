/**
 * The zonepath itself, as install made it and as uninstall removes it. Its ancestors
 * are the host's, but one an ordinary user can write (verify refuses those, the host
 * may change them later) lets that user swap the zonepath for a link to a host tree:
 * so it is pinned from / with no link followed and checked before anything is done
 * through it, as zonefs.ts does below the zone root.
 */
import * as fs from "node:fs";
import { ZoneError, q } from "../native/errors.js";
import { removeZoneRoot } from "./rootremoval.js";
import { LAYER_DIRS } from "./overlay.js";

/** Linux's O_PATH (not in fs.constants). */
const O_PATH = 0o10000000;
const DIR_PATH = O_PATH | fs.constants.O_NOFOLLOW | fs.constants.O_DIRECTORY;

function at(fd: number, name?: Buffer): Buffer {
  const base = Buffer.from(`/proc/self/fd/${fd}`);
  return name ? Buffer.concat([base, Buffer.from("/"), name]) : base;
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? "error";
}

/**
 * The zonepath, walked from / one component at a time, each opened O_PATH | O_NOFOLLOW
 * | O_DIRECTORY below the one before: a link anywhere is refused, never followed. The
 * caller closes both descriptors. Undefined when a component does not exist or is a
 * file: there is no zonepath then.
 */
export function pinZonepath(zonepath: string): { parent: number; fd: number; name: Buffer } | undefined {
  const parts = zonepath.split("/").filter(Boolean).map((p) => Buffer.from(p));
  if (parts.length === 0) throw new ZoneError(`zonepath must not be "/"`);
  let parent = fs.openSync("/", DIR_PATH);
  for (const [i, name] of parts.entries()) {
    let next: number;
    try {
      next = fs.openSync(at(parent, name), DIR_PATH);
    } catch (err) {
      let link = false;
      try {
        link = fs.lstatSync(at(parent, name)).isSymbolicLink();
      } catch {
        // absent
      }
      fs.closeSync(parent);
      // Absent, or a file where a directory would be (a failed install's): no zonepath there.
      if (!link && (code(err) === "ENOENT" || code(err) === "ENOTDIR")) return undefined;
      const here = i === parts.length - 1 ? "" : `: ${q("/" + parts.slice(0, i + 1).join("/"))}`;
      throw new ZoneError(`zonepath ${q(zonepath)}${here} is a symbolic link or not a directory (${code(err)}); refusing to follow it`);
    }
    if (i === parts.length - 1) return { parent, fd: next, name };
    fs.closeSync(parent);
    parent = next;
  }
  throw new ZoneError(`zonepath ${q(zonepath)} cannot be pinned`);
}

/** Files install writes in the zonepath beside root/ (brands/oci.ts IMAGE_RECORD). */
export const INSTALL_FILES = ["image.json"];

/**
 * Uninstall's removal: the zone root and then the zonepath, through the pinned zonepath,
 * and only if it is still the directory install made, root's with the zone root's group
 * `gid` (install gives it; only root can). A zonepath swapped since install, for a link
 * or a tree of someone else's, is refused with nothing removed.
 */
export function removeInstalledTree(zonepath: string, gid: number): void {
  const pin = pinZonepath(zonepath);
  if (!pin) return;
  try {
    const st = fs.fstatSync(pin.fd);
    let hasRoot = true;
    try {
      fs.lstatSync(at(pin.fd, Buffer.from("root")));
    } catch {
      hasRoot = false;
    }
    // An install killed before it gave the zonepath its group made no root tree either.
    if (st.uid !== 0 || st.gid !== gid) {
      if (!hasRoot) return;
      throw new ZoneError(`zonepath ${q(zonepath)} is not the directory install made (owner ${st.uid}, group ${st.gid}, not 0 and ${gid}); refusing to remove anything`);
    }
    removeZoneRoot(`/proc/self/fd/${pin.fd}/root`);
    // A layered zone's own layer (overlay.ts) is zone-written too: removed the same way.
    for (const d of LAYER_DIRS) removeZoneRoot(`/proc/self/fd/${pin.fd}/${d}`);
    // What install wrote beside the root (brand oci's image record), root's own file.
    for (const f of INSTALL_FILES) fs.rmSync(at(pin.fd, Buffer.from(f)), { force: true });
    try {
      fs.rmdirSync(at(pin.parent, pin.name));
    } catch {
      // the administrator keeps other files there: leave the directory
    }
  } finally {
    fs.closeSync(pin.fd);
    fs.closeSync(pin.parent);
  }
}

/**
 * Install's hold on the zonepath it just made or found: pinned, still root's and empty
 * (a user who could write an ancestor may have raced the checks), then given the zone
 * root's group through the descriptor, closed to others.
 */
export function claimZonepath(zonepath: string, gid: number): void {
  const pin = pinZonepath(zonepath);
  if (!pin) throw new ZoneError(`zonepath ${q(zonepath)} vanished during install`);
  try {
    const st = fs.fstatSync(pin.fd);
    if (st.uid !== 0) throw new ZoneError(`zonepath ${q(zonepath)} is owned by uid ${st.uid}, not root`);
    if (fs.readdirSync(at(pin.fd)).length > 0) throw new ZoneError(`zonepath ${q(zonepath)} is not empty; install needs an empty or new directory`);
    fs.chownSync(at(pin.fd), 0, gid);
    fs.chmodSync(at(pin.fd), 0o750);
  } finally {
    fs.closeSync(pin.fd);
    fs.closeSync(pin.parent);
  }
}
