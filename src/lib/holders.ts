/**
 * Console holders (platform.ts) carry the zone's run directory in their environment,
 * so a daemon killed between spawning one and recording its pid can still find it:
 * the kernel is asked, not a file that may never have been written.
 */
import * as fs from "node:fs";

/** The environment variable naming the run directory a holder belongs to. */
export const HOLDER_ENV = "ZONES_CONSOLE_HOLDER";

/**
 * Host pids of the holders of the zone whose run directory is `runDir`. Only host-root
 * processes count: a zone's process (mapped uids) that copies the variable is not ours.
 */
export function findHolders(runDir: string): number[] {
  const want = Buffer.from(`${HOLDER_ENV}=${runDir}\0`);
  const out: number[] = [];
  let pids: string[] = [];
  try {
    pids = fs.readdirSync("/proc").filter((p) => /^[0-9]+$/.test(p));
  } catch {
    return out;
  }
  for (const p of pids) {
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`);
      if (env.indexOf(want) !== 0) continue;
      const uid = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))?.[1];
      if (uid === "0") out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export function killHolders(runDir: string): void {
  for (const pid of findHolders(runDir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
