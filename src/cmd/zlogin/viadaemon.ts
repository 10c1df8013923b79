/**
 * zlogin for a user other than root: zoneadmd runs the zone's command for her (she has
 * `login` in an admin resource; src/daemon/login.ts). Her stdin, stdout and stderr go
 * to zoneadmd in SCM_RIGHTS with the request, so the command reads and writes them
 * directly; signals she gets are sent on as messages, and zoneadmd's last line is the
 * exit status. With an escape character, keys pass through here (a host pty is the
 * command's stdin, keypty.ts) so that `~.` can be seen, as in root's zlogin.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { ZoneError } from "../../native/errors.js";
import { AF_UNIX, SCM_RIGHTS, SOCK_CLOEXEC, SOCK_STREAM, SOL_SOCKET, errnoText, sys } from "../../native/sys.js";
import { adminSocketPath, type LoginRequest, type Reply } from "../../daemon/protocol.js";
import type { ZonePaths } from "../../document/store/paths.js";
import { EscapeFilter } from "./escape.js";
import { KeyPty, rawTerminal } from "./keypty.js";

const MSG_NOSIGNAL = 0x4000;

export interface ViaDaemon {
  zone: string;
  login: LoginRequest;
  nullInput: boolean;
  quiet: boolean;
  escape: number | undefined;
}

/** A connected, close-on-exec UNIX socket to the admin socket; one line when zoneadmd is not there. */
function connect(sock: string): number {
  const s = sys();
  const fd = s.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new ZoneError(`socket: ${errnoText(s.errno())}`);
  const p = Buffer.from(sock);
  if (p.length > 107) throw new ZoneError(`admin socket path is longer than 107 bytes: ${sock}`);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  p.copy(addr, 2);
  if (s.connect(fd, addr, 2 + p.length + 1) !== 0) {
    const e = errnoText(s.errno());
    fs.closeSync(fd);
    if (e === "ENOENT" || e === "ECONNREFUSED" || e === "EACCES") throw new ZoneError("zoneadmd is not running; ask root to start it (any zoneadm command run by root starts it)");
    throw new ZoneError(`cannot reach zoneadmd at ${sock}: ${e}`);
  }
  return fd;
}

/** The request line, with three descriptors in one SCM_RIGHTS message. */
function sendRequest(fd: number, line: string, stdio: [number, number, number]): void {
  const data = Buffer.from(line);
  // struct cmsghdr { size_t len; int level; int type; } + 3 ints = 28 bytes, CMSG_SPACE 32.
  const control = Buffer.alloc(32);
  control.writeBigUInt64LE(28n, 0);
  control.writeInt32LE(SOL_SOCKET, 8);
  control.writeInt32LE(SCM_RIGHTS, 12);
  stdio.forEach((d, i) => control.writeInt32LE(d, 16 + 4 * i));
  const msg = { msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: data.length }], msg_iovlen: 1, msg_control: control, msg_controllen: 32, msg_flags: 0 };
  // Blocking socket, one line well under the buffer size: it goes whole or fails.
  const n = Number(sys().sendmsg(fd, msg, MSG_NOSIGNAL));
  if (n !== data.length) throw new ZoneError(`cannot send the login request to zoneadmd: ${n < 0 ? errnoText(sys().errno()) : "short write"}`);
}

export async function loginViaDaemon(paths: ZonePaths, a: ViaDaemon): Promise<number> {
  const fd = connect(adminSocketPath(paths.runDir));
  const filtered = a.login.terminal && a.escape !== undefined;
  const opened: number[] = [];
  let keys: KeyPty | undefined;
  let stdin = 0;
  if (a.nullInput) opened.push((stdin = fs.openSync("/dev/null", "r")));
  else if (filtered) stdin = (keys = new KeyPty()).slave;
  try {
    sendRequest(fd, JSON.stringify({ op: "login", zone: a.zone, login: a.login }) + "\n", [stdin, 1, 2]);
  } catch (e) {
    keys?.close();
    throw e;
  } finally {
    for (const o of opened) fs.closeSync(o);
    keys?.closeSlave();
  }
  const sock = new net.Socket({ fd, readable: true, writable: true });
  let buf = "";
  let connected = false;
  return await new Promise<number>((resolve, reject) => {
    // A runtime that reads a new size from its stdin (our pty) finds it there when told.
    const pass = (s: NodeJS.Signals): void => {
      if (s === "SIGWINCH") keys?.follow();
      sock.write(`${s}\n`);
    };
    const sigs = (["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGWINCH"] as const).map((s) => [s, () => pass(s)] as const);
    let finished = false;
    const done = (r: number | Error): void => {
      if (finished) return;
      finished = true;
      for (const [s, f] of sigs) process.off(s, f);
      if (filtered) {
        process.stdin.setRawMode(false);
        process.stdin.pause();
      }
      keys?.close();
      sock.destroy();
      if (connected && a.login.terminal && !a.quiet) process.stdout.write(`\n[Connection to zone '${a.zone}' closed]\n`);
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    for (const [s, f] of sigs) process.on(s, f);
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        let r: Reply;
        try {
          r = JSON.parse(buf.slice(0, nl)) as Reply;
        } catch {
          return done(new ZoneError("zoneadmd sent a malformed reply"));
        }
        buf = buf.slice(nl + 1);
        if (!r.ok) return done(new ZoneError(r.error));
        if (r.status !== undefined) return done(r.status);
        if (!connected) {
          connected = true;
          if (a.login.terminal && !a.quiet) process.stdout.write(`[Connected to zone '${a.zone}']\n`);
          if (filtered) relayKeys(keys!, sock, new EscapeFilter(a.escape));
        }
      }
    });
    sock.on("error", () => undefined);
    sock.on("close", () => done(new ZoneError("zoneadmd closed the login connection without an exit status")));
  });
}

/** Keys to the command, raw, watching for `~.`: that hangs the session up (zoneadmd kills it if it lingers). */
function relayKeys(keys: KeyPty, sock: net.Socket, filter: EscapeFilter): void {
  rawTerminal();
  const onData = (d: Buffer): void => {
    const { out, disconnect } = filter.feed(d);
    if (out.length > 0) keys.write(out);
    if (disconnect) {
      process.stdin.off("data", onData);
      sock.write("SIGHUP\n");
      setTimeout(() => sock.destroy(), 2000).unref();
    }
  };
  process.stdin.on("data", onData);
}
