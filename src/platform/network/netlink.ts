/**
 * Netlink from Node: the few rtnetlink and nf_tables requests that zone networking
 * makes, written by hand so that plumbing a zone costs a few syscalls instead of
 * spawning `ip` and `nft` (each spawn costs milliseconds; the whole setup has 2 ms).
 *
 * A request is a list of messages sent in one sendmsg; the kernel handles netlink
 * requests in the sender's context, so every answer is queued by the time send
 * returns and the answers are read without blocking. Every message asks for an
 * acknowledgement, and the first error, with what the message was for, is thrown.
 *
 * Only the global zone's root uses this (zoneadmd), on its own namespace or, through
 * `inNetns`, on a zone's. This file is the socket and the attribute encoding; the
 * messages are rtnetlink.ts (links, addresses, routes) and nftables.ts (set elements).
 */
import * as fs from "node:fs";
import { isIP } from "node:net";
import { ZoneError } from "../../native/errors.js";
import { errnoText, sys } from "../../native/sys.js";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const CLONE_NEWNET = 0x40000000;
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
const NLMSG_ERROR = 2;
const NLA_F_NESTED = 0x8000;

/** One netlink message: its type, extra flags, and its body (family header and attributes). */
export interface Message {
  type: number;
  flags: number;
  body: Buffer;
  /** What it does, for the error message: "create veth zv1234abcd0". */
  what: string;
}

/** An answer to a request: a message the kernel sent back (to a get). */
export interface Answer {
  type: number;
  body: Buffer;
}

export class NetlinkError extends ZoneError {
  constructor(
    what: string,
    readonly errno: number,
  ) {
    super(`${what}: ${errnoText(errno)}`);
  }
}

// --- attributes -------------------------------------------------------------

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** A netlink attribute: header, payload, padding to 4 bytes. */
export function attr(type: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(pad4(4 + payload.length));
  b.writeUInt16LE(4 + payload.length, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

export function nest(type: number, ...children: Buffer[]): Buffer {
  return attr(type | NLA_F_NESTED, Buffer.concat(children));
}

/** A NUL-terminated string attribute. */
export function strAttr(type: number, s: string): Buffer {
  return attr(type, Buffer.from(`${s}\0`));
}

export function u32Attr(type: number, n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return attr(type, b);
}

export function u8Attr(type: number, n: number): Buffer {
  return attr(type, Buffer.from([n]));
}

/** Attributes of a message body from `offset`, by type (nested flag dropped). */
export function parseAttrs(b: Buffer, offset: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let o = offset; o + 4 <= b.length; ) {
    const len = b.readUInt16LE(o);
    if (len < 4 || o + len > b.length) break;
    out.set(b.readUInt16LE(o + 2) & ~NLA_F_NESTED, b.subarray(o + 4, o + len));
    o += pad4(len);
  }
  return out;
}

/** "aa:bb:cc:dd:ee:ff" as 6 bytes. */
export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(":").map((h) => parseInt(h, 16)));
}

/** An IPv4 or IPv6 address in network byte order. */
export function ipBytes(addr: string): Buffer {
  if (isIP(addr) === 4) return Buffer.from(addr.split(".").map(Number));
  const [head = "", tail] = addr.split("::");
  // A dotted IPv4 tail (::ffff:10.0.0.1) is two 16-bit words.
  const words = (s: string): number[] =>
    s === "" ? [] : s.split(":").flatMap((w) => (w.includes(".") ? ((q) => [q[0]! * 256 + q[1]!, q[2]! * 256 + q[3]!])(w.split(".").map(Number)) : [parseInt(w, 16)]));
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

// --- the socket ---------------------------------------------------------------

interface NetlinkCalls {
  send(fd: number, buf: Buffer, len: number, flags: number): number | bigint;
  recv(fd: number, buf: Buffer, len: number, flags: number): number | bigint;
  setns(fd: number, nstype: number): number;
}

let calls: NetlinkCalls | undefined;
/** The global zone's network namespace, held open: the way back from a zone's. */
let ownNetns: number | undefined;

function netlinkCalls(): NetlinkCalls {
  if (!calls) {
    const c = sys().koffi.load("libc.so.6");
    calls = {
      send: c.func("long send(int fd, void *buf, size_t len, int flags)") as NetlinkCalls["send"],
      recv: c.func("long recv(int fd, _Out_ void *buf, size_t len, int flags)") as NetlinkCalls["recv"],
      setns: c.func("int setns(int fd, int nstype)") as NetlinkCalls["setns"],
    };
  }
  return calls;
}

export class NetlinkSocket {
  private seq = 1;
  private readonly buf = Buffer.alloc(256 * 1024);

  private constructor(readonly fd: number) {}

  static open(protocol: number): NetlinkSocket {
    const fd = sys().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) throw new NetlinkError("netlink socket", sys().errno());
    return new NetlinkSocket(fd);
  }

  /**
   * A socket of the network namespace `nsPath` (/proc/PID/ns/net): the main thread
   * enters it for the one socket() call and returns at once. A socket keeps the
   * namespace it was made in; nothing else runs on this thread meanwhile.
   */
  static inNetns(nsPath: string, protocol: number): NetlinkSocket {
    const nc = netlinkCalls();
    const own = (ownNetns ??= fs.openSync("/proc/thread-self/ns/net", "r"));
    let target: number;
    try {
      target = fs.openSync(nsPath, "r");
    } catch (e) {
      throw new ZoneError(`network namespace ${nsPath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      if (nc.setns(target, CLONE_NEWNET) !== 0) throw new NetlinkError(`enter network namespace ${nsPath}`, sys().errno());
      try {
        return NetlinkSocket.open(protocol);
      } finally {
        // Staying in the zone's namespace would put every later socket of zoneadmd there.
        if (nc.setns(own, CLONE_NEWNET) !== 0) {
          process.stderr.write(`zoneadmd: cannot return to the global zone's network namespace (${errnoText(sys().errno())})\n`);
          process.abort();
        }
      }
    } finally {
      fs.closeSync(target);
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /**
   * Send `msgs` in one datagram and read the answer to each: an ack, after the reply
   * for a get. `batch` wraps them in an nfnetlink batch
   * (one nf_tables transaction: all or nothing). Throws the first error.
   */
  request(msgs: readonly Message[], batch?: { resId: number }): Answer[] {
    const wanted = new Map<number, Message>();
    const parts: Buffer[] = [];
    const header = (type: number, flags: number, body: Buffer): Buffer => {
      const h = Buffer.alloc(16);
      const seq = this.seq++;
      h.writeUInt32LE(16 + body.length, 0);
      h.writeUInt16LE(type, 4);
      h.writeUInt16LE(flags, 6);
      h.writeUInt32LE(seq, 8);
      return Buffer.concat([h, body]);
    };
    const nfgen = (resId: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(resId, 2);
      return b;
    };
    if (batch) parts.push(header(0x10, NLM_F_REQUEST, nfgen(batch.resId)));
    for (const m of msgs) {
      wanted.set(this.seq, m);
      parts.push(header(m.type, NLM_F_REQUEST | NLM_F_ACK | m.flags, m.body));
    }
    if (batch) parts.push(header(0x11, NLM_F_REQUEST, nfgen(batch.resId)));
    const out = Buffer.concat(parts);
    const nc = netlinkCalls();
    if (Number(nc.send(this.fd, out, out.length, 0)) !== out.length) throw new NetlinkError(msgs[0]?.what ?? "netlink send", sys().errno());
    const answers: Answer[] = [];
    let failure: NetlinkError | undefined;
    while (wanted.size > 0) {
      // Never blocks: the kernel answered within send.
      const n = Number(nc.recv(this.fd, this.buf, this.buf.length, MSG_DONTWAIT));
      if (n < 0) throw new NetlinkError(`${[...wanted.values()][0]!.what}: no answer from the kernel`, sys().errno());
      for (let o = 0; o + 16 <= n; ) {
        const len = this.buf.readUInt32LE(o);
        if (len < 16 || o + len > n) break;
        const type = this.buf.readUInt16LE(o + 4);
        const seq = this.buf.readUInt32LE(o + 8);
        const m = wanted.get(seq);
        if (type === NLMSG_ERROR) {
          const err = -this.buf.readInt32LE(o + 16);
          if (err !== 0 && m && !failure) failure = new NetlinkError(m.what, err);
          wanted.delete(seq);
        } else if (m) answers.push({ type, body: Buffer.from(this.buf.subarray(o + 16, o + len)) });
        o += pad4(len);
      }
    }
    if (failure) throw failure;
    return answers;
  }
}
