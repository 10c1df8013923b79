/**
 * The admin socket: zoneadmd's door for host users other than root (protocol.ts
 * adminSocketPath). Every connection is read by zoneadmd itself, before anything else
 * happens: at most one request line of MAX_REQUEST bytes within READ_MS, with the
 * descriptors a login passes (SCM_RIGHTS; Node's sockets would drop them, so the first
 * bytes are read with recvmsg). The kernel says who is calling (SO_PEERCRED), admins.ts
 * says whether she may, and only then does the request reach the operation, console
 * or login code that root's socket uses.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { ZoneError, q } from "../native/errors.js";
import { MSG_CMSG_CLOEXEC, errnoText, sys } from "../native/sys.js";
import { rightsIn } from "../native/fdpass.js";
import type { Repository } from "../document/store/repository.js";
import { ACCEPTED, adminSocketPath, type Request } from "./protocol.js";
import { peerCred, rawFd } from "./peers.js";
import { refusal } from "./admins.js";
import type { LogSource } from "./log.js";

const MAX_REQUEST = 4096;
const READ_MS = 5000;
/** Connections at once (Node drops those beyond; root's own socket is not affected). */
const MAX_CONNECTIONS = 256;
/** Connections of one uid still sending their request: one user cannot crowd the others out. */
const MAX_PENDING_PER_UID = 8;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;

export interface AdminHandlers {
  operation(c: net.Socket, req: Request): void;
  console(c: net.Socket, req: Request, rest: Buffer): void;
  login(c: net.Socket, req: Request, fds: number[], uid: number): void;
  /** `from`: rate-limited per caller, so that a user cannot flood the log. */
  log(line: string, from: LogSource): void;
}

export class AdminSocket {
  private server?: net.Server;
  readonly path: string;
  private readonly pending = new Map<number, number>();

  constructor(
    runDir: string,
    private readonly repo: Repository,
    private readonly h: AdminHandlers,
  ) {
    this.path = adminSocketPath(runDir);
  }

  async listen(): Promise<void> {
    const dir = this.path.slice(0, this.path.lastIndexOf("/"));
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    // The run directory's parent must be searchable (/run is; a ZONES_ROOT's run/ was made 0700).
    const parent = fs.statSync(dir.slice(0, dir.lastIndexOf("/")) || "/");
    if ((parent.mode & 0o001) === 0) fs.chmodSync(dir.slice(0, dir.lastIndexOf("/")), (parent.mode & 0o7777) | 0o011);
    // Searchable by all, writable by root only: nobody else can put a socket here.
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.uid !== process.getuid!()) throw new ZoneError(`admin socket directory ${q(dir)} is not a directory of zoneadmd's user`);
    fs.chmodSync(dir, 0o755);
    fs.rmSync(this.path, { force: true });
    this.server = net.createServer({ pauseOnConnect: true }, (c) => this.accept(c));
    this.server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.path, resolve);
    });
    fs.chmodSync(this.path, 0o666);
  }

  close(): void {
    this.server?.close();
    fs.rmSync(this.path, { force: true });
  }

  private accept(c: net.Socket): void {
    c.on("error", () => undefined);
    let uid: number;
    try {
      uid = peerCred(rawFd(c)).uid;
    } catch {
      return void c.destroy();
    }
    const n = this.pending.get(uid) ?? 0;
    if (n >= MAX_PENDING_PER_UID) return void c.end(`${JSON.stringify({ ok: false, error: `uid ${uid} has ${n} requests on the way already` })}\n`);
    this.pending.set(uid, n + 1);
    let counted = true;
    const settled = (): void => {
      if (!counted) return;
      counted = false;
      const left = (this.pending.get(uid) ?? 1) - 1;
      if (left > 0) this.pending.set(uid, left);
      else this.pending.delete(uid);
    };
    c.on("close", settled);
    let buf = Buffer.alloc(0);
    const fds: number[] = [];
    const deadline = Date.now() + READ_MS;
    let delay = 1;
    const fail = (error: string, plain: boolean): void => {
      settled();
      for (const fd of fds.splice(0)) fs.closeSync(fd);
      // Operations answer "accepted" first (client.ts); console and login do not.
      c.end(`${plain ? "" : `${ACCEPTED}\n`}${JSON.stringify({ ok: false, error })}\n`);
    };
    const poll = (): void => {
      if (c.destroyed) return void fds.splice(0).forEach((fd) => fs.closeSync(fd));
      let got: Chunk;
      try {
        got = recvChunk(rawFd(c), MAX_REQUEST + 1 - buf.length);
      } catch {
        return void c.destroy();
      }
      fds.push(...got.fds);
      if (got.n === 0) return void fail("the request ended before its end of line", true);
      if (got.n > 0) buf = Buffer.concat([buf, got.data!]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        if (buf.length > MAX_REQUEST) return void fail(`request longer than ${MAX_REQUEST} bytes`, true);
        if (Date.now() > deadline) return void fail(`no request within ${READ_MS / 1000} s`, true);
        delay = got.n > 0 ? 1 : Math.min(delay * 2, 50);
        setTimeout(poll, delay);
        return;
      }
      let req: Request;
      try {
        req = JSON.parse(buf.subarray(0, nl).toString("utf8")) as Request;
        if (typeof req !== "object" || req === null || typeof req.op !== "string") throw new Error("not a request");
      } catch {
        return void fail("malformed request", true);
      }
      settled();
      const plain = req.op === "console" || req.op === "login";
      const no = refusal(this.repo, uid, req);
      if (no !== undefined) {
        this.h.log(`admin socket: uid ${uid}: refused: ${no}`, { zone: typeof req.zone === "string" && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(req.zone) ? req.zone : "-", kind: `admin uid ${uid}` });
        return void fail(no, plain);
      }
      const rest = buf.subarray(nl + 1);
      // A login's client sends nothing before zoneadmd's first answer.
      if (req.op === "login") return this.h.login(c, req, fds.splice(0), uid);
      for (const fd of fds.splice(0)) fs.closeSync(fd);
      // pauseOnConnect left the socket paused: each handler's listeners are on before it flows.
      if (req.op === "console") this.h.console(c, req, rest);
      else this.h.operation(c, req);
      c.resume();
    };
    poll();
  }
}

interface Chunk {
  /** Bytes read: 0 at end of stream, -1 when none have come yet. */
  n: number;
  data?: Buffer;
  fds: number[];
}

/** One non-blocking recvmsg, with the descriptors that came with it. */
function recvChunk(fd: number, max: number): Chunk {
  const data = Buffer.alloc(Math.max(1, max));
  const control = Buffer.alloc(256);
  const msg = { msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: data.length }], msg_iovlen: 1, msg_control: control, msg_controllen: control.length, msg_flags: 0 };
  const n = Number(sys().recvmsg(fd, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
  if (n < 0) {
    const e = sys().errno();
    if (e === EAGAIN) return { n: -1, fds: [] };
    throw new ZoneError(`recvmsg on the admin socket: ${errnoText(e)}`);
  }
  const fds = rightsIn(control, Number(msg.msg_controllen));
  return { n, data: data.subarray(0, n), fds };
}
