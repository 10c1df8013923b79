/**
 * Looking up a user in a zone's own /etc/passwd from the global zone. The file belongs
 * to the zone's root, who may have made it a symbolic link to a host file: nothing on
 * the way is followed.
 */
import { ZoneError, q } from "../native/errors.js";
import { ZoneRoot } from "./zonefs.js";

export interface ZoneUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Large enough for any real account file; a zone's bigger one is refused, not read. */
const PASSWD_MAX = 16 << 20;

/** The zone's /etc/passwd, read through zonefs: no link followed, regular files only. */
function readPasswd(root: string): string {
  const zr = ZoneRoot.open(root);
  try {
    return zr.readFile("etc/passwd", PASSWD_MAX).toString("utf8");
  } finally {
    zr.close();
  }
}

export function zoneUser(root: string, name: string): ZoneUser {
  let text: string;
  try {
    text = readPasswd(root);
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
