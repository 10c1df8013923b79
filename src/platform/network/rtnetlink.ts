/** The rtnetlink messages zone networking sends (netlink.ts sends them): links, addresses, routes. */
import { isIP } from "node:net";
import { attr, ipBytes, macBytes, nest, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, parseAttrs, strAttr, u32Attr, u8Attr, type Answer, type Message } from "./netlink.js";

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
