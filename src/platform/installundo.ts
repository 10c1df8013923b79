/**
 * Undoing a failed install for brands that promise it (brand oci: a malformed image
 * leaves nothing behind): the tree and the zonepath removed as uninstall removes them,
 * then the zonepath put back as it was before install, if it was there.
 */
import * as fs from "node:fs";
import { removeInstalledTree } from "./zonepath.js";

export interface ZonepathBefore {
  existed: boolean;
  mode: number;
  uid: number;
  gid: number;
}

/** The zonepath as install found it (install refuses one that is not an empty directory). */
export function zonepathBefore(zonepath: string): ZonepathBefore {
  try {
    const st = fs.lstatSync(zonepath);
    return { existed: st.isDirectory(), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch {
    return { existed: false, mode: 0, uid: 0, gid: 0 };
  }
}

export function undoInstall(zonepath: string, gid: number, before: ZonepathBefore): void {
  removeInstalledTree(zonepath, gid);
  if (!before.existed || fs.existsSync(zonepath)) return;
  fs.mkdirSync(zonepath, { mode: 0o700 });
  fs.chownSync(zonepath, before.uid, before.gid);
  fs.chmodSync(zonepath, before.mode);
}
