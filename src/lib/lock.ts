/**
 * An exclusive flock(2) on a lock file. The kernel drops it when the holder dies, so a
 * `kill -9` never leaves the repository locked.
 */
import * as fs from "node:fs";
import { ZoneError } from "./errors.js";
import { sys } from "./sys.js";

const LOCK_EX = 2;
const LOCK_UN = 8;

/** Run fn while holding the exclusive lock on `file` (created if missing). */
export function withLock<T>(file: string, fn: () => T): T {
  // Node opens every file with O_CLOEXEC already.
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    if (sys().flock(fd, LOCK_EX) !== 0) throw new ZoneError(`cannot lock ${file}`);
    try {
      return fn();
    } finally {
      sys().flock(fd, LOCK_UN);
    }
  } finally {
    fs.closeSync(fd);
  }
}
