/**
 * zlogin on behalf of a delegated admin (admins.ts gave her `login`): zoneadmd runs the
 * runtime's exec with the caller's own stdin, stdout and stderr, passed over the admin
 * socket, as its stdio. Those descriptors are only ever handed to the runtime as
 * stdio: zoneadmd never reads them, nor opens a path through them; it looks at what
 * they are (fstat, its own fdinfo) only to refuse directories and O_PATH handles,
 * which a zone's process could use to reach host files.
 *
 * On the connection, after the request: zoneadmd answers {"ok":true,"pid":N} once the
 * exec runs, then {"ok":true,"status":S} when it ends (S as a shell reports it). The
 * client sends signal names, one a line (SIGINT SIGTERM SIGHUP SIGQUIT SIGWINCH),
 * which go to the runtime, which passes them on; a client that leaves hangs the
 * session up (SIGHUP, then SIGKILL).
 */
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import * as fs from "node:fs";
import type * as net from "node:net";
import { constants } from "node:os";
import * as path from "node:path";
import { q } from "../native/errors.js";
import type { ZonePaths } from "../document/store/paths.js";
import { processTemplateFile, zoneRunDir } from "../document/store/runstate.js";
import type { Platform } from "../platform/platform.js";
import { alive } from "../platform/halt.js";
import { makeRuntime, type RuntimeName } from "../platform/oci/runtime.js";
import { loginProcess, type WindowSize } from "../platform/loginproc.js";
import { memlockOfBundle, withMemlock } from "../platform/cgroups/memlock.js";
import { writeFileAtomic } from "../native/atomic.js";
import type { LoginRequest, Request } from "./protocol.js";

const SIGNALS = new Set(["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGWINCH"]);
const O_PATH = 0o10000000;
const ZONE_USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const TERM = /^[A-Za-z0-9._+-]{1,64}$/;
const STDIO = ["stdin", "stdout", "stderr"];
/** The most rows or columns a caller may ask of a terminal. */
const SIDE_MAX = 10_000;
let sessions = 0;
/** Sessions of one uid at once: each is a runtime process of root's on the host. */
const MAX_SESSIONS_PER_UID = 32;
const live = new Map<number, number>();

/** Why descriptor `fd` cannot be a zone process's stdio, or undefined. */
function unfit(fd: number): string | undefined {
  let flags = 0;
  try {
    const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
    flags = Number.parseInt(/^flags:\s*([0-7]+)$/m.exec(info)?.[1] ?? "0", 8);
    if ((flags & O_PATH) !== 0) return "is an O_PATH handle";
    if (fs.fstatSync(fd).isDirectory()) return "is a directory";
  } catch (e) {
    return `cannot be examined: ${(e as Error).message}`;
  }
  return undefined;
}

/**
 * Start `l` in running zone `zone` for host uid `uid` (already authorized) with `stdio`
 * as the runtime's stdin, stdout and stderr: the one way into a zone for a delegated
 * admin's zlogin and for the API's exec, login and console streams (src/daemon/api).
 * The session counts against the uid's limit until the child is gone. Returns the
 * child, or why it cannot start.
 */
/** What the API adds to a login: environment over the template's, and a pty's first size. */
export interface LoginExtra {
  env?: readonly string[];
  /** The zone pty's size from its start (OCI process.consoleSize), before the runtime's first resize. */
  consoleSize?: WindowSize;
}

export function startLogin(paths: ZonePaths, platform: Platform, zone: string, l: LoginRequest, uid: number, stdio: StdioOptions, extra: LoginExtra = {}): ChildProcess | string {
  if (typeof l !== "object" || l === null || !Array.isArray(l.argv) || !l.argv.every((a) => typeof a === "string") || typeof l.safe !== "boolean" || typeof l.terminal !== "boolean")
    return `malformed login request`;
  if (typeof l.user !== "string" || !ZONE_USER.test(l.user)) return `login: invalid user name ${q(String(l.user))}`;
  const size = extra.consoleSize ?? l.size;
  if (size !== undefined && !sizeFits(size)) return `login: invalid window size ${JSON.stringify(size)}: height and width must be whole numbers from 1 to ${SIDE_MAX}`;
  if ((live.get(uid) ?? 0) >= MAX_SESSIONS_PER_UID) return `uid ${uid} has ${MAX_SESSIONS_PER_UID} zlogin sessions already`;
  const run = platform.readRun(zone);
  if (!run || !run.booted || !alive(run.pid)) return `zone is not running`;
  let processFile: string;
  let argv: string[];
  try {
    const proc = loginProcess(processTemplateFile(paths, zone), { root: run.root, user: l.user, safe: l.safe, terminal: l.terminal, argv: l.argv, term: typeof l.term === "string" && TERM.test(l.term) ? l.term : "xterm", size });
    // The API's environment comes last: it overrides the template's, as Incus's does.
    const env = extra.env ?? [];
    proc.env = [...proc.env.filter((e) => !env.some((x) => x.slice(0, x.indexOf("=") + 1) === e.slice(0, e.indexOf("=") + 1))), ...env];
    processFile = path.join(zoneRunDir(paths, zone), `exec-admin-${process.pid}-${++sessions}.json`);
    writeFileAtomic(processFile, JSON.stringify(proc), 0o600, false);
    // The zone's locked-memory limit reaches the session through the runtime (memlock.ts).
    argv = withMemlock(memlockOfBundle(zoneRunDir(paths, zone)), makeRuntime(run.runtime as RuntimeName, paths.runDir).execArgv(zone, { processFile }));
  } catch (e) {
    return `${(e as Error).message}`;
  }
  const child = spawn(argv[0]!, argv.slice(1), { stdio });
  live.set(uid, (live.get(uid) ?? 0) + 1);
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    const left = (live.get(uid) ?? 1) - 1;
    if (left > 0) live.set(uid, left);
    else live.delete(uid);
    fs.rmSync(processFile, { force: true });
  };
  child.once("exit", end);
  child.once("error", end);
  return child;
}

function sizeFits(s: unknown): s is WindowSize {
  const side = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= SIDE_MAX;
  return typeof s === "object" && s !== null && side((s as Record<string, unknown>).height) && side((s as Record<string, unknown>).width);
}

/** The exit status as a shell reports it: the code, or 128 + the signal's number. */
export function shellStatus(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? 128 + (signal ? constants.signals[signal] : 0);
}

export function serveLogin(paths: ZonePaths, platform: Platform, c: net.Socket, req: Request, fds: number[], uid: number, log: (l: string) => void): void {
  const closeFds = (): void => void fds.splice(0).forEach((fd) => fs.closeSync(fd));
  const reply = (o: object): boolean => c.write(JSON.stringify(o) + "\n");
  const fail = (error: string): void => {
    closeFds();
    c.end(JSON.stringify({ ok: false, error }) + "\n");
  };
  const zone = req.zone ?? "";
  if (fds.length !== 3) return fail(`login needs stdin, stdout and stderr (${fds.length} descriptors came)`);
  for (let i = 0; i < 3; i++) {
    const why = unfit(fds[i]!);
    if (why !== undefined) return fail(`login: the ${STDIO[i]} passed ${why}`);
  }
  const started = startLogin(paths, platform, zone, req.login as LoginRequest, uid, [fds[0]!, fds[1]!, fds[2]!]);
  if (typeof started === "string") return fail(started);
  const child = started;
  // The child has its copies (or failed to start): ours go at once.
  closeFds();
  let ended = false;
  const end = (): void => void (ended = true);
  const hangup = (): void => {
    if (ended) return;
    child.kill("SIGHUP");
    setTimeout(() => !ended && child.kill("SIGKILL"), 2000).unref();
  };
  let buf = "";
  c.setEncoding("utf8");
  c.on("data", (d: string) => {
    buf += d;
    // Only signal names come this way: a client that sends more is cut off.
    if (buf.length > 256) {
      hangup();
      return void c.destroy();
    }
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const sig = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (SIGNALS.has(sig) && !ended) child.kill(sig as NodeJS.Signals);
    }
  });
  c.on("close", hangup);
  child.on("error", (e) => {
    end();
    log(`zone '${zone}': admin login: cannot start ${child.spawnfile}: ${e.message}`);
    c.end(JSON.stringify({ ok: false, error: `cannot start ${child.spawnfile}: ${e.message}` }) + "\n");
  });
  child.on("spawn", () => reply({ ok: true, pid: child.pid }));
  child.on("exit", (code, signal) => {
    end();
    c.end(JSON.stringify({ ok: true, status: shellStatus(code, signal) }) + "\n");
  });
  c.resume();
}
