/**
 * A zone's file systems (`add fs`) and datasets, mounted by the global zone at ready,
 * before the runtime creates the zone: its init finds them, and the runtime's recursive
 * bind of the root carries them into the zone's mount namespace, where the kernel locks
 * their flags (a read-only mount stays read-only for the zone's root). Each goes onto
 * a mount point pinned by zonefs (no link the zone planted is followed, and a file,
 * FIFO or link where a directory should be is refused with one line); halt's
 * unmountZoneRoot detaches them, and a loop device goes with its last mount
 * (LO_FLAGS_AUTOCLEAR from the start: src/native/loop.ts).
 *
 * - lofs: a detached clone of the host tree (open_tree), with the options' flags, and
 *   with `idmap` shown through the zone's uid slot (host root's files are the zone
 *   root's); without it host root's files appear as nobody (65534, the overflow uid).
 * - tmpfs: a fresh one (fsopen) made by host root, its root directory the zone root's
 *   (uid=, gid=): the zone's root cannot remount it to raise its size.
 * - block types: a fresh detached mount (fsopen, source the device, or a loop device
 *   of an image file; fsck -p on `raw` first); `idmap` as for lofs.
 * - datasets: shifted into the slot once (datasets.ts) and bound read-write.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { ZoneError, q } from "../native/errors.js";
import type { FsResource, ZoneConfig } from "../document/model.js";
import { parseFsOptions, type FsOptions } from "../document/fsrules.js";
import { ATTR_IDMAP, ATTR_NOATIME, ATTR_NODIRATIME, ATTR_STRICTATIME, ATTR_NODEV, ATTR_NOEXEC, ATTR_NOSUID, ATTR_RDONLY, cloneTree, freshMount, moveOnto, setAttrs } from "./mountapi.js";
import { shiftDataset } from "./datasets.js";
import { fsHostProblems } from "./fscheck.js";
import { attachLoop } from "../native/loop.js";
import type { ZoneRoot } from "./zonefs.js";

function attrsOf(o: FsOptions): number {
  // Every zone file system is nodev: the zone's devices are those `add device` gives.
  return ATTR_NODEV | (o.readonly ? ATTR_RDONLY : 0) | (o.nosuid ? ATTR_NOSUID : 0) | (o.noexec ? ATTR_NOEXEC : 0);
}

/**
 * Make directory `dir` of the zone and its missing parents, owned by the zone's root;
 * existing ones are left as they are. A link, file or FIFO on the way is refused by the
 * pinned walk. Returns an O_PATH descriptor of it for the mount.
 */
function mountPointFor(zr: ZoneRoot, dir: string, base: number): number {
  const parts = dir.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join("/");
    if (!zr.isDirectory(rel)) zr.mkdir(rel, 0o755, base, base);
  }
  return zr.mountPoint(parts.join("/"));
}

/** What to mount at one zone directory. */
interface Planned {
  dir: string;
  label: string;
  /** A detached mount ready to move; the caller closes it. */
  make(): number;
}

function lofs(f: FsResource, o: FsOptions, userns: number): Planned {
  const label = `fs ${q(f.dir)}`;
  return {
    dir: f.dir,
    label,
    make() {
      if (!isDir(f.special)) throw new ZoneError(`${label}: special ${q(f.special)} is not a directory on this host`);
      const tree = cloneTree(f.special, label);
      try {
        setAttrs(tree, attrsOf(o) | (o.idmap ? ATTR_IDMAP : 0), label, userns);
        return tree;
      } catch (err) {
        fs.closeSync(tree);
        throw err;
      }
    },
  };
}

function tmpfs(f: FsResource, o: FsOptions, base: number): Planned {
  const label = `fs ${q(f.dir)}`;
  const params: Array<[string, string]> = [["uid", String(base)], ["gid", String(base)], ["mode", o.mode || "1777"]];
  if (o.size !== "") params.push(["size", o.size]);
  return { dir: f.dir, label, make: () => freshMount("tmpfs", params, attrsOf(o), label) };
}

/** Mount-level atime options, which fsconfig does not take (they are the mount's, not the file system's). */
const ATIME: Record<string, number> = { noatime: ATTR_NOATIME, strictatime: ATTR_STRICTATIME, nodiratime: ATTR_NODIRATIME, relatime: 0 };

function block(f: FsResource, o: FsOptions, userns: number): Planned {
  const label = `fs ${q(f.dir)}`;
  return {
    dir: f.dir,
    label,
    make() {
      let st: fs.Stats;
      try {
        st = fs.statSync(f.special);
      } catch {
        throw new ZoneError(`${label}: special ${q(f.special)} does not exist`);
      }
      if (!st.isBlockDevice() && !st.isFile()) throw new ZoneError(`${label}: special ${q(f.special)} is neither a block device nor an image file`);
      if (f.raw !== "") {
        // fsck's exit status: 0 clean, 1 errors corrected; anything else is not mountable.
        const r = spawnSync("fsck", ["-p", "-t", f.type, f.raw], { encoding: "utf8", timeout: 600_000 });
        if (r.status !== 0 && r.status !== 1) throw new ZoneError(`${label}: fsck -p ${q(f.raw)} exited ${r.status ?? r.signal}: ${oneLine(r.stdout + r.stderr)}`);
      }
      // Made detached (fsmount): no staging path exists that a cut-short ready could leave
      // mounted where teardown's removal of the run directory would delete through it.
      let loop: { dev: string; fd: number } | undefined;
      try {
        loop = st.isFile() ? attachLoop(f.special, o.readonly) : undefined;
      } catch (err) {
        throw err instanceof ZoneError ? new ZoneError(`${label}: ${err.message}`) : err;
      }
      try {
        let atime = 0;
        const params: Array<[string, string?]> = [["source", loop?.dev ?? f.special]];
        if (o.readonly) params.push(["ro"]);
        for (const p of o.passed) {
          if (p in ATIME) atime |= ATIME[p]!;
          else {
            const eq = p.indexOf("=");
            params.push(eq < 0 ? [p] : [p.slice(0, eq), p.slice(eq + 1)]);
          }
        }
        const tree = freshMount(f.type, params, attrsOf(o) | atime, label);
        try {
          setAttrs(tree, o.idmap ? ATTR_IDMAP : 0, label, userns);
          return tree;
        } catch (err) {
          fs.closeSync(tree);
          throw err;
        }
      } finally {
        // The mount holds the device now (or nothing does, and it detaches itself).
        if (loop) fs.closeSync(loop.fd);
      }
    },
  };
}

function dataset(name: string, base: number, size: number): Planned {
  const label = `dataset ${q(name)}`;
  return {
    dir: name,
    label,
    make() {
      shiftDataset(name, base, size);
      const tree = cloneTree(name, label);
      try {
        setAttrs(tree, ATTR_NODEV, label);
        return tree;
      } catch (err) {
        fs.closeSync(tree);
        throw err;
      }
    },
  };
}

/**
 * Mount every fs and dataset of `z` in the zone, parents before the file systems
 * below them. `userns` is the zone's user namespace (the id map of `idmap`). On failure what was mounted stays for the
 * caller's teardown (unmountZoneRoot), and the error names the resource.
 */
export function mountZoneFs(zr: ZoneRoot, z: ZoneConfig, base: number, size: number, userns: number): void {
  if (z.fs.length === 0 && z.dataset.length === 0) return;
  // The host may have changed since verify: a special gone, a device mounted, a dataset taken.
  const problems = fsHostProblems(z);
  if (problems.length > 0) throw new ZoneError(problems[0]!);
  const plan: Planned[] = [];
  for (const f of z.fs) {
    const o = parseFsOptions(f.dir, f.type, f.options);
    plan.push(f.type === "lofs" ? lofs(f, o, userns) : f.type === "tmpfs" ? tmpfs(f, o, base) : block(f, o, userns));
  }
  for (const d of z.dataset) plan.push(dataset(d.name, base, size));
  plan.sort((a, b) => a.dir.split("/").length - b.dir.split("/").length);
  for (const p of plan) {
    const tree = p.make();
    try {
      let target: number;
      try {
        target = mountPointFor(zr, p.dir, base);
      } catch (err) {
        throw err instanceof ZoneError ? new ZoneError(`${p.label}: ${err.message}`) : err;
      }
      try {
        moveOnto(tree, target, p.label);
      } finally {
        fs.closeSync(target);
      }
    } finally {
      fs.closeSync(tree);
    }
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function oneLine(s: string): string {
  return s.trim().split("\n").filter(Boolean).join("; ").slice(0, 300);
}
