/**
 * The in-zone view service: one lxcfs per ZONES_ROOT, started by zoneadmd at the first
 * zone's ready, supervised from then on, and stopped when the root's last zone halts
 * (src/platform/views.ts says how zones see it). It runs detached from the daemon, like
 * the zones: a zoneadmd killed and started again adopts the lxcfs its pid file names. When lxcfs dies (kill -9, a crash), the
 * supervise loop notices within CHECK_MS, detaches its dead FUSE mount, starts a new
 * one and binds its files on top of the stage's, which the kernel propagates into
 * every running zone: a zone's reads fail with ENOTCONN only meanwhile.
 *
 * lxcfs absent or failing to start: zones boot without views (host-wide /proc), and
 * the log says so once per zone; the next ready tries to start it again, and the
 * supervisor every RETRY_MS.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ZonePaths } from "../document/store/paths.js";
import { mountsBelow, unmount } from "../platform/idmap.js";
import { bindViews, boundStage, ensureStage, lxcfsDir, lxcfsMounted, stageBound, stageDir } from "../platform/views.js";

/** How often the supervisor looks at lxcfs (a /proc read: no FUSE request). */
export const CHECK_MS = 1000;
const START_WAIT_MS = 5000;
const RETRY_MS = 30_000;
export const LXCFS_BIN = process.env.ZONES_LXCFS ?? "/usr/bin/lxcfs";

export class LxcfsService {
  /** Set once a zone wanted views: from then on lxcfs is kept running, until stop(). */
  private wanted = false;
  private pid = 0;
  /** The lxcfs this daemon started (an adopted one is some earlier daemon's child). */
  private child: ChildProcess | undefined;
  private starting: Promise<string | undefined> | undefined;
  private lastCheck = 0;
  /** The stage last found bound, for which lxcfs, and when (ensure). */
  private bound: { pid: number; stage: string; at: number } | undefined;
  /** After a failed start the supervisor waits this long before the next (no log flood). */
  private retryAt = 0;

  constructor(
    readonly paths: ZonePaths,
    private readonly log: (line: string) => void,
  ) {}

  get pidFile(): string {
    return path.join(this.paths.runDir, "lxcfs.pid");
  }

  /** The pid of the running lxcfs of this root, 0 if none (checked by its command line). */
  running(): number {
    const pid = this.pid || readPid(this.pidFile);
    return pid > 0 && isOurLxcfs(pid, lxcfsDir(this.paths)) ? pid : 0;
  }

  /**
   * At daemon start: an lxcfs an earlier daemon started keeps serving, supervised by
   * us, while zones run (`zonesRunning`); with none, it is stopped.
   */
  async adopt(zonesRunning: boolean): Promise<void> {
    if (!zonesRunning) return this.stop();
    const pid = this.running();
    // A stage bound to a dead lxcfs: running zones may hold its files; check() restarts it.
    if (pid === 0) {
      this.wanted = stageBound(stageDir(this.paths));
      return;
    }
    this.pid = pid;
    this.wanted = true;
    this.log(`lxcfs ${pid}: adopted; zones' /proc views served`);
  }

  /**
   * The stage for a zone's spec, lxcfs started if needed; undefined (and one log line)
   * when lxcfs cannot be had: the zone then sees host-wide /proc.
   */
  async ensure(zone: string): Promise<string | undefined> {
    this.wanted = true;
    // A stage not mounted or not bound is made and bound by restart, as ensureStage would.
    const pid = this.running();
    const now = Date.now();
    // The stage found bound for this same lxcfs within the last check period is taken as
    // it is: a burst of boots reads the host's long mountinfo once, not once per zone.
    let live = pid > 0 && this.bound?.pid === pid && now - this.bound.at < CHECK_MS ? this.bound.stage : undefined;
    if (pid > 0 && live === undefined) {
      live = boundStage(this.paths);
      this.bound = live === undefined ? undefined : { pid, stage: live, at: now };
    }
    const stage = live ?? (await this.restart());
    if (!stage) this.log(`zone '${zone}': no lxcfs: /proc/meminfo, /proc/cpuinfo and uptime inside show the host's`);
    return stage;
  }

  /**
   * The last zone of the root halted: lxcfs and the stage go, so a root without running
   * zones leaves no process nor mount behind (the next ready starts it again).
   */
  async stop(): Promise<void> {
    // A start under way (the zone that wanted it failed) finishes first, then goes too.
    await this.starting;
    this.wanted = false;
    this.bound = undefined;
    const pid = this.running();
    const child = this.child;
    this.pid = 0;
    this.child = undefined;
    stopLxcfs(this.paths, false);
    // Our own child is reaped before the halt returns: no zombie of zoneadmd's meanwhile.
    if (child && child.exitCode === null && child.signalCode === null) await Promise.race([new Promise((r) => child.once("exit", r)), new Promise((r) => setTimeout(r, 2000))]);
    if (pid > 0) this.log(`lxcfs ${pid}: stopped; no zone runs`);
  }

  /** Called by the supervise loop: start lxcfs again if it died. */
  check(): void {
    const now = Date.now();
    if (!this.wanted || this.starting || now - this.lastCheck < CHECK_MS || now < this.retryAt) return;
    this.lastCheck = now;
    if (this.running() > 0) return;
    const dead = this.pid || readPid(this.pidFile);
    this.log(`lxcfs ${dead || "?"}: gone; starting it again for the running zones`);
    void this.restart();
  }

  private restart(): Promise<string | undefined> {
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async start(): Promise<string | undefined> {
    this.bound = undefined;
    const dir = lxcfsDir(this.paths);
    try {
      if (!fs.existsSync(LXCFS_BIN)) throw new Error(`${LXCFS_BIN} is not installed`);
      const old = this.running();
      if (old > 0) process.kill(old, "SIGKILL");
      // A dead server's mount answers ENOTCONN to everything: detach it, the zones hold theirs.
      while (lxcfsMounted(dir)) unmount(dir);
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      const stage = ensureStage(this.paths);
      // The current lxcfs's output only: each start prints a banner, and roots boot often.
      const logFd = fs.openSync(path.join(this.paths.runDir, "lxcfs.log"), "w", 0o600);
      // -f: our child, so its end is an event; detached: it outlives a killed daemon.
      // --enable-cfs: CPU views follow a CPU cap too; -l: per-zone load average.
      const child = spawn(LXCFS_BIN, ["-f", "--enable-cfs", "--enable-pidfd", "-l", "-p", this.pidFile, dir], { stdio: ["ignore", logFd, logFd], detached: true });
      fs.closeSync(logFd);
      child.unref();
      const pid = child.pid ?? 0;
      child.on("exit", () => {
        if (this.pid === pid) this.pid = 0;
      });
      const end = Date.now() + START_WAIT_MS;
      while (!lxcfsMounted(dir)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`it exited (${child.signalCode ?? `status ${child.exitCode}`}); see ${path.join(this.paths.runDir, "lxcfs.log")}`);
        if (Date.now() > end) throw new Error(`not mounted at ${dir} after ${START_WAIT_MS} ms`);
        // A first zone's ready waits on this (lxcfs mounts in ~10-30 ms): a short pause
        // keeps the wait short; it lasts only as long as one start.
        await new Promise((r) => setTimeout(r, 2));
      }
      bindViews(dir, stage);
      this.pid = pid;
      this.child = child;
      this.log(`lxcfs ${pid}: serving zones' /proc views from ${dir}`);
      return stage;
    } catch (e) {
      this.retryAt = Date.now() + RETRY_MS;
      this.log(`lxcfs not started: ${(e as Error).message}`);
      return undefined;
    }
  }
}

function readPid(file: string): number {
  try {
    return Number(fs.readFileSync(file, "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}

/** Is `pid` a live lxcfs serving `dir` (a reused pid is some other process)? */
function isOurLxcfs(pid: number, dir: string): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat[stat.lastIndexOf(")") + 2] === "Z") return false;
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return argv.includes(dir) && path.basename(argv[0] ?? "") === "lxcfs";
  } catch {
    return false;
  }
}

/**
 * Stop this root's lxcfs and remove the stage and its mounts; with `wait`, until the
 * process is gone (test roots check that). lxcfs keeps its FUSE mount in a mount namespace of its own
 * too, so unmounting ours alone would leave it running.
 */
export function stopLxcfs(paths: ZonePaths, wait = true): void {
  const pid = readPid(path.join(paths.runDir, "lxcfs.pid"));
  if (pid > 0 && isOurLxcfs(pid, lxcfsDir(paths))) process.kill(pid, "SIGKILL");
  for (const m of mountsBelow(stageDir(paths))) unmount(m);
  while (lxcfsMounted(lxcfsDir(paths))) unmount(lxcfsDir(paths));
  if (!wait) return;
  const end = Date.now() + 5000;
  // Synchronous, for synchronous cleanups: a 20 ms sleep per round.
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (pid > 0 && isOurLxcfs(pid, lxcfsDir(paths)) && Date.now() < end) Atomics.wait(nap, 0, 0, 20);
}
