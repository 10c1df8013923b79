/**
 * The one owner-shifting walk: every file of a tree moves into a uid slot (host id u
 * becomes base + u % SLOT_SIZE). Datasets use it once per delegation; clone and attach
 * use it to move a zone's tree from one slot to another. The mapping keeps each id's
 * place in its slot, so a zone's users stay apart, and it is idempotent: a walk cut
 * short by a kill is finished by running it again.
 *
 * Links are lchown'd and never followed; a mount below the top (another file system)
 * is not entered. The tree's zone is not running while this runs, so nothing in it
 * races the walk.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { SLOT_SIZE } from "./slots.js";

/** Host owner in the slot at `base` of host id `id`, keeping its place in its slot. */
export function shiftedId(id: number, base: number, size = SLOT_SIZE): number {
  return base + (id % size);
}

/**
 * Shift every owner under `dir` into the slot at `base`. `what` names the tree in
 * messages ("dataset", "zone root"). A regular file that also has a hard link outside
 * the tree is refused before anything changes: handing it to the slot would hand the
 * zone a file of the host's.
 */
export function shiftTree(dir: string, base: number, what: string, size = SLOT_SIZE, opts: { noDevices?: boolean } = {}): void {
  shiftEntries(scanTree(dir, what, opts), base, size);
}

/** A tree's entries, walked and checked (see shiftTree), for a shift later. */
export type TreeScan = Array<[string, fs.Stats]>;

/** Walk and check `dir` as shiftTree does, changing nothing: its refusals come before any change. */
export function scanTree(dir: string, what: string, opts: { noDevices?: boolean } = {}): TreeScan {
  let top: fs.Stats;
  try {
    top = fs.lstatSync(dir);
  } catch (err) {
    throw new ZoneError(`${what} ${q(dir)} does not exist on this host: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  if (!top.isDirectory()) throw new ZoneError(`${what} ${q(dir)} is not a directory on this host`);
  // First the whole tree, then the owners: every link of a file must be found inside.
  const entries: Array<[string, fs.Stats]> = [];
  const seen = new Map<number, number>();
  const walk = (p: string, st: fs.Stats): void => {
    entries.push([p, st]);
    if (!st.isDirectory()) {
      seen.set(st.ino, (seen.get(st.ino) ?? 0) + 1);
      return;
    }
    for (const name of fs.readdirSync(p)) {
      const child = path.join(p, name);
      const cst = fs.lstatSync(child);
      // A mount below it is another file system, not this tree's.
      if (cst.dev === top.dev) walk(child, cst);
    }
  };
  walk(dir, top);
  for (const [p, st] of entries) {
    // A zone tree from elsewhere (attach) may carry device nodes a host's root made;
    // a zone cannot make one itself, except overlay's whiteout (character 0:0).
    if (opts.noDevices && (st.isBlockDevice() || (st.isCharacterDevice() && st.rdev !== 0)))
      throw new ZoneError(`${what} ${q(dir)}: ${q(p)} is a device node; a zone's tree holds none (remove it first)`);
    if (!st.isDirectory() && st.nlink > (seen.get(st.ino) ?? 0))
      throw new ZoneError(`${what} ${q(dir)}: ${q(p)} has a hard link outside the ${what}; remove that link or copy the file first`);
  }
  return entries;
}

/** Move the owners of scanned entries into the slot at `base`. */
export function shiftEntries(entries: TreeScan, base: number, size = SLOT_SIZE): void {
  for (const [p, st] of entries) {
    const uid = shiftedId(st.uid, base, size);
    const gid = shiftedId(st.gid, base, size);
    if (uid === st.uid && gid === st.gid) continue;
    fs.lchownSync(p, uid, gid);
    // chown clears set-id bits of regular files; the zone's set-uid programs keep them.
    if (st.isFile() && (st.mode & 0o6000) !== 0) fs.chmodSync(p, st.mode & 0o7777);
  }
}
