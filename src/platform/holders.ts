/**
 * Console holders (platform.ts) carry the zone's run directory in their environment,
 * so a daemon killed between spawning one and recording its pid can still find it:
 * the kernel is asked, not a file that may never have been written.
 */
import * as fs from "node:fs";
import { killNow } from "../native/posixspawn.js";

/** The environment variable naming the run directory a holder belongs to. */
export const HOLDER_ENV = "ZONES_CONSOLE_HOLDER";

/**
 * Host pids of the holders of the zone whose run directory is `runDir`. Only host-root
 * processes count: a zone's process (mapped uids) that copies the variable is not ours.
 */
export function findHolders(runDir: string): number[] {
  let pids: string[] = [];
  try {
    pids = fs.readdirSync("/proc").filter((p) => /^[0-9]+$/.test(p));
  } catch {
    return [];
  }
  return pids.map(Number).filter((pid) => isHolder(pid, runDir));
}

/** Is `pid` a host-root process whose environment begins with the holder variable for `runDir`? */
function isHolder(pid: number, runDir: string): boolean {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`);
    if (env.indexOf(Buffer.from(`${HOLDER_ENV}=${runDir}\0`)) !== 0) return false;
    return /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] === "0";
  } catch {
    return false; // gone meanwhile
  }
}

/**
 * Kill the zone's holders. `recorded`, the holder its run state names, is checked by
 * its environment and then spares the scan of every process: a ready starts one holder.
 */
export function killHolders(runDir: string, recorded = 0): void {
  // Reaped at once when zoneadmd's own child (posix_spawn): a halt leaves no zombie.
  for (const pid of recorded > 0 && isHolder(recorded, runDir) ? [recorded] : findHolders(runDir)) killNow(pid);
}
