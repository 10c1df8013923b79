/**
 * An exclusive flock(2) on a lock file. The kernel drops it when the holder dies, so a
 * `kill -9` never leaves the repository locked.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import { ZoneError } from "./errors.js";
import { sys } from "./sys.js";

const LOCK_EX = 2;
const LOCK_UN = 8;

type Flock = (fd: number, op: number) => number;
interface KoffiNative {
  load(lib: string): { func(sig: string): unknown };
}

let flockFn: Flock | undefined;

/**
 * flock(2) from koffi's prebuilt native module, loaded directly: koffi's entry point
 * spends ~6 ms finding that module (reading node's ELF header for its libc) on every
 * zonecfg commit; the module itself loads in ~2 ms. The same file koffi itself would
 * load (Node's require cache shares it with sys()). Any surprise falls back to sys().
 */
function flock(): Flock {
  if (flockFn) return flockFn;
  try {
    // A bundle (CommonJS) has its own require; createRequire and import.meta.url load
    // node:module and the URL machinery (~1-3 ms) for the ES modules that tests run.
    const req = typeof require === "function" ? require : createRequire(import.meta.url);
    const pkg = `@koromix/koffi-${process.platform}-${process.arch}`;
    let native: KoffiNative | undefined;
    // glibc's build first; on a musl host it fails to load and musl's is next (koffi's order).
    for (const build of [`${process.platform}_${process.arch}`, `musl_${process.arch}`]) {
      try {
        native = req(`${pkg}/${build}/koffi.node`) as KoffiNative;
        break;
      } catch {
        // the next build, then sys()
      }
    }
    if (!native) throw new Error("no prebuilt koffi module");
    flockFn = native.load("libc.so.6").func("int flock(int fd, int op)") as Flock;
  } catch {
    flockFn = (fd, op) => sys().flock(fd, op);
  }
  return flockFn;
}

/** Run fn while holding the exclusive lock on `file` (created if missing). */
export function withLock<T>(file: string, fn: () => T): T {
  // Node opens every file with O_CLOEXEC already.
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
