/**
 * Zone networking on the host (illumos zoneadmd's vplat network part).
 *
 * Every zone has its own network namespace (made by the runtime, lo up). For each
 * distinct `physical` of its net resources the zone gets one interface, net0, net1, ...:
 *
 *  - `physical` named zbr* is a zone bridge: zoneadmd creates it on first use and
 *    deletes it when the last zone using it halts. Under the standard root the host
 *    bridge is called what the administrator wrote (zbr0); under a ZONES_ROOT it is
 *    zb<hash> so that two roots never share one. The zone's interface is a veth whose
 *    host side (zv<hash><n>) is a port of the bridge.
 *  - any other `physical` must be an existing host link: a bridge (the zone gets a veth
 *    on it, as above), or, for an exclusive-IP zone only, a link that is moved into the
 *    zone whole.
 *
 * shared-IP: the global zone plumbs the addresses and default route inside the zone;
 * the zone has no net_admin or net_raw. exclusive-IP: the zone administers its link;
 * with allowed-address the global zone plumbs those addresses at boot (illumos does the
 * same) and the zone may use no others.
 *
 * Anti-spoofing and isolation are enforced on the host side of each veth, never by
 * trusting the zone: one nftables bridge-family table per root holds fixed rules over
 * sets keyed by port name (see nftBase) for frames from a zone (source MAC, ARP sender,
 * IP source must be the zone's) and to it (unicast only when addressed to the zone's
 * MAC, so a zone in promiscuous mode never sees another zone's unicast even when the
 * bridge floods).
 *
 * Setup is a handful of netlink requests (netlink.ts): set elements for the filters,
 * the veth pair made with its zone side already in the zone's namespace, addresses and
 * routes through a socket opened in that namespace. Only the first zone of a root runs
 * `nft`, to make the table.
 *
 * Teardown never deletes veths one by one: the zone's network namespace goes when its
 * last process does, and the kernel releases its veths in a batch. What remains is the
 * zone's set elements (one netlink request) and, for the last zone on a bridge, the
 * bridge.
 *
 * What a zone has plumbed is recorded (netrecords.ts) before anything is made, so a
 * restarted zoneadmd (sweep) removes what a crash left half-made.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { isIP } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileAtomic } from "../../native/atomic.js";
import { ZoneError } from "../../native/errors.js";
import type { IpType, ZoneConfig } from "../../document/model.js";
import {
  defaultRoute,
  delLink,
  fibMatch,
  delTable,
  getLink,
  ifindexOf,
  ifnameOf,
  key,
  linkUp,
  localLinkOf,
  type Answer,
  type Message,
  moveLink,
  NETLINK_NETFILTER,
  NETLINK_ROUTE,
  NetlinkError,
  NetlinkSocket,
  newAddr,
  newBridge,
  newVeth,
  NFNL_SUBSYS_NFTABLES,
  setElements,
  setLink,
} from "./netlink.js";
import { journalFile, NetRecords } from "./netrecords.js";
import { hostNetworks, type HostNetwork } from "./hostnets.js";
import type { ZonePaths } from "../../document/store/paths.js";

const { ENOENT, ENODEV } = os.constants.errno;

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

const SYS_NET = "/sys/class/net";

function hash(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex");
}

/** The nft table of a root: identifiers allow no '-'. */
export function nftTable(hostPrefix: string): string {
  return hostPrefix.replace(/-/g, "_");
}

/** Marker in the ifalias of every host link a root made: how sweeps find their own. */
export function aliasPrefix(hostPrefix: string): string {
  return `${hostPrefix}:`;
}

/** The host name of the zone bridge `physical` (zbr*) of a root. */
export function bridgeName(hostPrefix: string, physical: string): string {
  return hostPrefix === "zones" ? physical : `zb${hash(hostPrefix, physical).slice(0, 8)}`;
}

function linkExists(name: string): boolean {
  return name !== "" && fs.existsSync(path.join(SYS_NET, name));
}

/** The ifindex of a host link, from sysfs. */
function ifindex(name: string): number {
  return Number(fs.readFileSync(path.join(SYS_NET, name, "ifindex"), "utf8"));
}

/** The name of host link `index`, for messages. */
function linkName(index: number): string {
  try {
    return fs.readdirSync(SYS_NET).find((n) => ifindex(n) === index) ?? `link ${index}`;
  } catch {
    return `link ${index}`;
  }
}

function isBridge(name: string): boolean {
  return fs.existsSync(path.join(SYS_NET, name, "bridge"));
}

function ifalias(name: string): string {
  try {
    return fs.readFileSync(path.join(SYS_NET, name, "ifalias"), "utf8").trim();
  } catch {
    return "";
  }
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
function macOf(seed: string): string {
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

/** Run a program with `input` on stdin; reject with its first stderr line on failure. */
function run(cmd: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => {
      if (code === 0) resolve();
      else {
        // nft follows its error line with the input and a caret line: keep the error.
        const lines = err.trim().split("\n");
        reject(new ZoneError(`${cmd} failed: ${lines.find((l) => /error/i.test(l)) ?? lines[0] ?? `exit ${code}`}`));
      }
    });
    p.stdin.end(input);
  });
}

/**
 * The root's table: the filters are fixed rules over sets keyed by port name, so that
 * a zone's ports are filtered by adding set elements (one netlink request, no nft
 * spawn) and the rules stay the same whatever the number of zones. Idempotent: the
 * chains are flushed and filled in the same transaction, the sets keep their elements.
 *
 *   ports  every zone port of the root       macs  port . the zone's MAC
 *   strict ports whose sources are checked   v4, v6  port . an address it may use
 *   shared ports of shared-IP zones            nd6   port . an address its neighbour
 *                                                     advertisements may claim
 */
function nftBase(t: string): string[] {
  const r = (c: string, rule: string): string => `add rule bridge ${t} ${c} ${rule}`;
  return [
    `add table bridge ${t}`,
    `add set bridge ${t} ports { type ifname ; }`,
    `add set bridge ${t} strict { type ifname ; }`,
    `add set bridge ${t} shared { type ifname ; }`,
    `add set bridge ${t} macs { type ifname . ether_addr ; }`,
    `add set bridge ${t} v4 { type ifname . ipv4_addr ; }`,
    `add set bridge ${t} v6 { type ifname . ipv6_addr ; }`,
    // nft 1.0 has no name for the target of a neighbour advertisement: bytes 8-23 of ICMPv6.
    `add set bridge ${t} nd6 { typeof iifname . @th,64,128 ; }`,
    // Ahead of anything else that filters bridged frames.
    `add chain bridge ${t} pre { type filter hook prerouting priority -300 ; policy accept ; }`,
    `add chain bridge ${t} post { type filter hook postrouting priority -300 ; policy accept ; }`,
    `add chain bridge ${t} from_zone`,
    `add chain bridge ${t} to_zone`,
    ...["pre", "post", "from_zone", "to_zone"].map((c) => `flush chain bridge ${t} ${c}`),
    r("pre", "iifname @ports jump from_zone"),
    r("post", "oifname @ports jump to_zone"),
    // From a zone: its own MAC only, so it cannot pose as another zone at layer 2.
    r("from_zone", "iifname . ether saddr != @macs drop"),
    r("from_zone", "ether type arp iifname . arp saddr ether != @macs drop"),
    // Exclusive-IP without allowed-address: the zone may use any address.
    r("from_zone", "iifname != @strict accept"),
    // ARP probes (duplicate address detection) carry no sender address.
    r("from_zone", "ether type arp arp saddr ip 0.0.0.0 accept"),
    r("from_zone", "ether type arp iifname . arp saddr ip != @v4 drop"),
    // The IPv6 twin of the ARP sender check: an advertisement (sent from a link-local
    // source) may only claim the zone's own addresses.
    r("from_zone", "ether type ip6 icmpv6 type nd-neighbor-advert iifname . @th,64,128 != @nd6 drop"),
    r("from_zone", "ether type ip iifname . ip saddr != @v4 drop"),
    // Link-local and the unspecified address: neighbour discovery needs them.
    r("from_zone", "ether type ip6 ip6 saddr { ::, fe80::/10 } accept"),
    r("from_zone", "ether type ip6 iifname . ip6 saddr != @v6 drop"),
    r("from_zone", "ether type != { ip, ip6, arp } drop"),
    // To a zone: unicast only when addressed to the zone, so a zone in promiscuous
    // mode never sees another zone's unicast, even when the bridge floods.
    r("to_zone", "ether daddr & 01:00:00:00:00:00 == 00:00:00:00:00:00 oifname . ether daddr != @macs drop"),
    // A shared-IP zone's addresses and routes are the global zone's to set: no router
    // advertisement from another zone may add any.
    r("to_zone", "oifname @shared icmpv6 type nd-router-advert drop"),
  ];
}

/** The set elements that filter one zone port, as netlink messages (`add` or `delete`). */
function portElements(op: "add" | "delete", t: string, ipType: IpType, l: ZoneLink): Message[] {
  const port = key.ifname(l.hostIf);
  const sets: [string, Buffer[]][] = [["macs", [Buffer.concat([port, key.mac(l.mac)])]]];
  if (l.allowed !== undefined) {
    sets.push(["strict", [port]]);
    const family = (v: 4 | 6): Buffer[] => l.allowed!.filter((a) => isIP(addressOf(a)) === v).map((a) => Buffer.concat([port, key.ip(addressOf(a))]));
    sets.push(["v4", family(4)], ["v6", family(6)]);
    sets.push(["nd6", [...family(6), Buffer.concat([port, key.ip(linkLocalOf(l.mac))])]]);
  }
  if (ipType === "shared") sets.push(["shared", [port]]);
  sets.push(["ports", [port]]);
  // Sent as one transaction: a port's entries appear, and go, all at once.
  return sets.filter(([, keys]) => keys.length > 0).map(([set, keys]) => setElements(op, t, set, keys));
}

function bridgeMac(hostPrefix: string, bridge: string): string {
  return macOf(`bridge/${hostPrefix}/${bridge}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}


/**
 * The ifalias of a zone's veth host side: the root, the zone and the addresses it may
 * use. It lives as long as the port, so a root finds the addresses that zones of other
 * roots use on a host bridge they share (zone bridges are never shared between roots).
 */
function portAlias(hostPrefix: string, zone: string, l: ZoneLink): string {
  let alias = `${aliasPrefix(hostPrefix)}zone:${zone}:`;
  // IFALIASZ: 255 bytes; more addresses than fit are left out of the check.
  for (const a of (l.allowed ?? []).map(addressOf)) if (alias.length + a.length + 1 <= 255) alias += (alias.endsWith(":") ? "" : ",") + a;
  return alias;
}

/** Zones of other roots on the host bridge `bridge`, and the addresses each may use. */
function foreignPorts(hostPrefix: string, bridge: string): { zone: string; addresses: string[] }[] {
  let ports: string[] = [];
  try {
    ports = fs.readdirSync(path.join(SYS_NET, bridge, "brif"));
  } catch {
    return [];
  }
  const out: { zone: string; addresses: string[] }[] = [];
  for (const p of ports) {
    const m = /^([^:]+):zone:([^:]+):(.*)$/.exec(ifalias(p));
    if (m && m[1] !== hostPrefix) out.push({ zone: `${m[2]!}' of root '${m[1]!}`, addresses: m[3] ? m[3].split(",") : [] });
  }
  return out;
}

export class Network {
  /** One network change at a time per root: bridges are shared between zones. */
  private lock: Promise<unknown> = Promise.resolve();
  /** What each zone has plumbed (netrecords.ts). */
  private readonly records: NetRecords;
  private rtnl?: NetlinkSocket;
  private nfnl?: NetlinkSocket;

  constructor(readonly paths: ZonePaths, private readonly log: (line: string) => void = () => {}) {
    this.records = new NetRecords(paths);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }

  private get prefix(): string {
    return this.paths.hostPrefix;
  }

  private nets(): ZoneNet[] {
    return this.records.all();
  }

  /** Which of `addresses` the global zone holds, by one FIB lookup each. */
  private hostAddresses(addresses: readonly string[]): HostAddress[] {
    const out: HostAddress[] = [];
    for (const address of addresses) {
      let answers: Answer[] = [];
      try {
        answers = this.route().request([fibMatch(address)]);
      } catch {
        // no route at all: certainly not an address of the global zone
      }
      const ifindex = answers[0] ? localLinkOf(answers[0]) : undefined;
      if (ifindex !== undefined) out.push({ address, ifindex });
    }
    return out;
  }

  private problems(z: ZoneConfig): string[] {
    return networkProblems(this.prefix, z, this.nets(), true, (a) => this.hostAddresses(a));
  }

  private route(): NetlinkSocket {
    return (this.rtnl ??= NetlinkSocket.open(NETLINK_ROUTE));
  }

  /** Close the netlink sockets (a long-lived zoneadmd keeps them). */
  close(): void {
    this.rtnl?.close();
    this.nfnl?.close();
    this.rtnl = this.nfnl = undefined;
  }

  /** One nf_tables transaction. */
  private nft(msgs: Message[]): void {
    (this.nfnl ??= NetlinkSocket.open(NETLINK_NETFILTER)).request(msgs, { resId: NFNL_SUBSYS_NFTABLES });
  }

  /** Filter the zone's ports: set elements, and the root's table first if it is not there. */
  private async filter(ipType: IpType, links: readonly ZoneLink[]): Promise<void> {
    const t = nftTable(this.prefix);
    const msgs = links.flatMap((l) => portElements("add", t, ipType, l));
    try {
      this.nft(msgs);
    } catch (e) {
      if (!(e instanceof NetlinkError && e.errno === ENOENT)) throw e;
      // The first zone of the root: the only nft run.
      await run("nft", ["-f", "-"], nftBase(t).join("\n") + "\n");
      this.nft(msgs);
    }
  }

  /** Stop filtering the zone's ports; idempotent (each element is added before it is deleted). */
  private unfilter(ipType: IpType, links: readonly ZoneLink[]): void {
    const t = nftTable(this.prefix);
    try {
      this.nft([...links.flatMap((l) => portElements("add", t, ipType, l)), ...links.flatMap((l) => portElements("delete", t, ipType, l))]);
    } catch (e) {
      // No table: nothing to remove.
      if (!(e instanceof NetlinkError && e.errno === ENOENT)) throw e;
    }
  }

  /** Remove the root's table; gone already is fine. */
  private dropTable(): void {
    try {
      this.nft([delTable(nftTable(this.prefix))]);
    } catch (e) {
      if (!(e instanceof NetlinkError && e.errno === ENOENT)) throw e;
    }
  }

  /** Refuse, before anything is made, a zone whose network cannot be plumbed. */
  /** Has the zone anything to plumb (links, addresses)? Without, its init may start as soon as it is created. */
  plumbs(z: ZoneConfig): boolean {
    return planNetwork(this.prefix, z).links.length > 0;
  }

  check(z: ZoneConfig): void {
    const problems = this.problems(z);
    if (problems.length > 0) throw new ZoneError(problems[0]!);
  }

  /**
   * Plumb the zone whose init (created, not started) is `pid`. On failure the caller
   * tears down, which removes whatever was made.
   */
  setup(z: ZoneConfig, pid: number): Promise<ZoneNet> {
    return this.serial(async () => {
      const net = planNetwork(this.prefix, z);
      if (net.links.length === 0) return net;
      // Again under the lock: two zones readied at once must not both take an address.
      const problems = this.problems(z);
      if (problems.length > 0) throw new ZoneError(problems[0]!);
      // Recorded first: whatever follows, teardown and the sweep know what to remove.
      this.records.put(net);
      const veths = net.links.filter((l) => l.kind === "veth");
      // Filters exist before the ports do (they match by name): no unfiltered moment.
      if (veths.length > 0) await this.filter(z.ipType, veths);
      const rt = this.route();
      const bridges: Message[] = [];
      for (const b of new Set(veths.filter((l) => l.ownBridge && !linkExists(l.bridge)).map((l) => l.bridge))) {
        const physical = veths.find((l) => l.bridge === b)!.physical;
        // A fixed MAC: a bridge otherwise takes its ports' lowest, changing under the zones' ARP caches.
        bridges.push(newBridge(b, bridgeMac(this.prefix, b)), setLink(b, { alias: `${aliasPrefix(this.prefix)}bridge:${physical}` }), linkUp(b));
      }
      if (bridges.length > 0) rt.request(bridges);
      const host: Message[] = [];
      for (const l of net.links) {
        if (l.kind === "moved") {
          host.push(moveLink(l.physical, pid));
          continue;
        }
        // A veth of an earlier boot of this zone whose namespace the kernel has not
        // released yet (a quick reboot) would hold the name.
        for (let n = 0; linkExists(l.hostIf) && n < 50; n++) await sleep(20);
        if (linkExists(l.hostIf)) host.push(delLink(l.hostIf));
        const master = ifindex(l.bridge);
        host.push(newVeth(l.hostIf, l.zoneIf, l.mac, pid));
        // A bridge port needs no address of its own, and must have none before it is up.
        host.push(setLink(l.hostIf, { alias: portAlias(this.prefix, z.zonename, l), noAddrGen: true, master }), linkUp(l.hostIf));
        for (const g of l.globalAddresses) host.push(newAddr(master, g, true));
      }
      rt.request(host);
      const plumbed = net.links.filter((l) => l.plumb.length > 0);
      if (plumbed.length === 0) return net;
      // The global zone's root configures the zone's namespace; nothing else of the zone is entered.
      const inside = NetlinkSocket.inNetns(`/proc/${pid}/ns/net`, NETLINK_ROUTE);
      try {
        const index = new Map(inside.request(plumbed.map((l) => getLink(l.zoneIf))).map((a) => [ifnameOf(a), ifindexOf(a)]));
        const msgs: Message[] = [];
        for (const l of plumbed) {
          const i = index.get(l.zoneIf);
          if (i === undefined) throw new ZoneError(`zone '${z.zonename}': interface ${l.zoneIf} did not appear in the zone`);
          // A shared-IP zone has the addresses the global zone gives it and no others, as
          // in illumos: no link-local either (nor the DAD, MLD and router solicitation
          // traffic that each start would flood to every zone on the bridge).
          if (z.ipType === "shared") msgs.push(setLink(l.zoneIf, { noAddrGen: true }));
          for (const a of l.plumb) msgs.push(newAddr(i, a));
          msgs.push(linkUp(i));
          for (const d of l.defrouters) msgs.push(defaultRoute(i, d));
        }
        inside.request(msgs);
      } finally {
        inside.close();
      }
      return net;
    });
  }

  /** Remove what the zone had on the host, once its namespace is gone or going. Safe to repeat. */
  teardown(zone: string): Promise<void> {
    return this.serial(() => this.teardownLocked(zone));
  }

  private async teardownLocked(zone: string): Promise<void> {
    const net = this.nets().find((n) => n.zone === zone);
    if (!net) return;
    const others = this.nets().filter((o) => o.zone !== zone);
    const veths = net.links.filter((l) => l.kind === "veth");
    const warn = (e: unknown): void => this.log(`zone '${zone}': network teardown: ${e instanceof Error ? e.message : String(e)}`);
    try {
      // The last zone of the root takes the whole table with it.
      if (others.length === 0) this.dropTable();
      else if (veths.length > 0) this.unfilter(net.ipType, veths);
    } catch (e) {
      warn(e);
    }
    const unused = [...new Set(net.links.filter((l) => l.ownBridge).map((l) => l.bridge))].filter(
      (b) => !others.some((o) => o.links.some((l) => l.bridge === b)) && ifalias(b).startsWith(aliasPrefix(this.prefix)),
    );
    for (const b of unused) {
      try {
        this.route().request([delLink(b)]);
      } catch (e) {
        if (!(e instanceof NetlinkError && e.errno === ENODEV)) warn(e);
      }
    }
    this.records.remove(zone);
  }

  /**
   * At zoneadmd start: remove the network of every zone not `live` (a crash mid-boot or
   * mid-halt), then any bridge or table of this root no zone uses.
   */
  sweep(live: (zone: string) => boolean): Promise<void> {
    return this.serial(async () => {
      for (const n of this.nets()) if (!live(n.zone)) await this.teardownLocked(n.zone);
      const nets = this.nets();
      for (const name of hostLinksOf(this.prefix)) {
        // A veth whose zone is gone goes with its namespace; one still here was left by a crash.
        if (nets.some((n) => n.links.some((l) => l.bridge === name || l.hostIf === name))) continue;
        try {
          this.route().request([delLink(name)]);
        } catch (e) {
          if (!(e instanceof NetlinkError && e.errno === ENODEV)) this.log(`network sweep: ${(e as Error).message}`);
        }
      }
      if (nets.length === 0) {
        try {
          this.dropTable();
        } catch (e) {
          this.log(`network sweep: ${(e as Error).message}`);
        }
      }
    });
  }
}

/** Host links (bridges, veth host sides) a root made, found by their ifalias marker. */
export function hostLinksOf(hostPrefix: string): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(SYS_NET);
  } catch {
    return [];
  }
  return names.filter((n) => ifalias(n).startsWith(aliasPrefix(hostPrefix)));
}

/**
 * Remove every network object of a root at once, synchronously: for tests and for an
 * administrator cleaning up a root that is gone.
 */
export function purgeNetwork(paths: ZonePaths): void {
  const links = hostLinksOf(paths.hostPrefix);
  if (links.length > 0) spawnSync("ip", ["-force", "-batch", "-"], { input: links.map((l) => `link del dev ${l}`).join("\n") + "\n", stdio: ["pipe", "ignore", "ignore"] });
  const t = nftTable(paths.hostPrefix);
  spawnSync("nft", ["-f", "-"], { input: `add table bridge ${t}\ndelete table bridge ${t}\n`, stdio: ["pipe", "ignore", "ignore"] });
  fs.rmSync(journalFile(paths), { force: true });
}

/** One row of `zonenet`: an interface of a zone as the zone has it now. */
export interface InterfaceRow {
  zone: string;
  ipType: IpType;
  link: string;
  hostLink: string;
  over: string;
  state: string;
  addresses: string[];
}

interface IpAddrJson {
  ifname: string;
  operstate?: string;
  addr_info?: Array<{ local: string; prefixlen: number; scope?: string }>;
}

/** The zone's interfaces, read in its network namespace (`pid`: a process of the zone). */
export function zoneInterfaces(net: ZoneNet, pid: number): InterfaceRow[] {
  const r = spawnSync("nsenter", [`--net=/proc/${pid}/ns/net`, "ip", "-json", "addr", "show"], { encoding: "utf8" });
  let live: IpAddrJson[] = [];
  try {
    // ip -json writes a link's name raw, and an exclusive-IP zone's root may put
    // control characters in it (only whitespace is refused): JSON.parse would reject
    // the whole listing and hide the zone's links. Outside strings none can occur.
    live = JSON.parse(r.stdout.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)) as IpAddrJson[];
  } catch {
    live = [];
  }
  const rows: InterfaceRow[] = [];
  for (const i of live) {
    if (i.ifname === "lo") continue;
    const l = net.links.find((x) => x.zoneIf === i.ifname);
    rows.push({
      zone: net.zone,
      ipType: net.ipType,
      link: i.ifname,
      hostLink: l?.hostIf || "-",
      over: l ? l.physical + (l.bridge && l.bridge !== l.physical ? `(${l.bridge})` : "") : "-",
      state: (i.operstate ?? "unknown").toLowerCase(),
      addresses: (i.addr_info ?? []).filter((a) => a.scope !== "link").map((a) => `${a.local}/${a.prefixlen}`),
    });
  }
  return rows;
}

