/**
 * Starting a helper with glibc's posix_spawn (a vfork-style clone: the child shares the
 * parent's memory until it execs) instead of child_process.spawn, whose fork copies
 * zoneadmd's page tables and then pays a copy-on-write fault for each page the daemon
 * touches before the child execs. Measured on the 2-core VM: 0.14 ms of the daemon's
 * thread per start against 1.6 ms, and zoneadmd starts three helpers per zone boot
 * (runc, the console holder, the user namespace helper made ahead).
 *
 * For helpers that need nothing of Node's ChildProcess: fixed descriptors (no pipes to
 * read), an environment given whole, an exit status learnt by waitpid. The child gets
 * every signal at its default and an empty signal mask (Node ignores SIGPIPE, and a
 * helper must not inherit that), but glibc's two internal ones (32 and 33), which
 * glibc's spawn leaves ignored and every glibc program sets up anew at its start; and
 * no descriptor of ours but those named in `fds`. A pid is in `directChildren` while someone
 * waits for its status, so that zoneadmd's reaper (src/daemon/reaper.ts) leaves it to
 * them; an unwatched one is reaped by that sweep like any orphan.
 */
import * as fs from "node:fs";
import { errnoText, sys } from "./sys.js";

export interface DirectSpawn {
  /** Child descriptor i is fds[i]: one of ours (duplicated), or "null" for /dev/null. */
  fds: Array<number | "null">;
  /** The child's whole environment. */
  env: Record<string, string | undefined>;
  /** A session (and process group) of its own, as Node's `detached`. */
  setsid?: boolean;
  /** argv[0], when not `file` (a multi-call busybox picks its applet by it). */
  argv0?: string;
}

/** The children whose status somebody awaits (waitExit): the reaper's sweep leaves them. */
export const directChildren = new Set<number>();

/**
 * How many starts have not answered yet. Their child may already have ended with its
 * pid not yet known to us (nor in directChildren): the reaper's sweep waits until none
 * is in flight, or it could reap a status that spawnWatched is about to await.
 */
let inFlight = 0;
export function spawnsInFlight(): number {
  return inFlight;
}

interface Spawner {
  faInit(fa: Buffer): number;
  faDup2(fa: Buffer, fd: number, to: number): number;
  faOpen(fa: Buffer, fd: number, path: string, flags: number, mode: number): number;
  faClose(fa: Buffer, fd: number): number;
  faCloseFrom(fa: Buffer, from: number): number;
  faDestroy(fa: Buffer): number;
  atInit(at: Buffer): number;
  atFlags(at: Buffer, flags: number): number;
  atSigdefault(at: Buffer, set: Buffer): number;
  atSigmask(at: Buffer, set: Buffer): number;
  atDestroy(at: Buffer): number;
  sigfillset(set: Buffer): number;
  sigemptyset(set: Buffer): number;
  spawnp(pid: number[], file: string, fa: Buffer, at: Buffer, argv: (string | null)[], envp: (string | null)[], cb: (e: unknown, err: number) => void): void;
}

let spawner: Spawner | undefined;

function load(): Spawner {
  if (spawner) return spawner;
  const c = sys().koffi.load("libc.so.6");
  const spawnp = c.func("int posix_spawnp(_Out_ int *pid, const char *file, void *fa, void *at, const char **argv, const char **envp)");
  spawner = {
    faInit: c.func("int posix_spawn_file_actions_init(void *fa)") as Spawner["faInit"],
    faDup2: c.func("int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)") as Spawner["faDup2"],
    faOpen: c.func("int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, uint32 mode)") as Spawner["faOpen"],
    faClose: c.func("int posix_spawn_file_actions_addclose(void *fa, int fd)") as Spawner["faClose"],
    faCloseFrom: c.func("int posix_spawn_file_actions_addclosefrom_np(void *fa, int from)") as Spawner["faCloseFrom"],
    faDestroy: c.func("int posix_spawn_file_actions_destroy(void *fa)") as Spawner["faDestroy"],
    atInit: c.func("int posix_spawnattr_init(void *at)") as Spawner["atInit"],
    atFlags: c.func("int posix_spawnattr_setflags(void *at, short flags)") as Spawner["atFlags"],
    atSigdefault: c.func("int posix_spawnattr_setsigdefault(void *at, void *set)") as Spawner["atSigdefault"],
    atSigmask: c.func("int posix_spawnattr_setsigmask(void *at, void *set)") as Spawner["atSigmask"],
    atDestroy: c.func("int posix_spawnattr_destroy(void *at)") as Spawner["atDestroy"],
    sigfillset: c.func("int sigfillset(void *set)") as Spawner["sigfillset"],
    sigemptyset: c.func("int sigemptyset(void *set)") as Spawner["sigemptyset"],
    spawnp: (...a) => (spawnp as unknown as { async: (...b: unknown[]) => void }).async(...a),
  };
  return spawner;
}

// glibc's <spawn.h>.
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;

/**
 * Start `file` (searched in zoneadmd's PATH) with `args`; resolves to its pid. Rejects
 * with an Error naming the program when it cannot be started (missing, not executable).
 *
 * The call runs on a worker thread of libuv's pool: the vfork-style clone suspends the
 * calling thread until the child has exec'd, and on a busy host that wait (the child's
 * turn on a CPU, then the exec of a large binary) took 3.7 ms (p50; 5.7 p90) of
 * zoneadmd's thread per start of runc, measured on the 2-core VM with both cores
 * loaded, against 0.03 ms this way. zoneadmd gives that pool only short jobs (no read
 * that may wait), so a start never queues behind one. The descriptors in `opts.fds`
 * must stay open until the promise settles. Nobody awaits the child's status: the
 * reaper's sweep reaps it (see spawnWatched for a child whose status matters).
 */
export function posixSpawn(file: string, args: readonly string[], opts: DirectSpawn): Promise<number> {
  return start(file, args, opts, () => undefined);
}

/**
 * posixSpawn, and the child's status awaited from the moment its pid is known (on
 * zoneadmd's thread, before anything else runs there): a child that ended before the
 * worker thread answered is never reaped by the sweep, whose status its starter wants.
 */
export async function spawnWatched(file: string, args: readonly string[], opts: DirectSpawn): Promise<{ pid: number; exit: Promise<Exit> }> {
  let exit: Promise<Exit> | undefined;
  const pid = await start(file, args, opts, (p) => (exit = waitExit(p)));
  return { pid, exit: exit! };
}

function start(file: string, args: readonly string[], opts: DirectSpawn, started: (pid: number) => void): Promise<number> {
  const s = load();
  // Opaque glibc structures, allocated over-size (80, 336 and 128 bytes on x86_64).
  const fa = Buffer.alloc(256);
  const at = Buffer.alloc(512);
  const all = Buffer.alloc(256);
  const none = Buffer.alloc(256);
  s.faInit(fa);
  s.atInit(at);
  // Each source first to a number above all of them, then into place: a source that
  // is itself a low number is never overwritten before it is copied.
  const base = Math.max(2, ...opts.fds.map((f) => (f === "null" ? 0 : f))) + 1;
  opts.fds.forEach((f, i) => {
    if (f !== "null") s.faDup2(fa, f, base + i);
  });
  opts.fds.forEach((f, i) => {
    if (f === "null") s.faOpen(fa, i, "/dev/null", fs.constants.O_RDWR, 0);
    else {
      s.faDup2(fa, base + i, i);
      s.faClose(fa, base + i);
    }
  });
  // And nothing else: a descriptor someone opened without close-on-exec stays ours.
  s.faCloseFrom(fa, opts.fds.length);
  s.sigfillset(all);
  s.sigemptyset(none);
  s.atSigdefault(at, all);
  s.atSigmask(at, none);
  s.atFlags(at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (opts.setsid ? POSIX_SPAWN_SETSID : 0));
  const env = Object.entries(opts.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  const pid = [0];
  return new Promise((resolve, reject) => {
    const done = (): void => {
      inFlight--;
      s.faDestroy(fa);
      s.atDestroy(at);
    };
    inFlight++;
    try {
      // koffi keeps the strings and vectors alive until the call returns.
      s.spawnp(pid, file, fa, at, [opts.argv0 ?? file, ...args, null], [...env, null], (e, err) => {
        done();
        if (e) reject(new Error(`cannot start ${file}: ${String(e)}`));
        else if (err !== 0) reject(new Error(`cannot start ${file}: ${errnoText(err)}`));
        else {
          started(pid[0]!);
          resolve(pid[0]!);
        }
      });
    } catch (e) {
      // Not queued at all (an argument koffi refused): no start is left in flight.
      done();
      reject(new Error(`cannot start ${file}: ${(e as Error).message}`));
    }
  });
}

/** How a child ended: its exit code, or the signal that ended it. */
export interface Exit {
  code: number | null;
  signal: number | null;
}

const WNOHANG = 1;
/** A SIGCHLD can be lost between two polls of one waiter: each is also polled this often. */
const FALLBACK_MS = 25;

/** Each awaited child's resolution, polled at every SIGCHLD. */
const waiters = new Map<number, (r: number, status: number) => void>();
let timer: NodeJS.Timeout | undefined;

/** Poll every waiter once; the ones that ended (or are not ours) are settled and dropped. */
function pollAll(): void {
  for (const [pid, settle] of waiters) {
    const status = [0];
    const r = sys().waitpid(pid, status, WNOHANG);
    if (r !== 0) settle(r, status[0]!);
  }
  if (waiters.size === 0) {
    process.removeListener("SIGCHLD", pollAll);
    clearInterval(timer);
    timer = undefined;
  }
}

/**
 * Wait for our child `pid` (from posixSpawn) to end, reaping it: polled with waitpid at
 * each SIGCHLD zoneadmd gets (as libuv does for Node's own children), so a helper is
 * reaped as soon as it ends and a zombie of ours lives no longer than one of Node's. A
 * pid that is not our child (a holder adopted from an earlier daemon) is an error.
 */
export function waitExit(pid: number): Promise<Exit> {
  directChildren.add(pid);
  return new Promise((resolve, reject) => {
    waiters.set(pid, (r, st) => {
      waiters.delete(pid);
      directChildren.delete(pid);
      if (r !== pid) return reject(new Error(`waitpid ${pid}: ${errnoText(sys().errno())}`));
      const sig = st & 0x7f;
      resolve(sig === 0 ? { code: (st >> 8) & 0xff, signal: null } : { code: null, signal: sig });
    });
    if (timer === undefined) {
      process.on("SIGCHLD", pollAll);
      timer = setInterval(pollAll, FALLBACK_MS);
    }
    // It may have ended before the listener was there.
    setImmediate(pollAll);
  });
}

/**
 * SIGKILL our child `pid` and reap it now, waiting at most `ms` for the kernel to end
 * it: a helper killed at the end of its work must not be seen as a zombie of
 * zoneadmd's (a command that just got its answer may look). Its waitExit, if any, is
 * settled with the status; one not reaped in time is reaped at its SIGCHLD, as waitExit's.
 */
export function killNow(pid: number, ms = 50): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return; // ended and reaped already, or not ours
  }
  const until = Date.now() + ms;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const status = [0];
    const r = sys().waitpid(pid, status, WNOHANG);
    if (r !== 0) {
      const settle = waiters.get(pid);
      if (settle) settle(r, status[0]!);
      else directChildren.delete(pid);
      return;
    }
    if (Date.now() > until) {
      // Not ended yet (a loaded host may not run it for a while): reaped at its SIGCHLD.
      if (!waiters.has(pid)) waitExit(pid).catch(() => undefined);
      return;
    }
    Atomics.wait(pause, 0, 0, 0.2); // a fifth of a millisecond: the kill takes a few microseconds
  }
}
