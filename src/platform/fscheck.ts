/**
 * zoneadm verify (and ready) for fs and dataset resources: what only the host can tell.
 * `special` exists and is of the type's kind (lofs: a directory; block types: a block
 * device or an image file), a block special is not mounted on the host already (nor
 * is an image attached to a loop device mounted elsewhere), `dir` is not owned by the
 * zone's brand (a tree it shares into the zone), the fs type is one this kernel has,
 * and each dataset is a host directory no other zone holds.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { q } from "../native/errors.js";
import type { ZoneConfig } from "../document/model.js";
import { pathWithin } from "../document/names.js";
import { zonePaths } from "../document/store/paths.js";
import { Repository } from "../document/store/repository.js";
import { brand as brandOf } from "./brands.js";
import { datasetConflicts, type DatasetHolder } from "./datasets.js";

/** Kernel file-system types (/proc/filesystems); lofs is a bind and needs none. */
function kernelHas(type: string): boolean {
  if (type === "lofs") return true;
  try {
    if (fs.readFileSync("/proc/filesystems", "utf8").split("\n").some((l) => l.split("\t")[1] === type)) return true;
  } catch {
    return true; // cannot tell: mount says so at ready
  }
  // Not loaded yet: a module may still provide it.
  return fs.existsSync(`/lib/modules/${fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}/kernel/fs/${type}`);
}

/** Mount points of device `maj:min` in this mount namespace. */
function mountPointsOfDev(majmin: string): string[] {
  const out: string[] = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[2] === majmin && f[4] !== undefined) out.push(f[4].replace(/\\040/g, " "));
  }
  return out;
}

/** Loop devices backed by file `file`, as "loopN" and "maj:min". */
function loopsOf(file: string): Array<{ name: string; dev: string }> {
  const out: Array<{ name: string; dev: string }> = [];
  let real: string;
  try {
    real = fs.realpathSync(file);
    for (const name of fs.readdirSync("/sys/block")) {
      if (!name.startsWith("loop")) continue;
      try {
        if (fs.readFileSync(`/sys/block/${name}/loop/backing_file`, "utf8").trim() === real) out.push({ name, dev: fs.readFileSync(`/sys/block/${name}/dev`, "utf8").trim() });
      } catch {
        // not attached
      }
    }
  } catch {
    // no /sys/block: nothing to tell
  }
  return out;
}

/** Why block `special` is in use outside zone root `root`, if it is. */
export function blockInUse(special: string, st: fs.Stats, root: string): string | undefined {
  const outside = (mps: string[]): string | undefined => mps.find((m) => !pathWithin(m, root));
  if (st.isBlockDevice()) {
    const m = outside(mountPointsOfDev(`${Math.floor(st.rdev / 256) & 0xfff}:${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)}`));
    return m ? `it is mounted on the host at ${q(m)}` : undefined;
  }
  for (const l of loopsOf(special)) {
    const mps = mountPointsOfDev(l.dev);
    const m = outside(mps);
    if (m) return `it is attached to /dev/${l.name}, mounted at ${q(m)}`;
    if (mps.length === 0) return `it is attached to /dev/${l.name}; detach it first (losetup -d /dev/${l.name})`;
  }
  return undefined;
}

/** Host problems of the fs resources of `z`, one line each. */
export function fsHostProblems(z: ZoneConfig): string[] {
  const out: string[] = [];
  const root = path.join(z.zonepath, "root");
  const shared = brandOf(z.brand)?.shared ?? [];
  for (const f of z.fs) {
    const where = `fs ${q(f.dir)}`;
    const owned = shared.find((s) => pathWithin(f.dir, s.target));
    if (owned) out.push(`${where}: dir is inside ${q(owned.target)}, which the ${z.brand} brand shares read-only from the host`);
    if (!kernelHas(f.type)) out.push(`${where}: this kernel has no file system ${q(f.type)}`);
    // tmpfs has no special (illumos writes special=swap).
    if (f.type === "tmpfs") continue;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(f.special);
    } catch {
      out.push(`${where}: special ${q(f.special)} does not exist`);
      continue;
    }
    if (f.type === "lofs") {
      // The zone's own tree shown inside itself: a loop of mounts, and its root's files to the zone.
      if (z.zonepath !== "" && (pathWithin(z.zonepath, f.special) || pathWithin(f.special, z.zonepath))) out.push(`${where}: special ${q(f.special)} overlaps the zone's zonepath ${q(z.zonepath)}`);
      else if (!st.isDirectory()) out.push(`${where}: special ${q(f.special)} is not a directory (lofs shows a host directory)`);
    } else {
      if (!st.isBlockDevice() && !st.isFile()) out.push(`${where}: special ${q(f.special)} is neither a block device nor an image file`);
      else {
        const busy = blockInUse(f.special, st, root);
        if (busy) out.push(`${where}: special ${q(f.special)} cannot be given to the zone: ${busy}`);
      }
      if (f.raw !== "" && !fs.existsSync(f.raw)) out.push(`${where}: raw ${q(f.raw)} does not exist`);
    }
  }
  for (const d of z.dataset) {
    const owned = shared.find((s) => pathWithin(d.name, s.target));
    if (owned) out.push(`dataset ${q(d.name)}: it would appear inside ${q(owned.target)}, which the ${z.brand} brand shares read-only from the host`);
  }
  // Only a zone with datasets reads the others' documents: a ready of a zone without any
  // must not cost a read of every configuration (hundreds on a dense host).
  if (z.dataset.length > 0) out.push(...datasetConflicts(z, holders(z.zonename)));
  return out;
}

/** Every other zone of this root with its datasets. */
function holders(self: string): DatasetHolder[] {
  const repo = new Repository(zonePaths());
  const out: DatasetHolder[] = [];
  for (const e of repo.list()) {
    if (e.name === self) continue;
    try {
      out.push({ name: e.name, zonepath: e.zonepath, datasets: repo.load(e.name).dataset.map((d) => d.name) });
    } catch {
      out.push({ name: e.name, zonepath: e.zonepath, datasets: [] }); // unreadable: its own verify says so
    }
  }
  return out;
}
