/**
 * The host programs zoneadmd starts for every zone it boots: the console holder
 * (`sleep infinity`) and the user namespace's helper (`setpriv` as the slot's ids,
 * `unshare --user`, `sleep`). Each start is an exec, and a dynamically linked one pays
 * the loader on top: busybox's applets (busybox-static, which the minimal brand needs
 * anyway) in place of coreutils' and util-linux's save ~0.8 ms of the host's CPU per
 * boot (2-core VM, posix_spawn, 100 starts: the namespace's helper 2.8-3.2 ms against
 * 2.1-3.1, the holder 0.8-0.9 against 0.6-0.7). Resolved once, by absolute path, so no
 * start walks zoneadmd's PATH (each directory missed is a failed execve).
 * busybox's setpriv cannot change ids: util-linux's stays.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";

/** What to start for a helper: the file, and the argv[0] that names the program. */
export interface HelperBin {
  file: string;
  argv0: string;
}

const BUSYBOX = "/bin/busybox";
const SYSTEM_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

let applets: Set<string> | undefined;

/** busybox's applets, read once; none when it is missing or not a busybox. */
function busyboxApplets(): Set<string> {
  if (applets) return applets;
  const r = fs.existsSync(BUSYBOX) ? spawnSync(BUSYBOX, ["--list"], { encoding: "utf8", timeout: 5000 }) : undefined;
  applets = new Set(r?.status === 0 ? r.stdout.split("\n") : []);
  return applets;
}

/** The system's own `name` by absolute path (the name alone, for posix_spawnp, when not found). */
function systemBin(name: string): string {
  for (const dir of SYSTEM_DIRS) {
    try {
      fs.accessSync(`${dir}/${name}`, fs.constants.X_OK);
      return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return name;
}

const chosen = new Map<string, HelperBin>();

/** `sleep` or `unshare`: busybox's applet when it has one, else the system's program. */
export function helperBin(name: "sleep" | "unshare"): HelperBin {
  let b = chosen.get(name);
  if (!b) {
    b = busyboxApplets().has(name) ? { file: BUSYBOX, argv0: name } : { file: systemBin(name), argv0: name };
    chosen.set(name, b);
  }
  return b;
}

/** util-linux's setpriv by absolute path. */
export function setprivBin(): string {
  let b = chosen.get("setpriv");
  if (!b) {
    b = { file: systemBin("setpriv"), argv0: "setpriv" };
    chosen.set("setpriv", b);
  }
  return b.file;
}

/**
 * argv that runs `name` from another program's exec (setpriv's, unshare's): busybox's
 * applets as `busybox <applet>`, since those programs set argv[0] to the file they run.
 */
export function helperArgv(name: "sleep" | "unshare", args: readonly string[]): string[] {
  const b = helperBin(name);
  return b.file === BUSYBOX ? [BUSYBOX, name, ...args] : [b.file, ...args];
}
