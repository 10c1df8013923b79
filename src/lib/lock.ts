/**
 * An exclusive flock(2) on a lock file. The kernel drops it when the holder dies, so a
 * `kill -9` never leaves the repository locked. Node has no flock; koffi calls libc's.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import { ZoneError } from "./errors.js";

const LOCK_EX = 2;
const LOCK_UN = 8;

type FlockFn = (fd: number, op: number) => number;
let flockFn: FlockFn | undefined;

function flock(): FlockFn {
  if (!flockFn) {
    // Loaded lazily: it costs ~20 ms and only writers need it.
    const koffi = createRequire(import.meta.url)("koffi") as { load(lib: string): { func(sig: string): FlockFn } };
    flockFn = koffi.load("libc.so.6").func("int flock(int fd, int op)");
  }
  return flockFn;
}

// Node opens every file with O_CLOEXEC already.

/** Run fn while holding the exclusive lock on `file` (created if missing). */
export function withLock<T>(file: string, fn: () => T): T {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    if (flock()(fd, LOCK_EX) !== 0) throw new ZoneError(`cannot lock ${file}`);
    try {
      return fn();
    } finally {
      flock()(fd, LOCK_UN);
    }
  } finally {
    fs.closeSync(fd);
  }
}
