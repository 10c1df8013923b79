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
import { shiftTree } from "./shift.js";
import { ZoneError, q } from "../native/errors.js";
import type { ZoneConfig } from "../document/model.js";
import { pathWithin } from "../document/names.js";

export { shiftedId } from "./shift.js";

/**
 * Move every owner under dataset `dir` into the slot (base, size), unless `dir` itself
 * is already the slot root's: done once per delegation (the walk is shift.ts's).
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
  shiftTree(dir, base, "dataset", size);
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
