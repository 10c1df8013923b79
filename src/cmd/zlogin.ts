/**
 * zlogin(1): log into a zone, run a command in it, or attach to its console.
 *   zlogin [-EQS] [-e c] [-l user] zone              interactive login; ~. disconnects
 *   zlogin [-nEQS] [-l user] zone utility [argument...]
 *   zlogin -C [-dEQ] [-e c] zone                     the zone console; ~. detaches
 * Without a utility and with a terminal on standard input, the user's login shell runs
 * on a pseudo-terminal allocated inside the zone (its own /dev/pts; the runtime relays
 * it, passes window-size changes on and keeps no host terminal in the zone). Without a
 * terminal, the shell reads standard input. One utility argument is a command line for
 * the user's shell (`zlogin z 'cd /etc; ls'`); several reach the program exactly as
 * given. SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on; the exit status is the
 * command's. Exit 1 when the zone cannot be reached, as in illumos.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { constants } from "node:os";
import * as path from "node:path";
import { EXIT_ERR, UsageError, ZoneError } from "../native/errors.js";
import { checkZoneName } from "../document/names.js";
import { makeRuntime, type RuntimeName } from "../platform/oci/runtime.js";
import { zonePaths } from "../document/store/paths.js";
import { processTemplateFile, readRun, zoneRunDir } from "../document/store/runstate.js";
import { loginProcess } from "../platform/loginproc.js";
import { memlockOfBundle, withMemlock } from "../platform/cgroups/memlock.js";
import * as net from "node:net";
import { asRoot, ensureDaemon } from "../daemon/client.js";
import { loginViaDaemon } from "./zlogin/viadaemon.js";
import { adminSocketPath, socketPath, type Reply } from "../daemon/protocol.js";
import { EscapeFilter } from "./zlogin/escape.js";
import { KeyPty, rawTerminal, terminalSize } from "./zlogin/keypty.js";
import type { ZonePaths } from "../document/store/paths.js";
import { failure } from "./report.js";
import { writeFileAtomic } from "../native/atomic.js";

const USAGE = "usage: zlogin [-EQS] [-e c] [-l user] zone\n       zlogin [-nEQS] [-l user] zone utility [argument...]\n       zlogin -C [-dEQ] [-e c] zone";

interface Args {
  zone: string;
  user: string;
  nullInput: boolean;
  quiet: boolean;
  /** Safe mode: root's plain /bin/sh, no login shell, for repairs. */
  safe: boolean;
  console: boolean;
  /** -d: drop the console connection when the zone halts. */
  detachOnHalt: boolean;
  /** The escape character's byte; undefined with -E. */
  escape: number | undefined;
  argv: string[];
}

function parseArgs(argv: string[]): Args {
  let user: string | undefined;
  let nullInput = false;
  let quiet = false;
  let safe = false;
  let console = false;
  let detachOnHalt = false;
  let escape: number | undefined = 0x7e; // '~'
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith("-"); i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (a === "-n") nullInput = true;
    else if (a === "-Q") quiet = true;
    else if (a === "-S") safe = true;
    else if (a === "-E") escape = undefined;
    else if (a === "-C") console = true;
    else if (a === "-d") detachOnHalt = true;
    else if (a === "-e") {
      const v = argv[++i];
      if (v === undefined || Buffer.byteLength(v) !== 1) throw new UsageError(`-e needs one character\n${USAGE}`);
      escape = Buffer.from(v)[0];
    } else if (a === "-l") {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`-l needs a user name\n${USAGE}`);
      user = v;
    } else throw new UsageError(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (safe && user !== undefined) throw new UsageError(`-S and -l cannot be used together\n${USAGE}`);
  if (console && (safe || user !== undefined || nullInput)) throw new UsageError(`-C cannot be used with -S, -l or -n\n${USAGE}`);
  if (detachOnHalt && !console) throw new UsageError(`-d applies to the console (-C)\n${USAGE}`);
  const zone = argv[i];
  if (zone === undefined) throw new UsageError(USAGE);
  if (console && argv.length > i + 1) throw new UsageError(`the console takes no command\n${USAGE}`);
  return { zone, user: user ?? "root", nullInput, quiet, safe, console, detachOnHalt, escape, argv: argv.slice(i + 1) };
}

/** Is `pid` a live process (not a zombie)? */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

async function main(argv: string[]): Promise<number> {
  let prefix = "zlogin";
  try {
    const a = parseArgs(argv);
    checkZoneName(a.zone);
    prefix = `zlogin: zone '${a.zone}'`;
    const paths = zonePaths();
    if (a.console) return await consoleSession(paths, a);
    // A delegated admin's zlogin: zoneadmd checks her `login` and runs it (viadaemon.ts).
    const interactive = a.argv.length === 0 && process.stdin.isTTY === true && !a.nullInput;
    // The zone's pty has the terminal's size from its start (loginproc.ts).
    const size = interactive ? terminalSize() : undefined;
    if (!asRoot()) return await loginViaDaemon(paths, { zone: a.zone, nullInput: a.nullInput, quiet: a.quiet, escape: a.escape, login: { user: a.user, safe: a.safe, terminal: interactive, argv: a.argv, term: process.env.TERM || "xterm", size } });
    // zoneadmd must be watching the zones (it is started if not running): a login into a
    // zone nobody supervises would outlive its halt. The call is bounded (client.ts).
    await ensureDaemon(paths);
    const run = readRun(paths, a.zone);
    if (!run || !run.booted || !alive(run.pid)) {
      throw new ZoneError(fs.existsSync(paths.configDir) && zoneExists(paths.configDir, a.zone) ? "zone is not running" : "no such zone configured");
    }
    const proc = loginProcess(processTemplateFile(paths, a.zone), { root: run.root, user: a.user, safe: a.safe, terminal: interactive, argv: a.argv, term: process.env.TERM || "xterm", size });
    const processFile = path.join(zoneRunDir(paths, a.zone), `exec-${process.pid}.json`);
    // Whole or not at all: a full disk leaves no empty file behind.
    writeFileAtomic(processFile, JSON.stringify(proc), 0o600, false);
    // Under the zone's RLIMIT_MEMLOCK, which the process inherits (memlock.ts).
    const [bin, ...rargs] = withMemlock(memlockOfBundle(zoneRunDir(paths, a.zone)), makeRuntime(run.runtime as RuntimeName, paths.runDir).execArgv(a.zone, { processFile }));
    if (interactive && !a.quiet) process.stdout.write(`[Connected to zone '${a.zone}']\n`);
    // With an escape character, keystrokes pass through zlogin so that `~.` can be seen,
    // into a host pty that is the runtime's stdin (keypty.ts); the runtime still writes
    // straight to the terminal. With -E it reads the terminal itself and follows its
    // size (SIGWINCH reaches it as a member of our process group).
    const keys = interactive && a.escape !== undefined ? new KeyPty() : undefined;
    const child = spawn(bin!, rargs, { stdio: [a.nullInput ? "ignore" : keys ? keys.slave : "inherit", "inherit", "inherit"] });
    keys?.closeSlave();
    // The runtime passes the signals it gets to the process in the zone.
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const) process.on(sig, () => child.kill(sig));
    if (keys) {
      // The runtime hears SIGWINCH from the terminal too, maybe before the pty has the
      // new size: told again once it has, one that reads its stdin gets the right one.
      process.on("SIGWINCH", () => {
        keys.follow();
        child.kill("SIGWINCH");
      });
      relayKeys(child, keys, new EscapeFilter(a.escape));
    }
    const code = await new Promise<number>((resolve) => {
      child.on("error", (e) => resolve(failure(prefix, new ZoneError(`cannot start ${bin}: ${e.message}`))));
      child.on("exit", (c, signal) => resolve(c ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
    keys?.close();
    fs.rmSync(processFile, { force: true });
    if (interactive && !a.quiet) process.stdout.write(`\n[Connection to zone '${a.zone}' closed]\n`);
    return code;
  } catch (e) {
    const code = failure(prefix, e);
    return code === 2 || code === 130 || code === 143 ? code : EXIT_ERR;
  }
}

/**
 * zlogin -C: the zone console through zoneadmd. The terminal is raw while attached, so
 * the zone sees every key; `~.` at the start of a line (or -e's character) detaches.
 */
async function consoleSession(paths: ZonePaths, a: Args): Promise<number> {
  await ensureDaemon(paths);
  const sock = net.createConnection(asRoot() ? socketPath(paths.runDir) : adminSocketPath(paths.runDir));
  sock.write(JSON.stringify({ op: "console", zone: a.zone, detachOnHalt: a.detachOnHalt }) + "\n");
  let head = Buffer.alloc(0);
  const first = await new Promise<{ reply: Reply; rest: Buffer }>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(0x0a);
      if (nl < 0) return;
      sock.off("data", onData);
      try {
        resolve({ reply: JSON.parse(head.subarray(0, nl).toString("utf8")) as Reply, rest: head.subarray(nl + 1) });
      } catch {
        reject(new ZoneError("zoneadmd sent a malformed reply"));
      }
    };
    sock.on("data", onData);
    sock.on("error", reject);
    sock.on("end", () => reject(new ZoneError("zoneadmd closed the console connection")));
  });
  if (!first.reply.ok) throw new ZoneError(first.reply.error);
  if (!a.quiet) process.stdout.write(`[Connected to zone '${a.zone}' console]\n`);
  const raw = process.stdin.isTTY === true;
  if (raw) process.stdin.setRawMode(true);
  process.stdout.write(first.rest);
  const filter = new EscapeFilter(a.escape);
  return await new Promise<number>((resolve) => {
    const done = (): void => {
      if (raw) process.stdin.setRawMode(false);
      process.stdin.pause();
      sock.destroy();
      if (!a.quiet) process.stdout.write(`\n[Connection to zone '${a.zone}' console closed]\n`);
      resolve(0);
    };
    sock.removeAllListeners("end");
    sock.on("data", (d: Buffer) => process.stdout.write(d));
    sock.on("end", done);
    sock.on("error", done);
    process.stdin.on("data", (d: Buffer) => {
      const { out, disconnect } = filter.feed(d);
      if (out.length > 0) sock.write(out);
      if (disconnect) done();
    });
    process.stdin.on("end", () => sock.end());
  });
}

/**
 * Feeds the terminal's keys to the runtime, raw, watching for the escape sequence. On
 * `~.` the session is hung up: the runtime passes SIGHUP to the zone's shell, which
 * ends, and the runtime exits; SIGKILL follows if it does not.
 */
function relayKeys(child: ChildProcess, sink: KeyPty, filter: EscapeFilter): void {
  rawTerminal();
  const onData = (d: Buffer): void => {
    const { out, disconnect } = filter.feed(d);
    if (out.length > 0) sink.write(out);
    if (disconnect) {
      process.stdin.off("data", onData);
      child.kill("SIGHUP");
      setTimeout(() => child.kill("SIGKILL"), 2000).unref();
    }
  };
  process.stdin.on("data", onData);
  child.on("exit", () => {
    process.stdin.setRawMode(false);
    process.stdin.pause();
  });
}

/** Whether the repository index names the zone (read directly: zlogin stays small). */
function zoneExists(configDir: string, name: string): boolean {
  try {
    return fs.readFileSync(path.join(configDir, "index"), "utf8").split("\n").some((l) => l.startsWith(`${name}:`));
  } catch {
    return false;
  }
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
