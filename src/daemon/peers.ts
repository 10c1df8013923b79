/**
 * What the kernel says about a broker connection (broker.ts): the peer's credentials
 * (SO_PEERCRED), the caller's pid in its own pid namespace and whether it is in a
 * zone's cgroup; and the descriptor passing that hands each end of a channel over.
 */
import * as fs from "node:fs";
import type * as net from "node:net";
import { ZoneError } from "../native/errors.js";
import { AF_UNIX, SCM_RIGHTS, SOCK_CLOEXEC, SOCK_STREAM, SOL_SOCKET, errnoText, sys } from "../native/sys.js";

const SO_PEERCRED = 17;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

export function peerCred(fd: number): PeerCred {
  const buf = Buffer.alloc(12);
  const len = [12];
  if (sys().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) !== 0) throw new ZoneError(`getsockopt SO_PEERCRED: ${errnoText(sys().errno())}`);
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}

/** Send `data` and, optionally, one descriptor in SCM_RIGHTS; false when it did not all go. */
export function sendWithFd(fd: number, data: Buffer, passFd?: number): boolean {
  const control = passFd === undefined ? null : Buffer.alloc(24);
  if (control) {
    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } + int, padded: CMSG_SPACE(4)
    control.writeBigUInt64LE(20n, 0);
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    control.writeInt32LE(passFd!, 16);
  }
  const msg = { msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: data.length }], msg_iovlen: 1, msg_control: control, msg_controllen: control ? 24 : 0, msg_flags: 0 };
  return Number(sys().sendmsg(fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL)) === data.length;
}

export function socketPair(): [number, number] {
  const sv = Buffer.alloc(8);
  if (sys().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) !== 0) throw new ZoneError(`socketpair: ${errnoText(sys().errno())}`);
  return [sv.readInt32LE(0), sv.readInt32LE(4)];
}

export function rawFd(s: net.Socket): number {
  return (s as unknown as { _handle: { fd: number } })._handle.fd;
}

/** The pid of `pid` in its own innermost pid namespace (NSpid's last field). */
export function zonePid(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^NSpid:\s*(.*)$/m.exec(status);
  const fields = (m?.[1] ?? String(pid)).trim().split(/\s+/);
  return Number(fields[fields.length - 1]);
}

/** Is `pid` in cgroup `cg` (or below it) in some hierarchy? */
export function inCgroup(pid: number, cg: string): boolean {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  return lines.some((l) => {
    const p = l.slice(l.indexOf(":", l.indexOf(":") + 1) + 1);
    return p === cg || p.startsWith(cg + "/");
  });
}
