/**
 * Talking to zoneadmd, starting it first if it is not running (as zoneadm starts
 * zoneadmd in illumos). The daemon runs in a session of its own, so it outlives the
 * command that started it.
 *
 * No call waits forever: the daemon says "accepted" as soon as it has read a request,
 * and must do so within the accept timeout (10 s, or ZONES_CLIENT_TIMEOUT_MS, read only
 * here, for tests); then the operation has its own bound, longer than the daemon's own
 * bounded steps (a shutdown waits up to 30 s for init). SIGINT and SIGTERM end a
 * waiting call at once (exit 130 and 143). The daemon starts an operation only when
 * the client answers "accepted" with "go": one the client gave up on before (the daemon
 * was stopped) never runs behind its back; one started is finished by the daemon, which
 * logs the outcome if the client left.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ZoneError } from "../native/errors.js";
import type { ZonePaths } from "../document/store/paths.js";
import { adminSocketPath, socketPath, type Operation, type Reply, type Request } from "./protocol.js";

const ACCEPT_MS = 10_000;

/** After "accepted": each operation's bound. Install copies a whole tree. */
const OPERATION_MS: Record<Operation, number> = {
  ping: 10_000,
  stats: 10_000,
  post: 10_000,
  console: 10_000,
  login: 10_000,
  ready: 120_000,
  boot: 120_000,
  halt: 120_000,
  reboot: 240_000,
  shutdown: 150_000,
  "shutdown-reboot": 270_000,
  install: 1_800_000,
  uninstall: 1_800_000,
  clone: 1_800_000,
  move: 1_800_000,
  detach: 120_000,
  attach: 1_800_000,
  /** A first `zoneadm web` may make the self-signed certificate. */
  web: 60_000,
};

/** The accept timeout: ZONES_CLIENT_TIMEOUT_MS (milliseconds) overrides it. */
export function acceptTimeoutMs(): number {
  const v = process.env.ZONES_CLIENT_TIMEOUT_MS;
  if (v === undefined || v === "") return ACCEPT_MS;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new ZoneError(`ZONES_CLIENT_TIMEOUT_MS must be a positive number of milliseconds, not ${JSON.stringify(v)}`);
  return n;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

const SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;

/** A connection error the daemon's absence explains (start it and retry). */
class Absent extends Error {}

function send(sock: string, req: Request, logFile: string, progress?: (line: string) => void): Promise<Reply> {
  const acceptMs = acceptTimeoutMs();
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sock);
    let buf = "";
    let timer: NodeJS.Timeout | undefined;
    let accepted = false;
    const onSignal = (sig: keyof typeof SIGNALS): void =>
      finish(
        new ZoneError(
          `interrupted by ${sig} while waiting for zoneadmd${!accepted ? "" : `; zoneadmd finishes the ${req.op} on its own (see ${logFile})`}`,
          SIGNALS[sig],
        ),
      );
    const sigs = (Object.keys(SIGNALS) as Array<keyof typeof SIGNALS>).map((s) => [s, () => onSignal(s)] as const);
    const finish = (r: Reply | Error): void => {
      clearTimeout(timer);
      for (const [s, f] of sigs) process.off(s, f);
      c.destroy();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    for (const [s, f] of sigs) process.on(s, f);
    const arm = (ms: number, what: string): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new ZoneError(`zoneadmd at ${sock} ${what} in ${seconds(ms)} (see ${logFile})`)), ms);
    };
    arm(acceptMs, "did not answer");
    c.setEncoding("utf8");
    c.on("connect", () => c.write(JSON.stringify(req) + "\n"));
    c.on("data", (d: string) => {
      buf += d;
      const lines = buf.split("\n");
      if (!accepted && lines.length > 1) {
        accepted = true;
        c.write("go\n");
        arm(OPERATION_MS[req.op], `accepted the ${req.op} but did not finish it`);
      }
      // After "accepted": {"progress": line} lines (an image build, imagebuild.ts), then the reply.
      while (lines.length > 2) {
        const line = lines.splice(1, 1)[0]!;
        buf = lines.join("\n");
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          return finish(new ZoneError(`zoneadmd at ${sock} sent a malformed reply`));
        }
        const p = (parsed as { progress?: unknown }).progress;
        if (typeof p === "string") {
          progress?.(p);
          continue;
        }
        return finish(parsed as Reply);
      }
    });
    c.on("end", () => finish(new ZoneError(`zoneadmd at ${sock} closed the connection without a reply (see ${logFile})`)));
    c.on("error", (e: NodeJS.ErrnoException) => finish(e.code === "ENOENT" || e.code === "ECONNREFUSED" ? new Absent(e.message) : new ZoneError(`cannot reach zoneadmd at ${sock}: ${e.message}`)));
  });
}

/** The daemon's entry point, beside this bundle (dist/bin) or the build (dist/src/cmd). */
function daemonScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const p of [path.join(here, "zoneadmd.cjs"), path.join(here, "../../bin/zoneadmd.cjs")]) if (fs.existsSync(p)) return p;
  throw new ZoneError("cannot find zoneadmd (dist/bin/zoneadmd.cjs): run npm run build");
}

export function startDaemon(paths: ZonePaths): void {
  try {
    fs.mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    // Opening for append writes nothing: this works on a full disk too.
    const log = fs.openSync(`${paths.runDir}/zoneadmd.log`, "a", 0o600);
    // --expose-gc: the "stats" operation collects garbage first, so what it reports is what is held.
    const child = spawn(process.execPath, ["--expose-gc", "--max-semi-space-size=1", daemonScript()], { detached: true, stdio: ["ignore", log, log] });
    fs.closeSync(log);
    child.unref();
  } catch (e) {
    if (e instanceof ZoneError) throw e;
    throw new ZoneError(`cannot start zoneadmd in ${paths.runDir}: ${(e as Error).message}`);
  }
}

/** Can a client connect to the socket? A listening socket is a daemon that has reconciled (server.ts start()). */
function listening(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.createConnection(sock);
    const done = (ok: boolean): void => {
      c.destroy();
      resolve(ok);
    };
    c.on("connect", () => done(true));
    c.on("error", () => done(false));
  });
}

/**
 * Make sure zoneadmd serves this root, starting it if not: for zlogin, which needs the
 * daemon watching its zone but asks nothing of it. A connection suffices (the daemon
 * listens only once it has reconciled): no request, no round trip.
 */
export async function ensureDaemon(paths: ZonePaths): Promise<void> {
  if (!asRoot()) {
    if (await listening(adminSocketPath(paths.runDir))) return;
    throw notRunning();
  }
  if (await listening(socketPath(paths.runDir))) return;
  const reply = await call(paths, { op: "ping" });
  if (!reply.ok) throw new ZoneError(reply.error);
}

/** Is a daemon listening on the socket the caller would use (root's, or the admin socket)? */
export function serving(paths: ZonePaths): Promise<boolean> {
  return listening(asRoot() ? socketPath(paths.runDir) : adminSocketPath(paths.runDir));
}

/** Only root talks to root's socket and starts zoneadmd; any other user has the admin socket (admins.ts). */
export function asRoot(): boolean {
  return process.geteuid?.() === 0;
}

function notRunning(): ZoneError {
  return new ZoneError("zoneadmd is not running; ask root to start it (any zoneadm command run by root starts it)");
}

/** `progress` hears the operation's progress lines (an install's image build), if any. */
export async function call(paths: ZonePaths, req: Request, progress?: (line: string) => void): Promise<Reply> {
  const logFile = `${paths.runDir}/zoneadmd.log`;
  if (!asRoot()) {
    // No socket to see (ENOENT, or EACCES on a run directory no daemon has opened yet): none runs.
    if (!fs.existsSync(adminSocketPath(paths.runDir))) throw notRunning();
    try {
      return await send(adminSocketPath(paths.runDir), req, logFile, progress);
    } catch (e) {
      throw e instanceof Absent ? notRunning() : e;
    }
  }
  const sock = socketPath(paths.runDir);
  try {
    return await send(sock, req, logFile, progress);
  } catch (e) {
    if (!(e instanceof Absent)) throw e;
  }
  startDaemon(paths);
  const deadline = Date.now() + acceptTimeoutMs();
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    try {
      return await send(sock, req, logFile, progress);
    } catch (e) {
      if (!(e instanceof Absent)) throw e;
      if (Date.now() > deadline) throw new ZoneError(`cannot reach zoneadmd at ${sock}: ${e.message} (see ${logFile})`);
    }
  }
}
