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
 * `inNetns`, on a zone's.
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

// --- rtnetlink messages ---------------------------------------------------------

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_PID = 19;
const IFLA_IFALIAS = 20;
const IFLA_AF_SPEC = 26;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFLA_INET6_ADDR_GEN_MODE = 8;
const IN6_ADDR_GEN_MODE_NONE = 1;
const IFF_UP = 0x1;
const AF_INET = 2;
const AF_INET6 = 10;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_F_NODAD = 0x02;
const RTA_GATEWAY = 5;
const RTA_OIF = 4;

/** struct ifinfomsg: the link by index (0: by IFLA_IFNAME), flags to set and which. */
function ifinfo(index: number, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

/** Create a bridge with a fixed MAC, down. */
export function newBridge(name: string, mac: string): Message {
  return {
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    body: Buffer.concat([ifinfo(0), strAttr(IFLA_IFNAME, name), attr(IFLA_ADDRESS, macBytes(mac)), nest(IFLA_LINKINFO, strAttr(IFLA_INFO_KIND, "bridge"))]),
    what: `create bridge ${name}`,
  };
}

/**
 * Create a veth pair whose peer is made directly in the network namespace of `pid`
 * with its name and MAC: it never exists in the global zone's namespace.
 */
export function newVeth(hostName: string, peerName: string, peerMac: string, pid: number): Message {
  const peer = Buffer.concat([ifinfo(0), strAttr(IFLA_IFNAME, peerName), attr(IFLA_ADDRESS, macBytes(peerMac)), u32Attr(IFLA_NET_NS_PID, pid)]);
  return {
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    body: Buffer.concat([ifinfo(0), strAttr(IFLA_IFNAME, hostName), nest(IFLA_LINKINFO, strAttr(IFLA_INFO_KIND, "veth"), nest(IFLA_INFO_DATA, nest(VETH_INFO_PEER, peer)))]),
    what: `create veth ${hostName}`,
  };
}

/**
 * Change a link named `name`: its ifalias, no IPv6 address of its own (a bridge port
 * needs none), its master. Before `up`: an address generated at up would stay.
 */
export function setLink(name: string, o: { alias?: string; noAddrGen?: boolean; master?: number }): Message {
  const attrs = [strAttr(IFLA_IFNAME, name)];
  if (o.alias !== undefined) attrs.push(strAttr(IFLA_IFALIAS, o.alias));
  if (o.master !== undefined) attrs.push(u32Attr(IFLA_MASTER, o.master));
  if (o.noAddrGen) attrs.push(noAddrGen());
  return { type: RTM_NEWLINK, flags: 0, body: Buffer.concat([ifinfo(0), ...attrs]), what: `configure link ${name}` };
}

/** No IPv6 link-local address of the kernel's making (addrgenmode none). */
function noAddrGen(): Buffer {
  return nest(IFLA_AF_SPEC, nest(AF_INET6, u8Attr(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE)));
}

/** Bring a link up, by name or index. */
export function linkUp(link: string | number): Message {
  const body = typeof link === "number" ? ifinfo(link, IFF_UP, IFF_UP) : Buffer.concat([ifinfo(0, IFF_UP, IFF_UP), strAttr(IFLA_IFNAME, link)]);
  return { type: RTM_NEWLINK, flags: 0, body, what: `bring up link ${link}` };
}

/** Move the host link `name` into the network namespace of `pid`. */
export function moveLink(name: string, pid: number): Message {
  return { type: RTM_NEWLINK, flags: 0, body: Buffer.concat([ifinfo(0), strAttr(IFLA_IFNAME, name), u32Attr(IFLA_NET_NS_PID, pid)]), what: `move link ${name} into the zone` };
}

export function delLink(name: string): Message {
  return { type: RTM_DELLINK, flags: 0, body: Buffer.concat([ifinfo(0), strAttr(IFLA_IFNAME, name)]), what: `delete link ${name}` };
}

/** Look a link up by name; its answer's ifindex is `ifindexOf(answer)`. */
export function getLink(name: string): Message {
  return { type: RTM_GETLINK, flags: 0, body: Buffer.concat([ifinfo(0), strAttr(IFLA_IFNAME, name)]), what: `find link ${name}` };
}

export function ifindexOf(a: Answer): number {
  return a.body.readInt32LE(4);
}

/** The name of the link an RTM_NEWLINK answer describes. */
export function ifnameOf(a: Answer): string {
  const raw = parseAttrs(a.body, 16).get(IFLA_IFNAME);
  return raw ? raw.subarray(0, raw.indexOf(0) < 0 ? raw.length : raw.indexOf(0)).toString("latin1") : "";
}

/**
 * Add (or with `replace`, add or keep) the address `cidr` on link `index`. No duplicate
 * address detection for IPv6: the address is the zone's by configuration, and DAD
 * would leave it tentative, unusable, for a second or more.
 */
export function newAddr(index: number, cidr: string, replace = false): Message {
  const [addr = "", len] = cidr.split("/");
  const v6 = isIP(addr) === 6;
  const b = Buffer.alloc(8);
  b.writeUInt8(v6 ? AF_INET6 : AF_INET, 0);
  b.writeUInt8(len === undefined ? (v6 ? 128 : 32) : Number(len), 1);
  b.writeUInt8(v6 ? IFA_F_NODAD : 0, 2);
  b.writeUInt32LE(index, 4);
  const a = ipBytes(addr);
  return {
    type: RTM_NEWADDR,
    flags: NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL),
    body: Buffer.concat([b, attr(IFA_LOCAL, a), attr(IFA_ADDRESS, a)]),
    what: `add address ${cidr}`,
  };
}

const RTM_GETROUTE = 26;
const RTM_F_FIB_MATCH = 0x2000;
const RTA_DST = 1;
const RTN_LOCAL = 2;

/**
 * The FIB entry that `addr` matches (`ip route get fibmatch`): for an address of this
 * namespace it is the local route, naming the link that holds it. One lookup, where
 * listing every address walks every link (slow with hundreds of zone ports).
 */
export function fibMatch(addr: string): Message {
  const v6 = isIP(addr) === 6;
  const b = Buffer.alloc(12);
  b.writeUInt8(v6 ? AF_INET6 : AF_INET, 0);
  b.writeUInt8(v6 ? 128 : 32, 1);
  b.writeUInt32LE(RTM_F_FIB_MATCH, 8);
  return { type: RTM_GETROUTE, flags: 0, body: Buffer.concat([b, attr(RTA_DST, ipBytes(addr))]), what: `look up ${addr}` };
}

/** From the answer to `fibMatch`: the link holding the address, or undefined when it is not local. */
export function localLinkOf(a: Answer): number | undefined {
  if (a.body.readUInt8(7) !== RTN_LOCAL) return undefined;
  return parseAttrs(a.body, 12).get(RTA_OIF)?.readUInt32LE(0);
}

/** The default route via `gateway` out of link `index`, in the main table. */
export function defaultRoute(index: number, gateway: string): Message {
  const v6 = isIP(gateway) === 6;
  const b = Buffer.alloc(12);
  b.writeUInt8(v6 ? AF_INET6 : AF_INET, 0);
  b.writeUInt8(254, 4); // RT_TABLE_MAIN
  b.writeUInt8(3, 5); // RTPROT_BOOT: as `ip route add`
  b.writeUInt8(0, 6); // RT_SCOPE_UNIVERSE
  b.writeUInt8(1, 7); // RTN_UNICAST
  return {
    type: RTM_NEWROUTE,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    body: Buffer.concat([b, attr(RTA_GATEWAY, ipBytes(gateway)), u32Attr(RTA_OIF, index)]),
    what: `add default route via ${gateway}`,
  };
}


// --- nf_tables set elements -------------------------------------------------------

export const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_DELTABLE = 2;
const NFTA_TABLE_NAME = 1;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
const NFPROTO_BRIDGE = 7;
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_DATA_VALUE = 1;

/**
 * Keys of set elements, laid out as nft lays out concatenations: each part in whole
 * 32-bit registers, zero-padded (an ifname takes 16 bytes, a MAC 8, IPv4 4, IPv6 16).
 */
export const key = {
  ifname(name: string): Buffer {
    const b = Buffer.alloc(16);
    b.write(name, "latin1");
    return b;
  },
  mac(mac: string): Buffer {
    return Buffer.concat([macBytes(mac), Buffer.alloc(2)]);
  },
  ip(addr: string): Buffer {
    return ipBytes(addr);
  },
};

/** Add (`add`) or remove elements with `keys` to the set `set` of bridge table `table`. */
export function setElements(op: "add" | "delete", table: string, set: string, keys: readonly Buffer[]): Message {
  const nfgen = Buffer.from([NFPROTO_BRIDGE, 0, 0, 0]);
  const elems = keys.map((k) => nest(NFTA_LIST_ELEM, nest(NFTA_SET_ELEM_KEY, attr(NFTA_DATA_VALUE, k))));
  return {
    type: (NFNL_SUBSYS_NFTABLES << 8) | (op === "add" ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM),
    flags: op === "add" ? NLM_F_CREATE : 0,
    body: Buffer.concat([nfgen, strAttr(NFTA_SET_ELEM_LIST_TABLE, table), strAttr(NFTA_SET_ELEM_LIST_SET, set), nest(NFTA_SET_ELEM_LIST_ELEMENTS, ...elems)]),
    what: `${op} elements of nft set ${table} ${set}`,
  };
}

/** Delete the bridge-family table `table` with everything in it. */
export function delTable(table: string): Message {
  return {
    type: (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE,
    flags: 0,
    body: Buffer.concat([Buffer.from([NFPROTO_BRIDGE, 0, 0, 0]), strAttr(NFTA_TABLE_NAME, table)]),
    what: `delete nft table bridge ${table}`,
  };
}
