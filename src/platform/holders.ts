/**
 * Console holders (platform.ts) carry the zone's run directory in their environment,
 * so a daemon killed between spawning one and recording its pid can still find it:
 * the kernel is asked, not a file that may never have been written.
 */
import * as fs from "node:fs";
import { killNow, posixSpawn } from "../native/posixspawn.js";
import { helperBin } from "./helperbins.js";

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
 * Kill every holder of the zone, always found by the scan. Trusting the one the run
 * state names spared the scan, yet a holder of the zone outlived its halts (seen once,
 * the soak test under the full suite's load; how it escaped was not found). It kept the
 * zone init's session keyring through the pty's credentials: a key charged to the slot
 * for as long as it lived. A halt costs one read of each process's environment.
 */
export function killHolders(runDir: string): void {
  // Reaped at once when zoneadmd's own child (posix_spawn): a halt leaves no zombie.
  for (const pid of findHolders(runDir)) killNow(pid);
}

/**
 * Start a holder: `sleep infinity` keeping the console's pty master as its fd 3 (and,
 * for a systemd zone, a slave `peer` as fd 4, systemd.ts consolePeer), in a session of
 * its own, its environment naming the run directory. By posix_spawn: no fork of
 * zoneadmd's memory; the reaper's sweep reaps it once killed.
 */
export function spawnHolder(runDir: string, master: number, peer?: number): Promise<number> {
  const sleep = helperBin("sleep");
  return posixSpawn(sleep.file, ["infinity"], { fds: ["null", "null", "null", master, ...(peer === undefined ? [] : [peer])], setsid: true, env: { [HOLDER_ENV]: runDir }, argv0: sleep.argv0 });
}
