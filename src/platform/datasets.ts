/**
 * Datasets (`add dataset; set name=/srv/ds/web`): illumos delegates a ZFS dataset; here
 * the name is a host directory, delegated whole to one zone. It appears at the same
 * path inside the zone, owned by the zone's root and writable by it.
 *
 * Shifted, not id-mapped: at the first ready that finds the directory not yet the
 * zone's, every file's owner is moved into the zone's uid slot (host uid u becomes
 * base+u, see shiftedId), once; then a plain bind shows
 * them as the zone's own. An id-mapped bind would write the zone root's files as host
 * uid 0: a set-uid program the zone's root leaves there would be a host root set-uid
 * program for any host user who can reach the directory. Shifted, it is the slot's.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import type { ZoneConfig } from "../document/model.js";
import { pathWithin } from "../document/names.js";

/**
 * What owns a dataset's file of host id `id` once delegated to the slot of `size` at
 * `base`: the host's id u becomes base+u, and an id of another slot (a dataset moved
 * from one zone to another) keeps its place in the slot, so the zone's users stay apart.
 */
export function shiftedId(id: number, base: number, size: number): number {
  return base + (id % size);
}

/**
 * Move every owner under dataset `dir` into the slot (base, size), unless `dir` itself
 * is already the slot root's: done once per delegation. Links are lchown'd and never
 * followed; it runs before the zone is up, so nothing in the zone races the walk.
 */
export function shiftDataset(dir: string, base: number, size: number): void {
  let top: fs.Stats;
  try {
    top = fs.lstatSync(dir);
  } catch (err) {
    throw new ZoneError(`dataset ${q(dir)} does not exist on this host: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  if (!top.isDirectory()) throw new ZoneError(`dataset ${q(dir)} is not a directory on this host`);
  if (top.uid === base && top.gid === base) return;
  // First the whole tree, then the owners: a file also linked from outside the dataset
  // (a host user's hard link to a host file, planted before delegation) must not be
  // handed to the zone, so every link of a file must be found inside.
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
      // A mount below it is another file system, not the dataset's.
      if (cst.dev === top.dev) walk(child, cst);
    }
  };
  walk(dir, top);
  for (const [p, st] of entries)
    if (!st.isDirectory() && st.nlink > (seen.get(st.ino) ?? 0))
      throw new ZoneError(`dataset ${q(dir)}: ${q(p)} has a hard link outside the dataset; remove that link or copy the file before delegating it`);
  for (const [p, st] of entries) {
    fs.lchownSync(p, shiftedId(st.uid, base, size), shiftedId(st.gid, base, size));
    // chown clears set-id bits of regular files; the zone's set-uid programs keep them.
    if (st.isFile() && (st.mode & 0o6000) !== 0) fs.chmodSync(p, st.mode & 0o7777);
  }
}

/** Another zone's datasets, for the one-zone-each rule. */
export interface DatasetHolder {
  name: string;
  zonepath: string;
  datasets: readonly string[];
}

/** Datasets of `z` another zone holds (the same, or one inside the other), or a zonepath overlaps. */
export function datasetConflicts(z: ZoneConfig, others: readonly DatasetHolder[]): string[] {
  const out: string[] = [];
  for (const d of z.dataset) {
    if (z.zonepath !== "" && (pathWithin(d.name, z.zonepath) || pathWithin(z.zonepath, d.name))) out.push(`dataset ${q(d.name)} overlaps the zone's own zonepath ${q(z.zonepath)}`);
    for (const o of others) {
      if (o.name === z.zonename) continue;
      const held = o.datasets.find((n) => pathWithin(d.name, n) || pathWithin(n, d.name));
      if (held) out.push(`dataset ${q(d.name)} is already delegated to zone '${o.name}' (${held === d.name ? "the same directory" : `its dataset ${q(held)}`})`);
      else if (o.zonepath !== "" && (pathWithin(d.name, o.zonepath) || pathWithin(o.zonepath, d.name))) out.push(`dataset ${q(d.name)} overlaps the zonepath of zone '${o.name}': ${q(o.zonepath)}`);
    }
  }
  return out;
}
