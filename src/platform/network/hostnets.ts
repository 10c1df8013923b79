/**
 * The networks the global zone is on, and through which interface: its on-link routes
 * (no gateway), as the kernel routes by them. An address of a network the host reaches
 * through one interface, given to a zone behind another, is ambiguous for the host: it
 * would be there twice, and a zone bridge could take the address of the host's router.
 *
 * Read from /proc/net/route and /proc/net/ipv6_route of zoneadmd's own namespace, which
 * no zone can change: two small files (one line per route; zone ports have none), so
 * the check costs tens of microseconds at every boot and spawns nothing.
 */
import * as fs from "node:fs";

/** One on-link network of the global zone. */
export interface HostNetwork {
  /** CIDR, in the kernel's spelling: 10.213.51.0/24, fd00:1::/64. */
  network: string;
  /** The host interface it is on. */
  ifname: string;
}

const RTF_GATEWAY = 0x2;
const RTF_REJECT = 0x200;
const RTF_ANYCAST = 0x100000;
const RTF_CACHE = 0x1000000;
const RTF_LOCAL = 0x80000000;

function read(file: string): string[] {
  try {
    return fs.readFileSync(file, "utf8").split("\n");
  } catch {
    return [];
  }
}

/** 32 hex digits -> an IPv6 address, its longest run of zero groups written "::". */
function v6(hex: string): string {
  const full = hex.match(/.{4}/g)!.map((g) => parseInt(g, 16).toString(16)).join(":");
  const runs = full.match(/(^|:)0(:0)+(:|$)/g) ?? [];
  const longest = runs.reduce((a, b) => (b.length > a.length ? b : a), "");
  return longest === "" ? full : full.replace(longest, "::");
}

/** The global zone's on-link networks; the default route, local, link-local and multicast routes are not networks of an interface. */
export function hostNetworks(): HostNetwork[] {
  const out: HostNetwork[] = [];
  // Iface Destination Gateway Flags RefCnt Use Metric Mask ...: addresses in host (little-endian) order.
  for (const line of read("/proc/net/route").slice(1)) {
    const f = line.split("\t");
    if (f.length < 8 || (parseInt(f[3]!, 16) & RTF_GATEWAY) !== 0) continue;
    let mask = parseInt(f[7]!, 16);
    if (!(mask > 0)) continue;
    const d = parseInt(f[1]!, 16);
    let prefix = 0;
    for (; mask !== 0; mask >>>= 1) prefix += mask & 1;
    out.push({ network: `${d & 255}.${(d >>> 8) & 255}.${(d >>> 16) & 255}.${d >>> 24}/${prefix}`, ifname: f[0]!.trim() });
  }
  // dest plen src splen nexthop metric refcnt use flags ifname
  for (const line of read("/proc/net/ipv6_route")) {
    // fe80::/10 is a network of every link by definition; ff00::/8 is multicast.
    if (line.length < 140 || /^fe[89ab]|^ff/.test(line)) continue;
    const f = line.trim().split(/\s+/);
    const flags = parseInt(f[8]!, 16);
    const plen = parseInt(f[1]!, 16);
    if ((flags & (RTF_GATEWAY | RTF_REJECT | RTF_ANYCAST | RTF_CACHE | RTF_LOCAL)) !== 0 || plen === 0 || f[9] === undefined) continue;
    out.push({ network: `${v6(f[0]!)}/${plen}`, ifname: f[9] });
  }
  return out;
}
