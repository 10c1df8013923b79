/**
 * Crash-safe file replacement: write a temporary file beside the target, fsync it,
 * rename it over the target, fsync the directory. A crash or kill -9 at any instant
 * leaves the old file or the new one, never a torn one; a full disk fails before the
 * rename and leaves the old file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError } from "./errors.js";

const TMP_MARK = ".tmp-";

/**
 * `durable: false` skips the fsyncs: the file is still replaced whole (old or new after
 * any crash of ours), but a power loss may bring back the old one. For records that a
 * host reboot makes stale anyway, such as a zone being ready or running.
 * `syncDir: false` leaves the directory's fsync to a caller writing several files of
 * one directory, which fsyncs it once after the last (fsyncDir).
 */
export function writeFileAtomic(file: string, data: string, mode = 0o644, durable = true, syncDir = durable): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}${TMP_MARK}${process.pid}`);
  try {
    const fd = fs.openSync(tmp, "w", mode);
    try {
      fs.writeFileSync(fd, data);
      if (durable) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new ZoneError(`cannot write ${file}: ${(e as Error).message}`);
  }
  if (syncDir) fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Remove temporary files left by writers that died; call only while holding the lock. */
export function removeStaleTemporaries(dir: string): void {
  for (const f of fs.readdirSync(dir)) if (f.startsWith(".") && f.includes(TMP_MARK)) fs.rmSync(path.join(dir, f), { force: true });
}
