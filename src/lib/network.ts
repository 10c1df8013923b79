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
 * trusting the zone: one nftables bridge-family table per root holds, per port, a chain
 * for frames from the zone (source MAC, ARP sender, IP source must be the zone's) and
 * one for frames to it (unicast only when addressed to the zone's MAC, so a zone in
 * promiscuous mode never sees another zone's unicast even when the bridge floods).
 *
 * Teardown never deletes veths one by one: the zone's network namespace goes when its
 * last process does, and the kernel releases its veths in a batch. What remains is the
 * zone's nft chains (one nft run) and, for the last zone on a bridge, the bridge.
 *
 * What a zone has plumbed is recorded in <runDir>/net/<zone>.json before anything is
 * made, so a restarted zoneadmd (sweep) removes what a crash left half-made.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { isIP } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileAtomic } from "./atomic.js";
import { ZoneError } from "./errors.js";
import type { IpType, ZoneConfig } from "./model.js";
import type { ZonePaths } from "./paths.js";

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
  return fs.existsSync(path.join(SYS_NET, name));
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

/** Same address, whatever its spelling (fd00::1 and fd00:0::1). */
function sameAddress(a: string, b: string): boolean {
  const x = toBig(a);
  const y = toBig(b);
  return !!x && !!y && x.bits === y.bits && x.v === y.v;
}

/** Locally administered unicast MAC derived from `seed`. */
function macOf(seed: string): string {
  const h = hash("mac", seed);
  const bytes = [0x02, ...[0, 1, 2, 3, 4].map((i) => parseInt(h.slice(i * 2, i * 2 + 2), 16))];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
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

/** The per-root directory of zones' network records. */
function netDir(paths: ZonePaths): string {
  return path.join(paths.runDir, "net");
}

function netFile(paths: ZonePaths, zone: string): string {
  return path.join(netDir(paths), `${zone}.json`);
}

/** Every zone of the root that has (or had, before a crash) network plumbed. */
export function readNets(paths: ZonePaths): ZoneNet[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(netDir(paths)).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  const out: ZoneNet[] = [];
  for (const f of names) {
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(netDir(paths), f), "utf8")) as ZoneNet);
    } catch {
      // half-written by a crash: the sweep removes it
    }
  }
  return out;
}

export function readNet(paths: ZonePaths, zone: string): ZoneNet | undefined {
  try {
    return JSON.parse(fs.readFileSync(netFile(paths, zone), "utf8")) as ZoneNet;
  } catch {
    return undefined;
  }
}

/** Addresses held by the global zone's interfaces. */
function hostAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address.replace(/%.*$/, "")));
}

/**
 * What stops the zone's network from being plumbed, as one-line messages naming the
 * thing and the value: a physical that does not exist or is taken, an address already
 * in use. `others` are the other zones' records (the running zones of this root).
 */
export function networkProblems(hostPrefix: string, z: ZoneConfig, others: readonly ZoneNet[], inUse = true): string[] {
  const problems: string[] = [];
  const plan = planNetwork(hostPrefix, z);
  const mine = others.filter((o) => o.zone !== z.zonename);
  for (const l of plan.links) {
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
    const host = hostAddresses();
    for (const a of l.plumb) {
      const other = mine.find((o) => o.links.some((x) => (x.allowed ?? []).some((b) => sameAddress(addressOf(a), addressOf(b)))));
      const what = z.ipType === "shared" ? "address" : "allowed-address";
      if (other) problems.push(`net ${what} ${a} is in use by running zone '${other.zone}'`);
      else if (host.some((h) => sameAddress(h, addressOf(a)))) problems.push(`net ${what} ${a} is in use by the global zone`);
    }
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
      else reject(new ZoneError(`${cmd} failed: ${err.trim().split("\n").slice(-1)[0] ?? `exit ${code}`}`));
    });
    p.stdin.end(input);
  });
}

/** The table, its two maps and hooks: idempotent, so every setup may start with it. */
function nftBase(t: string): string[] {
  return [
    `add table bridge ${t}`,
    `add map bridge ${t} from_zone { type ifname : verdict ; }`,
    `add map bridge ${t} to_zone { type ifname : verdict ; }`,
    // Ahead of anything else that filters bridged frames.
    `add chain bridge ${t} pre { type filter hook prerouting priority -300 ; policy accept ; }`,
    `add chain bridge ${t} post { type filter hook postrouting priority -300 ; policy accept ; }`,
    `flush chain bridge ${t} pre`,
    `flush chain bridge ${t} post`,
    `add rule bridge ${t} pre iifname vmap @from_zone`,
    `add rule bridge ${t} post oifname vmap @to_zone`,
  ];
}

/** The two chains of one zone port and their map entries. */
function nftPort(t: string, ipType: IpType, l: ZoneLink): string[] {
  const i = `i_${l.tag}`;
  const o = `o_${l.tag}`;
  const r = (c: string, rule: string): string => `add rule bridge ${t} ${c} ${rule}`;
  const lines = [`add chain bridge ${t} ${i}`, `flush chain bridge ${t} ${i}`, `add chain bridge ${t} ${o}`, `flush chain bridge ${t} ${o}`];
  // From the zone: its own MAC only, so it cannot pose as another zone at layer 2.
  lines.push(r(i, `ether saddr != ${l.mac} drop`), r(i, `ether type arp arp saddr ether != ${l.mac} drop`));
  if (l.allowed !== undefined) {
    const v4 = l.allowed.filter((a) => isIP(addressOf(a)) === 4).map(addressOf);
    const v6 = l.allowed.filter((a) => isIP(addressOf(a)) === 6).map(addressOf);
    if (v4.length > 0) {
      // 0.0.0.0: ARP probes (duplicate address detection) of an exclusive-IP zone.
      lines.push(r(i, `ether type arp arp saddr ip != { ${[...v4, "0.0.0.0"].join(", ")} } drop`));
      lines.push(r(i, `ether type ip ip saddr != { ${v4.join(", ")} } drop`));
    } else lines.push(r(i, "ether type { ip, arp } drop"));
    // Link-local and the unspecified address: neighbour discovery needs them.
    lines.push(r(i, `ether type ip6 ip6 saddr != { ${["::", "fe80::/10", ...v6].join(", ")} } drop`));
    lines.push(r(i, "ether type != { ip, ip6, arp } drop"));
  }
  // To the zone: unicast only when it is addressed to the zone.
  lines.push(r(o, `ether daddr & 01:00:00:00:00:00 == 00:00:00:00:00:00 ether daddr != ${l.mac} drop`));
  // A shared-IP zone's addresses and routes are the global zone's to set: no router
  // advertisement from another zone may add any.
  if (ipType === "shared") lines.push(r(o, "icmpv6 type nd-router-advert drop"));
  lines.push(`add element bridge ${t} from_zone { "${l.hostIf}" : jump ${i} }`, `add element bridge ${t} to_zone { "${l.hostIf}" : jump ${o} }`);
  return lines;
}

/** Removal of one port's chains; idempotent (each object is added before it is deleted). */
function nftPortRemoval(t: string, l: ZoneLink): string[] {
  const i = `i_${l.tag}`;
  const o = `o_${l.tag}`;
  return [
    `add chain bridge ${t} ${i}`,
    `add chain bridge ${t} ${o}`,
    `add element bridge ${t} from_zone { "${l.hostIf}" : jump ${i} }`,
    `add element bridge ${t} to_zone { "${l.hostIf}" : jump ${o} }`,
    `delete element bridge ${t} from_zone { "${l.hostIf}" }`,
    `delete element bridge ${t} to_zone { "${l.hostIf}" }`,
    `flush chain bridge ${t} ${i}`,
    `flush chain bridge ${t} ${o}`,
    `delete chain bridge ${t} ${i}`,
    `delete chain bridge ${t} ${o}`,
  ];
}

function bridgeMac(hostPrefix: string, bridge: string): string {
  return macOf(`bridge/${hostPrefix}/${bridge}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class Network {
  /** One network change at a time per root: bridges are shared between zones. */
  private lock: Promise<unknown> = Promise.resolve();

  constructor(readonly paths: ZonePaths, private readonly log: (line: string) => void = () => {}) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }

  private get prefix(): string {
    return this.paths.hostPrefix;
  }

  /** Refuse, before anything is made, a zone whose network cannot be plumbed. */
  check(z: ZoneConfig): void {
    const problems = networkProblems(this.prefix, z, readNets(this.paths));
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
      const problems = networkProblems(this.prefix, z, readNets(this.paths));
      if (problems.length > 0) throw new ZoneError(problems[0]!);
      fs.mkdirSync(netDir(this.paths), { recursive: true, mode: 0o700 });
      // Recorded first: whatever follows, teardown and the sweep know what to remove.
      writeFileAtomic(netFile(this.paths, z.zonename), JSON.stringify(net), 0o644, false);
      const t = nftTable(this.prefix);
      const veths = net.links.filter((l) => l.kind === "veth");
      // Filters exist before the ports do (they match by name): no unfiltered moment.
      if (veths.length > 0) await run("nft", ["-f", "-"], [...nftBase(t), ...veths.flatMap((l) => nftPort(t, z.ipType, l))].join("\n") + "\n");
      const host: string[] = [];
      const made = new Set<string>();
      for (const l of net.links) {
        if (l.kind === "moved") {
          host.push(`link set dev ${l.physical} netns ${pid}`);
          continue;
        }
        if (l.ownBridge && !made.has(l.bridge) && !linkExists(l.bridge)) {
          made.add(l.bridge);
          // A fixed MAC: a bridge otherwise takes its ports' lowest, changing under the zones' ARP caches.
          host.push(`link add name ${l.bridge} address ${bridgeMac(this.prefix, l.bridge)} type bridge`);
          host.push(`link set dev ${l.bridge} alias "${aliasPrefix(this.prefix)}bridge:${l.physical}"`);
          host.push(`link set dev ${l.bridge} up`);
        }
        for (const g of l.globalAddresses) host.push(`addr replace ${g} dev ${l.bridge}`);
        // A veth of an earlier boot of this zone whose namespace the kernel has not
        // released yet (a quick reboot) would hold the name.
        for (let n = 0; linkExists(l.hostIf) && n < 50; n++) await sleep(20);
        if (linkExists(l.hostIf)) host.push(`link del dev ${l.hostIf}`);
        host.push(`link add name ${l.hostIf} type veth peer name ${l.zoneIf} address ${l.mac} netns ${pid}`);
        host.push(`link set dev ${l.hostIf} alias "${aliasPrefix(this.prefix)}zone:${z.zonename}"`);
        // A bridge port needs no address of its own.
        host.push(`link set dev ${l.hostIf} addrgenmode none`);
        host.push(`link set dev ${l.hostIf} master ${l.bridge} up`);
      }
      await run("ip", ["-batch", "-"], host.join("\n") + "\n");
      const inside: string[] = [];
      for (const l of net.links) {
        for (const a of l.plumb) inside.push(`addr add ${a} dev ${l.zoneIf}${isIP(addressOf(a)) === 6 ? " nodad" : ""}`);
        if (l.plumb.length > 0) inside.push(`link set dev ${l.zoneIf} up`);
        for (const d of l.defrouters) inside.push(`route add default via ${d} dev ${l.zoneIf}`);
      }
      // The global zone's root configures the zone's namespace: only its net namespace is entered.
      if (inside.length > 0) await run("nsenter", [`--net=/proc/${pid}/ns/net`, "ip", "-batch", "-"], inside.join("\n") + "\n");
      return net;
    });
  }

  /** Remove what the zone had on the host, once its namespace is gone or going. Safe to repeat. */
  teardown(zone: string): Promise<void> {
    return this.serial(() => this.teardownLocked(zone));
  }

  private async teardownLocked(zone: string): Promise<void> {
    const net = readNet(this.paths, zone);
    const file = netFile(this.paths, zone);
    if (!net) {
      fs.rmSync(file, { force: true });
      return;
    }
    const others = readNets(this.paths).filter((o) => o.zone !== zone);
    const t = nftTable(this.prefix);
    const veths = net.links.filter((l) => l.kind === "veth");
    if (veths.length > 0) {
      // The last zone of the root takes the whole table with it.
      const script = others.length === 0 ? [`add table bridge ${t}`, `delete table bridge ${t}`] : [...nftBase(t), ...veths.flatMap((l) => nftPortRemoval(t, l))];
      await run("nft", ["-f", "-"], script.join("\n") + "\n").catch((e: Error) => this.log(`zone '${zone}': network teardown: ${e.message}`));
    }
    const unused = [...new Set(net.links.filter((l) => l.ownBridge).map((l) => l.bridge))].filter(
      (b) => !others.some((o) => o.links.some((l) => l.bridge === b)) && ifalias(b).startsWith(aliasPrefix(this.prefix)),
    );
    if (unused.length > 0)
      await run("ip", ["-force", "-batch", "-"], unused.map((b) => `link del dev ${b}`).join("\n") + "\n").catch((e: Error) => this.log(`zone '${zone}': network teardown: ${e.message}`));
    fs.rmSync(file, { force: true });
  }

  /**
   * At zoneadmd start: remove the network of every zone not `live` (a crash mid-boot or
   * mid-halt), then any bridge or table of this root no zone uses.
   */
  sweep(live: (zone: string) => boolean): Promise<void> {
    return this.serial(async () => {
      for (const n of readNets(this.paths)) if (!live(n.zone)) await this.teardownLocked(n.zone);
      try {
        for (const f of fs.readdirSync(netDir(this.paths))) if (!f.endsWith(".json")) fs.rmSync(path.join(netDir(this.paths), f), { force: true });
      } catch {
        // no directory: nothing recorded
      }
      const nets = readNets(this.paths);
      const lines: string[] = [];
      for (const name of hostLinksOf(this.prefix)) {
        // A veth whose zone is gone goes with its namespace; one still here was left by a crash.
        if (!nets.some((n) => n.links.some((l) => l.bridge === name || l.hostIf === name))) lines.push(`link del dev ${name}`);
      }
      if (lines.length > 0) await run("ip", ["-force", "-batch", "-"], lines.join("\n") + "\n").catch((e: Error) => this.log(`network sweep: ${e.message}`));
      if (nets.length === 0) {
        const t = nftTable(this.prefix);
        await run("nft", ["-f", "-"], `add table bridge ${t}\ndelete table bridge ${t}\n`).catch((e: Error) => this.log(`network sweep: ${e.message}`));
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
  fs.rmSync(netDir(paths), { recursive: true, force: true });
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
    live = JSON.parse(r.stdout) as IpAddrJson[];
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

