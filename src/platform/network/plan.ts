/**
 * Planning a zone's network and checking it (network.ts plumbs what this plans): which
 * links the zone gets and their names, MACs and addresses, derived from the zone's net
 * resources alone; and what stops that plan from being plumbed on this host (a missing
 * or taken physical, an address in use or on a network the host reaches elsewhere).
 * zoneadm verify (hostcheck.ts) and zoneadmd's ready run the same checks.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import * as os from "node:os";
import type { IpType, ZoneConfig } from "../../document/model.js";
import { hostNetworks, type HostNetwork } from "./hostnets.js";
import { foreignPorts, ifindex, isBridge, linkExists, linkName } from "./hostlinks.js";

/** One interface of a zone: what the global zone made for it. */
export interface ZoneLink {
  /** The configured `physical`. */
  physical: string;
  /** veth on a bridge, or a host link moved into the zone. */
  kind: "veth" | "moved";
  /** Host bridge the veth is a port of ("" for a moved link). */
  bridge: string;
  /** zoneadmd made the bridge and removes it once no zone uses it. */
  ownBridge: boolean;
  /** Host side of the veth ("" for a moved link). */
  hostIf: string;
  /** The interface's name inside the zone. */
  zoneIf: string;
  /** The zone side's MAC address, fixed by the global zone. */
  mac: string;
  /** Addresses (CIDR) the global zone plumbs inside the zone. */
  plumb: string[];
  /** Source addresses the zone may use; undefined: any (exclusive-IP without allowed-address). */
  allowed: string[] | undefined;
  /** Default routers set in the zone. */
  defrouters: string[];
  /** Addresses (CIDR) the global zone holds on the bridge to reach the zone. */
  globalAddresses: string[];
  /** nft chain suffix of this port. */
  tag: string;
}

export interface ZoneNet {
  zone: string;
  ipType: IpType;
  links: ZoneLink[];
}

/** Bridges zoneadmd creates on first use are named so; any other physical must exist. */
export const ZONE_BRIDGE = /^zbr/;

export function hash(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex");
}

/** The nft table of a root: identifiers allow no '-'. */
export function nftTable(hostPrefix: string): string {
  return hostPrefix.replace(/-/g, "_");
}

/** The host name of the zone bridge `physical` (zbr*) of a root. */
export function bridgeName(hostPrefix: string, physical: string): string {
  return hostPrefix === "zones" ? physical : `zb${hash(hostPrefix, physical).slice(0, 8)}`;
}

/** "10.1.0.2/24" -> "10.1.0.2" */
export function addressOf(cidr: string): string {
  return cidr.split("/")[0]!;
}

function prefixOf(cidr: string): number {
  const p = cidr.split("/")[1];
  return p === undefined ? (isIP(addressOf(cidr)) === 6 ? 128 : 32) : Number(p);
}

/** An address as a bigint, with its width, for subnet arithmetic. */
function toBig(addr: string): { v: bigint; bits: number } | undefined {
  if (isIP(addr) === 4) return { v: addr.split(".").reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n), bits: 32 };
  if (isIP(addr) !== 6) return undefined;
  let s = addr;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = toBig(v4[1]!)!.v;
    s = s.slice(0, -v4[1]!.length) + `${(b >> 16n).toString(16)}:${(b & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return { v: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || "0", 16)), 0n), bits: 128 };
}

/** Is `addr` within the subnet of `cidr`? */
export function inSubnet(addr: string, cidr: string): boolean {
  const a = toBig(addr);
  const n = toBig(addressOf(cidr));
  if (!a || !n || a.bits !== n.bits) return false;
  const shift = BigInt(a.bits - prefixOf(cidr));
  return a.v >> shift === n.v >> shift;
}

/** One spelling per address, remembered: the in-use check compares with every zone's. */
const canonicalCache = new Map<string, string>();

/** `addr` (an address or a CIDR: the prefix length is ignored) in one spelling. */
function canonical(addr: string): string {
  let c = canonicalCache.get(addr);
  if (c === undefined) {
    const b = toBig(addressOf(addr));
    c = b ? `${b.bits}/${b.v}` : `?${addr}`;
    if (canonicalCache.size > 100_000) canonicalCache.clear();
    canonicalCache.set(addr, c);
  }
  return c;
}

/** Same address, whatever its spelling (fd00::1 and fd00:0::1). */
function sameAddress(a: string, b: string): boolean {
  return canonical(a) === canonical(b) && !canonical(a).startsWith("?");
}

/** Locally administered unicast MAC derived from `seed`. */
export function macOf(seed: string): string {
  const h = hash("mac", seed);
  const bytes = [0x02, ...[0, 1, 2, 3, 4].map((i) => parseInt(h.slice(i * 2, i * 2 + 2), 16))];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The EUI-64 link-local address the kernel gives an interface with MAC `mac`. */
export function linkLocalOf(mac: string): string {
  const b = mac.split(":").map((h) => parseInt(h, 16));
  b[0] = b[0]! ^ 0x02;
  const w = (x: number, y: number): string => ((x << 8) | y).toString(16);
  return `fe80::${w(b[0], b[1]!)}:${w(b[2]!, 0xff)}:${w(0xfe, b[3]!)}:${w(b[4]!, b[5]!)}`;
}

/**
 * What the zone's net resources ask for: one link per distinct physical, in order of
 * first mention (net0, net1, ...). Pure: the host is only consulted for what a
 * physical is (bridge or not).
 */
export function planNetwork(hostPrefix: string, z: ZoneConfig): ZoneNet {
  const zh = hash(hostPrefix, z.zonename).slice(0, 8);
  const links: ZoneLink[] = [];
  for (const n of z.net) {
    let l = links.find((x) => x.physical === n.physical);
    if (!l) {
      const i = links.length;
      const zoneBridge = ZONE_BRIDGE.test(n.physical);
      const moved = !zoneBridge && z.ipType === "exclusive" && !isBridge(n.physical);
      const bridge = zoneBridge ? bridgeName(hostPrefix, n.physical) : moved ? "" : n.physical;
      l = {
        physical: n.physical,
        kind: moved ? "moved" : "veth",
        bridge,
        ownBridge: zoneBridge,
        hostIf: moved ? "" : `zv${zh}${i}`,
        zoneIf: moved ? n.physical : `net${i}`,
        mac: moved ? "" : macOf(`${hostPrefix}/${z.zonename}/${i}`),
        plumb: [],
        allowed: z.ipType === "shared" ? [] : undefined,
        defrouters: [],
        globalAddresses: [],
        tag: `${zh}${i}`,
      };
      links.push(l);
    }
    const addr = z.ipType === "shared" ? n.address : n.allowedAddress;
    if (addr !== "") {
      l.plumb.push(addr);
      l.allowed = [...(l.allowed ?? []), addr];
    }
    if (n.defrouter !== "" && !l.defrouters.some((d) => isIP(d) === isIP(n.defrouter))) {
      l.defrouters.push(n.defrouter);
      // The global zone answers as the zone's default router on a zone bridge, so that
      // global <-> zone traffic works; it forwards nothing (ip_forward stays as it is).
      const on = l.plumb.find((a) => inSubnet(n.defrouter, a));
      if (on && l.ownBridge) l.globalAddresses.push(`${n.defrouter}/${prefixOf(on)}`);
    }
  }
  return { zone: z.zonename, ipType: z.ipType, links };
}

/** An address of the global zone and the link (ifindex) that holds it. */
export interface HostAddress {
  address: string;
  ifindex: number;
}

/** Which of `addresses` the global zone holds, from getifaddrs (for commands; zoneadmd asks the FIB). */
function hostAddresses(addresses: readonly string[]): HostAddress[] {
  return Object.entries(os.networkInterfaces()).flatMap(([name, l]) => {
    const index = linkExists(name) ? ifindex(name) : -1;
    return (l ?? []).map((a) => ({ address: a.address.replace(/%.*$/, ""), ifindex: index })).filter((h) => addresses.some((x) => sameAddress(x, h.address)));
  });
}

/**
 * What stops the zone's network from being plumbed, as one-line messages naming the
 * thing and the value: a physical that does not exist or is taken, an address already
 * in use. `others` are the other zones' records (the running zones of this root);
 * `host` says which of some addresses the global zone holds, and on which link.
 */
export function networkProblems(
  hostPrefix: string,
  z: ZoneConfig,
  others: readonly ZoneNet[],
  inUse = true,
  host: (addresses: readonly string[]) => HostAddress[] = hostAddresses,
  hostNets: () => readonly HostNetwork[] = hostNetworks,
): string[] {
  const problems: string[] = [];
  const plan = planNetwork(hostPrefix, z);
  const mine = others.filter((o) => o.zone !== z.zonename);
  let networks: readonly HostNetwork[] | undefined;
  for (const l of plan.links) {
    const first = problems.length;
    const holder = mine.find((o) => o.links.some((x) => x.kind === "moved" && x.physical === l.physical));
    if (holder) {
      if (inUse) problems.push(`net physical ${l.physical} belongs to running exclusive-IP zone '${holder.zone}'`);
      continue;
    }
    if (!ZONE_BRIDGE.test(l.physical)) {
      if (!linkExists(l.physical)) problems.push(`net physical ${l.physical} does not exist on this host (zone bridges, made on first use, are named zbr*)`);
      else if (z.ipType === "shared" && !isBridge(l.physical))
        problems.push(`net physical ${l.physical} is not a bridge; a shared-IP zone needs a bridge (zbr* or an existing host bridge)`);
    }
    for (const d of l.defrouters) {
      if (l.allowed === undefined) problems.push(`net defrouter ${d}: an exclusive-IP zone needs allowed-address for the global zone to set its default route`);
      else if (!l.plumb.some((a) => inSubnet(d, a))) problems.push(`net defrouter ${d} is not on the subnet of any address on physical ${l.physical}`);
      else if (l.plumb.some((a) => sameAddress(addressOf(a), d))) problems.push(`net defrouter ${d} is the zone's own address`);
    }
    if (!inUse) continue;
    const held = host([...l.plumb, ...l.globalAddresses].map(addressOf));
    // A host bridge may carry zones of other roots too; a root's own zone bridges never do.
    const foreign = l.kind === "veth" && !l.ownBridge ? foreignPorts(hostPrefix, l.bridge) : [];
    for (const a of l.plumb) {
      const wanted = canonical(a);
      const same = (b: string): boolean => canonical(b) === wanted;
      const other = mine.find((o) => o.links.some((x) => (x.allowed ?? []).some(same)));
      const stranger = foreign.find((f) => f.addresses.some(same));
      const what = z.ipType === "shared" ? "address" : "allowed-address";
      if (other) problems.push(`net ${what} ${a} is in use by running zone '${other.zone}'`);
      else if (stranger) problems.push(`net ${what} ${a} is in use on bridge ${l.bridge} by zone '${stranger.zone}'`);
      else if (held.some((h) => sameAddress(h.address, addressOf(a)))) problems.push(`net ${what} ${a} is in use by the global zone`);
    }
    // The global zone takes the default router's address on a zone bridge: on another
    // link already (another root's bridge, a host interface), it would be there twice.
    const bridgeIndex = linkExists(l.bridge) ? ifindex(l.bridge) : -1;
    for (const g of l.globalAddresses) {
      const elsewhere = held.find((h) => sameAddress(h.address, addressOf(g)) && h.ifindex !== bridgeIndex);
      if (elsewhere) problems.push(`net defrouter ${addressOf(g)} is already an address of the global zone on ${linkName(elsewhere.ifindex)}`);
    }
    // Last, and only for a link with no other problem: the most basic reason is enough.
    if (problems.length === first) problems.push(...subnetProblems(z, l, () => (networks ??= hostNets())));
  }
  return problems;
}

/**
 * A zone's addresses and routers must not lie in a network that the global zone is on
 * through another interface (hostnets.ts): the host would have that network twice, and
 * a zone bridge could take the address of a host's router. The zone's own link is the
 * exception: a host bridge on the host's LAN (the global zone on it too) is how zones
 * join that LAN, and a zone bridge carries its zones' router address.
 */
function subnetProblems(z: ZoneConfig, l: ZoneLink, networks: () => readonly HostNetwork[]): string[] {
  if (l.plumb.length === 0 && l.defrouters.length === 0) return [];
  const own = l.kind === "moved" ? l.physical : l.bridge;
  const foreign = networks().filter((n) => n.ifname !== own);
  const what = z.ipType === "shared" ? "address" : "allowed-address";
  const problems: string[] = [];
  for (const a of l.plumb) {
    const n = foreign.find((h) => inSubnet(addressOf(a), h.network) || inSubnet(addressOf(h.network), a));
    if (n) problems.push(`net ${what} ${a} ${inSubnet(addressOf(a), n.network) ? "is inside" : "overlaps"} network ${n.network} of host interface ${n.ifname}; the global zone is on that network there, not on physical ${l.physical}: choose another subnet`);
  }
  for (const d of l.defrouters) {
    const n = foreign.find((h) => inSubnet(d, h.network));
    if (n) problems.push(`net defrouter ${d} is a host on network ${n.network} of host interface ${n.ifname}, not a router on physical ${l.physical}`);
  }
  return problems;
}
