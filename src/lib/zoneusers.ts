/**
 * Looking up a user in a zone's own /etc/passwd from the global zone. The file belongs
 * to the zone's root, who may have made it a symbolic link to a host file: nothing on
 * the way is followed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "./errors.js";

export interface ZoneUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Read a file under `root` without following symbolic links in `rel`'s components. */
function readNoFollow(root: string, rel: string): string {
  let cur = root;
  for (const part of rel.split("/").filter(Boolean)) {
    cur = path.join(cur, part);
    if (fs.lstatSync(cur).isSymbolicLink()) throw new ZoneError(`${q("/" + rel)} in the zone is a symbolic link; refusing to follow it`);
  }
  const fd = fs.openSync(cur, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new ZoneError(`${q("/" + rel)} in the zone is not a regular file`);
    return fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
}

export function zoneUser(root: string, name: string): ZoneUser {
  let text: string;
  try {
    text = readNoFollow(root, "etc/passwd");
  } catch (e) {
    if (e instanceof ZoneError) throw e;
    throw new ZoneError(`cannot read the zone's /etc/passwd: ${(e as Error).message}`);
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] !== name || f.length < 7) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0 || uid > 65535 || gid > 65535)
      throw new ZoneError(`user ${q(name)} has an invalid uid or gid in the zone's /etc/passwd`);
    return { name, uid, gid, home: f[5] || "/", shell: f[6] || "/bin/sh" };
  }
  throw new ZoneError(`no user ${q(name)} in the zone`);
}
