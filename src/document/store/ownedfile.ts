/**
 * Reading a repository file (the index, a zone's document) only when it and its
 * directory are root's own and no symbolic link: anyone else who can replace them
 * could make zoneadmd act on their words. Its own file so that this check reads in one
 * place, apart from what the repository does with the text.
 */
import * as fs from "node:fs";
import { ZoneError } from "../../native/errors.js";
import type { Repository } from "./repository.js";

/**
 * Refuse a repository file or directory that is not root's own (or the caller's, under
 * a ZONES_ROOT of her own) or not of its kind. A delegated admin reads root's.
 */
function checkOwned(file: string, st: fs.Stats, kind: "a directory" | "a regular file"): void {
  if (st.isSymbolicLink()) throw new ZoneError(`${file} is a symbolic link; refusing it`);
  if (kind === "a directory" ? !st.isDirectory() : !st.isFile()) throw new ZoneError(`${file} is not ${kind}; refusing it`);
  const me = process.geteuid?.() ?? 0;
  if (st.uid !== me && st.uid !== 0) throw new ZoneError(`${file} is owned by uid ${st.uid}, not ${me === 0 ? "root" : `uid ${me}`}; refusing it`);
}

/**
 * A repository file's text, or undefined if it (or the directory) does not exist
 * and `mayBeMissing`. The directory and the file must be root's own and no symbolic
 * link: anyone else who can replace them could make zoneadmd act on their words.
 */
export function readChecked(this: Repository, file: string, mayBeMissing: boolean): string | undefined {
  const dir = this.paths.configDir;
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      if (mayBeMissing) return undefined;
      throw new ZoneError(`configuration ${file} is missing`);
    }
    throw new ZoneError(`cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  checkOwned(dir, st, "a directory");
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && mayBeMissing) return undefined;
    if (code === "ENOENT") throw new ZoneError(`configuration ${file} is missing`);
    if (code === "ELOOP") throw new ZoneError(`${file} is a symbolic link; refusing it`);
    throw new ZoneError(`cannot read ${file}: ${code ?? (e as Error).message}`);
  }
  try {
    checkOwned(file, fs.fstatSync(fd), "a regular file");
    return fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
}
