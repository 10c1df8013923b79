/**
 * Applying an OCI image's layers to a zone's tree, in order, with their whiteouts
 * (image-spec layer.md): `.wh.NAME` removes NAME of the layers below, `.wh..wh..opq`
 * empties its directory of what the layers below put there. Owners are shifted into
 * the zone's uid slot (tree.ts shifted). Every write goes through zonefs: no entry is
 * written through a link, so an entry that passes through a symlink an earlier entry
 * planted, like one naming `..` or an absolute path, is refused and the install fails.
 * Device nodes and FIFOs are refused; hard links stay within the tree.
 */
import { spawnSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { ZoneError, q } from "../../native/errors.js";
import { shifted } from "../brands/tree.js";
import { SLOT_SIZE } from "../slots.js";
import type { ZoneRoot } from "../zonefs.js";
import { entryParts, MAX_BLOB, readTar } from "./tar.js";

const WH = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** Layer media types we read, and how their bytes become a tar. */
const DECODERS: Record<string, (b: Buffer) => Buffer> = {
  "application/vnd.oci.image.layer.v1.tar": (b) => b,
  // Bounded: a small blob that inflates without end is refused, not held in memory.
  "application/vnd.oci.image.layer.v1.tar+gzip": (b) => gunzipSync(b, { maxOutputLength: MAX_BLOB }),
  "application/vnd.oci.image.layer.v1.tar+zstd": unzstd,
  "application/vnd.docker.image.rootfs.diff.tar": (b) => b,
  "application/vnd.docker.image.rootfs.diff.tar.gzip": (b) => gunzipSync(b, { maxOutputLength: MAX_BLOB }),
};

/** Node 20's zlib has no zstd: the zstd command (Debian's zstd package), bounded like gunzip. */
function unzstd(b: Buffer): Buffer {
  const r = spawnSync("zstd", ["-dcq"], { input: b, maxBuffer: MAX_BLOB });
  if (r.error) throw new Error((r.error as NodeJS.ErrnoException).code === "ENOENT" ? "zstd layers need the zstd command (apt-get install zstd)" : r.error.message);
  if (r.status !== 0) throw new Error(`zstd: ${r.stderr.toString().trim().split("\n")[0] ?? `exit ${r.status}`}`);
  return r.stdout;
}

export function supportedLayer(mediaType: string): boolean {
  return mediaType in DECODERS;
}

/** The uncompressed tar of a layer blob (gzip checked by zlib: a corrupt stream is one line). */
export function layerTar(blob: Buffer, mediaType: string, what: string): Buffer {
  const decode = DECODERS[mediaType];
  if (!decode) throw new ZoneError(`${what}: layer media type ${q(mediaType)} is not supported (tar, tar+gzip and tar+zstd are)`);
  try {
    return decode(blob);
  } catch (err) {
    throw new ZoneError(`${what}: cannot decompress: ${(err as Error).message}`);
  }
}

/**
 * Apply one layer's tar to the tree pinned by `zr`; `base` is the host uid of the
 * zone's root. Whiteouts act on the layers below only: what this layer wrote itself
 * stays (the spec allows whiteouts after their siblings).
 */
export function applyLayer(zr: ZoneRoot, tar: Buffer, base: number, what: string): void {
  const mine = new Set<string>();
  // Directories' times are set once the layer is written: their entries change them.
  const dirs: [string, number][] = [];
  for (const e of readTar(tar, what)) {
    const parts = entryParts(e.name, what);
    if (parts.length === 0) {
      if (e.type !== "dir") throw new ZoneError(`${what}: the root entry ${q(e.name)} is not a directory`);
      zr.mkdir("", e.mode, shifted(base, e.uid), shifted(base, e.gid));
      dirs.push(["", e.mtime]);
      continue;
    }
    const last = parts[parts.length - 1]!;
    const dir = parts.slice(0, -1).join("/");
    if (last === OPAQUE) {
      if (!zr.isDirectory(dir)) continue;
      for (const n of zr.list(dir)) {
        const rel = dir === "" ? n.toString() : `${dir}/${n.toString()}`;
        if (!mine.has(rel)) zr.remove(Buffer.from(dir === "" ? n : Buffer.concat([Buffer.from(dir + "/"), n])));
      }
      continue;
    }
    if (last.startsWith(WH)) {
      const rel = [...parts.slice(0, -1), last.slice(WH.length)].join("/");
      if (last.length === WH.length) throw new ZoneError(`${what}: whiteout ${q(e.name)} names nothing`);
      if (!mine.has(rel)) zr.remove(rel);
      continue;
    }
    const rel = parts.join("/");
    const uid = shifted(base, e.uid);
    const gid = shifted(base, e.gid);
    // Set-id bits stay only on an owner the zone has: an id outside the slot, made nobody, loses them.
    const mode = e.mode & ~(e.uid >= SLOT_SIZE ? 0o4000 : 0) & ~(e.gid >= SLOT_SIZE ? 0o2000 : 0);
    const now = zr.kind(rel);
    // An entry of another kind replaces what the layers below had there.
    if (now !== undefined && (now === "dir") !== (e.type === "dir")) zr.remove(rel);
    switch (e.type) {
      case "dir":
        zr.mkdir(rel, mode, uid, gid);
        break;
      case "file":
        zr.writeFile(rel, e.data, mode, uid, gid);
        break;
      case "symlink":
        // Written, never followed: an absolute target means the zone's own root at run time.
        zr.symlink(rel, e.linkname, uid, gid);
        break;
      case "hardlink":
        zr.link(rel, entryParts(e.linkname, what).join("/"));
        break;
      default:
        throw new ZoneError(`${what}: entry ${q(e.name)} is a ${e.type === "fifo" ? "FIFO" : `${e.type} device`}; zones get device nodes from the platform, not from images`);
    }
    mine.add(rel);
    // Kept from the image: Python's .pyc files, make and caches compare them.
    if (e.type === "dir") dirs.push([rel, e.mtime]);
    else if (e.type !== "hardlink") zr.times(rel, e.mtime);
  }
  for (const [rel, mtime] of dirs.reverse()) if (zr.kind(rel) === "dir") zr.times(rel, mtime);
}
