/**
 * Descriptor passing, which Node's core cannot do: receiving a pty master that the
 * OCI runtime sends over a UNIX socket (--console-socket, one sendmsg with the fd in
 * SCM_RIGHTS), and taking a copy of a descriptor held by another process
 * (pidfd_getfd), which is how a restarted zoneadmd gets zone consoles back.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { ZoneError } from "./errors.js";
import { MSG_CMSG_CLOEXEC, SCM_RIGHTS, SOL_SOCKET, errnoText, sys } from "./sys.js";

const EAGAIN = 11;
const SYS_PIDFD_OPEN = 434;
const SYS_PIDFD_GETFD = 438;

interface Msghdr {
  msg_name: null;
  msg_namelen: number;
  msg_iov: Array<{ iov_base: Buffer; iov_len: number }>;
  msg_iovlen: number;
  msg_control: Buffer;
  msg_controllen: number;
  msg_flags: number;
}

/** The fd carried by one message on `fd`, or undefined until one has arrived. */
function recvFd(fd: number): number | undefined {
  const s = sys();
  const data = Buffer.alloc(4096);
  const control = Buffer.alloc(64);
  const msg: Msghdr = { msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: data.length }], msg_iovlen: 1, msg_control: control, msg_controllen: control.length, msg_flags: 0 };
  const n = Number(s.recvmsg(fd, msg, MSG_CMSG_CLOEXEC));
  if (n < 0) {
    const e = s.errno();
    if (e === EAGAIN) return undefined;
    throw new ZoneError(`recvmsg on the console socket: ${errnoText(e)}`);
  }
  // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the fd.
  if (Number(msg.msg_controllen) < 20 || control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS)
    throw new ZoneError("the runtime sent no terminal over the console socket");
  return control.readInt32LE(16);
}

/**
 * Listen at `socketPath` for one descriptor; `fd` settles when it arrives. Reading `fd`
 * claims the descriptor: close() closes one that arrived unclaimed (the runtime failed
 * after sending it). Whatever the runtime does, `fd` never rejects unobserved, and after
 * close() nothing of this listener runs: no timer, no polling of a descriptor number
 * that the process may already have reused.
 */
export function receiveOneFd(socketPath: string, timeoutMs = 10_000): { readonly fd: Promise<number>; close(): void } {
  fs.rmSync(socketPath, { force: true });
  // pauseOnConnect: libuv must not read first, or the descriptor is lost with the data.
  const server = net.createServer({ pauseOnConnect: true });
  let closed = false;
  let claimed = false;
  let received: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  const socks = new Set<net.Socket>();
  let settle: { resolve(fd: number): void; reject(e: unknown): void } | undefined;
  const fd = new Promise<number>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // A runtime that fails (runc create) may never be followed by a read of `fd`: its
  // rejection then has nobody to report to, and must not end zoneadmd.
  fd.catch(() => undefined);
  const finish = (err: unknown, got?: number): void => {
    clearTimeout(timer);
    clearTimeout(pollTimer);
    for (const s of socks) s.destroy();
    socks.clear();
    if (got !== undefined) {
      if (closed) fs.closeSync(got);
      else received = got;
    }
    const s = settle;
    settle = undefined;
    if (!s) return;
    if (got !== undefined && !closed) s.resolve(got);
    else s.reject(err);
  };
  timer = setTimeout(() => finish(new ZoneError("the runtime did not send the zone's terminal in time")), timeoutMs);
  server.on("connection", (sock) => {
    if (!settle) return void sock.destroy();
    socks.add(sock);
    const raw = (sock as unknown as { _handle: { fd: number } })._handle.fd;
    const poll = (): void => {
      if (!settle) return;
      try {
        const got = recvFd(raw);
        if (got === undefined) return void (pollTimer = setTimeout(poll, 1));
        finish(undefined, got);
      } catch (e) {
        finish(e);
      }
    };
    poll();
  });
  server.on("error", (e) => finish(e));
  server.listen(socketPath);
  return {
    get fd() {
      claimed = true;
      return fd;
    },
    close() {
      closed = true;
      finish(new ZoneError("the console socket was closed before the runtime sent the zone's terminal"));
      if (received !== undefined && !claimed) fs.closeSync(received);
      received = undefined;
      server.close();
      fs.rmSync(socketPath, { force: true });
    },
  };
}

/** A copy of descriptor `target` of process `pid` (kernel >= 5.6; needs ptrace rights). */
export function fdOfProcess(pid: number, target: number): number {
  const s = sys();
  const pidfd = Number(s.syscall(SYS_PIDFD_OPEN, "int", pid, "uint", 0));
  if (pidfd < 0) throw new ZoneError(`pidfd_open ${pid}: ${errnoText(s.errno())}`);
  try {
    const fd = Number(s.syscall(SYS_PIDFD_GETFD, "int", pidfd, "int", target, "uint", 0));
    if (fd < 0) throw new ZoneError(`pidfd_getfd ${pid}/${target}: ${errnoText(s.errno())}`);
    return fd;
  } finally {
    fs.closeSync(pidfd);
  }
}

/**
 * The descriptors a recvmsg(2) control buffer carries in SCM_RIGHTS messages; the
 * control holds `controllen` bytes of cmsghdrs ({ size_t len; int level; int type; }
 * then the data, each 8-aligned).
 */
export function rightsIn(control: Buffer, controllen: number): number[] {
  const fds: number[] = [];
  let off = 0;
  while (off + 16 <= controllen) {
    const len = Number(control.readBigUInt64LE(off));
    if (len < 16) break;
    if (control.readInt32LE(off + 8) === SOL_SOCKET && control.readInt32LE(off + 12) === SCM_RIGHTS) for (let i = off + 16; i + 4 <= off + len; i += 4) fds.push(control.readInt32LE(i));
    off += (len + 7) & ~7;
  }
  return fds;
}
