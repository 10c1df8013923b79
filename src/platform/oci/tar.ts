/**
 * A small tar reader (ustar, GNU long names, pax headers) over a buffer: what OCI image
 * layers and image-layout tars need, no npm dependency. Every header field comes from
 * an image the global zone did not make, so every number is checked against the buffer
 * and a short or malformed archive is refused with one line, never read past.
 */
import { ZoneError, q } from "../../native/errors.js";

export type TarType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

export interface TarEntry {
  /** The name as the archive gives it (pax path or GNU long name applied), not yet normalized. */
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  /** Symlink target or hard link's archive name. */
  linkname: string;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  data: Buffer;
}

const BLOCK = 512;

/** A blob or uncompressed layer larger than this is refused: layers are read whole into memory. */
export const MAX_BLOB = 2 ** 31 - 1;

/** A numeric field: octal text, or GNU base-256 (high bit set) for large values. */
function num(h: Buffer, off: number, len: number, what: string, archive: string): number {
  const f = h.subarray(off, off + len);
  if (f[0]! & 0x80) {
    let v = 0;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i]!;
    if (!Number.isSafeInteger(v)) throw new ZoneError(`${archive}: tar header ${what} is too large`);
    return v;
  }
  const s = f.toString("latin1").replace(/\0.*$/s, "").trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new ZoneError(`${archive}: tar header ${what} ${q(s)} is not octal`);
  return parseInt(s, 8);
}

function str(h: Buffer, off: number, len: number): string {
  const f = h.subarray(off, off + len);
  const end = f.indexOf(0);
  return f.subarray(0, end < 0 ? f.length : end).toString("utf8");
}

/** pax extended header records: "LEN key=value\n" each. */
function pax(data: Buffer, archive: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    const len = sp < 0 ? NaN : Number(data.subarray(i, sp).toString("latin1"));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) throw new ZoneError(`${archive}: malformed pax header record`);
    const rec = data.subarray(sp + 1, i + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

const TYPES: Record<string, TarType> = { "0": "file", "\0": "file", "7": "file", "1": "hardlink", "2": "symlink", "3": "char", "4": "block", "5": "dir", "6": "fifo" };

/** Every entry of archive `buf`, in order; `archive` names it in messages. */
export function* readTar(buf: Buffer, archive: string): Generator<TarEntry> {
  let off = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let ext = new Map<string, string>();
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) return; // end of archive
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== num(h, 148, 8, "checksum", archive)) throw new ZoneError(`${archive}: tar header at byte ${off} has a bad checksum`);
    // A pax size (files over 8 GiB) replaces the header's.
    const size = ext.has("size") ? Number(ext.get("size")) : num(h, 124, 12, "size", archive);
    if (!Number.isSafeInteger(size) || size < 0) throw new ZoneError(`${archive}: tar entry at byte ${off} has a bad size`);
    const flag = String.fromCharCode(h[156]!);
    const start = off + BLOCK;
    if (start + size > buf.length) throw new ZoneError(`${archive}: truncated: entry at byte ${off} needs ${size} bytes, ${buf.length - start} left`);
    const data = buf.subarray(start, start + size);
    off = start + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === "L") longName = str(data, 0, data.length);
    else if (flag === "K") longLink = str(data, 0, data.length);
    else if (flag === "x") ext = pax(data, archive);
    else if (flag === "g") continue; // global pax header: nothing we use
    else {
      const type = TYPES[flag];
      if (!type) throw new ZoneError(`${archive}: tar entry type ${q(flag)} is not supported`);
      const prefix = h.subarray(257, 263).toString("latin1").startsWith("ustar") ? str(h, 345, 155) : "";
      const name = ext.get("path") ?? longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
      const entry: TarEntry = {
        name,
        type,
        mode: num(h, 100, 8, "mode", archive) & 0o7777,
        uid: ext.has("uid") ? Number(ext.get("uid")) : num(h, 108, 8, "uid", archive),
        gid: ext.has("gid") ? Number(ext.get("gid")) : num(h, 116, 8, "gid", archive),
        linkname: ext.get("linkpath") ?? longLink ?? str(h, 157, 100),
        mtime: ext.has("mtime") ? Number(ext.get("mtime")) : num(h, 136, 12, "mtime", archive),
        data: type === "file" ? data : Buffer.alloc(0),
      };
      if (!Number.isFinite(entry.mtime)) entry.mtime = 0;
      if (!Number.isSafeInteger(entry.uid) || !Number.isSafeInteger(entry.gid) || entry.uid < 0 || entry.gid < 0) throw new ZoneError(`${archive}: entry ${q(name)} has a bad owner`);
      longName = longLink = undefined;
      ext = new Map();
      yield entry;
    }
  }
  // Ends without the two zero blocks (or mid-header): a truncated archive.
  throw new ZoneError(`${archive}: truncated: no end-of-archive marker`);
}

/**
 * The components of an archive name below the root: "./" and "//" dropped, a trailing
 * "/" dropped. Absolute names and ".." are refused: nothing in an image names a place
 * outside the tree it builds.
 */
export function entryParts(name: string, archive: string): string[] {
  if (name.startsWith("/")) throw new ZoneError(`${archive}: entry ${q(name)} is an absolute path; refusing it`);
  if (name.includes("\0")) throw new ZoneError(`${archive}: entry ${q(name)} has a NUL byte`);
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new ZoneError(`${archive}: entry ${q(name)} has a ".." component; refusing it`);
  return parts;
}
