/**
 * What only exists while a zone is ready or running — its zone ID, its init's host
 * pid, its runtime bundle — lives in <runDir>/zone/<name>/, so that a restarted
 * zoneadmd and every command (zoneadm list, zlogin) find it without asking anyone.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ZonePaths } from "./paths.js";
import { writeFileAtomic } from "../../native/atomic.js";

export interface RunState {
  zonename: string;
  id: number;
  /** Host pid of the zone's init (0 until the runtime reports it). */
  pid: number;
  runtime: string;
  since: string;
  /** The zone's root tree on the host. */
  root: string;
  /** Set once init runs (boot); a ready zone has none. */
  booted: boolean;
  /**
   * A tiny host process that holds the zone console's pty master (as its fd 3), so
   * the console outlives a zoneadmd restart; 0 when none.
   */
  consoleHolder: number;
  /** The holder keeps a slave of the console open too (a systemd zone: systemd.ts consolePeer). */
  consolePeer?: boolean;
}

/** fd number of the console's pty master in the holder process. */
export const HOLDER_FD = 3;

/** The console's output, kept across reboots of the zone (a bounded ring on disk). */
export function consoleLogFile(paths: ZonePaths, name: string): string {
  return path.join(paths.runDir, "console", `${name}.log`);
}

/**
 * A renamed zone takes its console log along: left under the old name, it would be
 * replayed to a later zone of that name.
 */
export function moveConsoleLog(paths: ZonePaths, from: string, to: string): void {
  try {
    fs.renameSync(consoleLogFile(paths, from), consoleLogFile(paths, to));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    // no log yet; a stale one under the new name is not this zone's
    fs.rmSync(consoleLogFile(paths, to), { force: true });
  }
}

/**
 * The template of every process started in the zone (zlogin): the zone's privileges and
 * environment, computed from its configuration at ready, so that zlogin need not read
 * the configuration at all.
 */
export function processTemplateFile(paths: ZonePaths, name: string): string {
  return path.join(zoneRunDir(paths, name), "process.json");
}

export function zoneRunDir(paths: ZonePaths, name: string): string {
  return path.join(paths.runDir, "zone", name);
}

export function runFile(paths: ZonePaths, name: string): string {
  return path.join(zoneRunDir(paths, name), "zone.json");
}

/**
 * The last read of each run file, by the file's identity: zoneadmd reads every running
 * zone's run state five times a second (supervision) and all of them at each ready
 * (the free zone ID). The file is only ever replaced whole (a rename: a new inode), so
 * the same inode, size and change time is the same text; anything else is read again.
 */
const lastRun = new Map<string, { key: string; run: RunState }>();

export function readRun(paths: ZonePaths, name: string): RunState | undefined {
  const file = runFile(paths, name);
  try {
    const st = fs.statSync(file);
    const key = `${st.dev}:${st.ino}:${st.size}:${st.ctimeMs}`;
    const had = lastRun.get(file);
    if (had?.key === key) return { ...had.run };
    const run = JSON.parse(fs.readFileSync(file, "utf8")) as RunState;
    lastRun.set(file, { key, run: { ...run } });
    if (Number.isInteger(run.id)) idOf.set(file, run.id);
    return run;
  } catch {
    lastRun.delete(file);
    return undefined;
  }
}

/** Zone IDs of every ready or running zone of this root. */
export function runningIds(paths: ZonePaths): Map<string, number> {
  const out = new Map<string, number>();
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(paths.runDir, "zone"));
  } catch {
    return out;
  }
  for (const n of names) {
    // A zone's ID is fixed from the write that records it to its run directory's end.
    const id = idOf.get(runFile(paths, n)) ?? readRun(paths, n)?.id;
    if (id !== undefined) out.set(n, id);
  }
  return out;
}

/**
 * The zone ID in each run file this process wrote or read: a ready's free ID looks at
 * every running zone's, and the run directory's listing (which a halt empties) is then
 * the one read. Only writeRun writes a run file, and zoneadmd is its root's only writer.
 */
const idOf = new Map<string, number>();

/** Record a zone's run state (replacing the file whole, not durably: /run is a tmpfs). */
export function writeRun(paths: ZonePaths, name: string, run: RunState): void {
  const file = runFile(paths, name);
  writeFileAtomic(file, JSON.stringify(run), 0o644, false);
  idOf.set(file, run.id);
}

/**
 * Why zoneadmd halted a zone on its own (a reboot loop), kept after the run directory
 * goes so that `zoneadm list -v` can say it; the next boot removes it.
 */
export function haltNoteFile(paths: ZonePaths, name: string): string {
  return path.join(paths.runDir, "notes", name);
}

export function writeHaltNote(paths: ZonePaths, name: string, why: string): void {
  fs.mkdirSync(path.dirname(haltNoteFile(paths, name)), { recursive: true, mode: 0o700 });
  fs.writeFileSync(haltNoteFile(paths, name), `${why}\n`, { mode: 0o600 });
}

export function readHaltNote(paths: ZonePaths, name: string): string | undefined {
  try {
    return fs.readFileSync(haltNoteFile(paths, name), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
