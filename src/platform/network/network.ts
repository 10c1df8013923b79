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
 *
 * This file is the host-side plumbing, teardown and sweep (one change at a time per
 * root); plan.ts plans a zone's links and checks them, hostlinks.ts reads the host's
 * links from sysfs, filters.ts holds the nft table and a port's set elements, and
 * interfaces.ts reads a zone's interfaces for zonenet.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ZoneError } from "../../native/errors.js";
import type { IpType, ZoneConfig } from "../../document/model.js";
import { NETLINK_NETFILTER, NETLINK_ROUTE, NetlinkError, NetlinkSocket, type Answer, type Message } from "./netlink.js";
import { delTable, NFNL_SUBSYS_NFTABLES } from "./nftables.js";
import { defaultRoute, delLink, fibMatch, getLink, ifindexOf, ifnameOf, linkUp, localLinkOf, moveLink, newAddr, newBridge, newVeth, setLink } from "./rtnetlink.js";
import { journalFile, NetRecords } from "./netrecords.js";
import { nftBase, portElements, run } from "./filters.js";
import { aliasPrefix, hostLinksOf, ifalias, ifindex, linkExists } from "./hostlinks.js";
import { addressOf, macOf, networkProblems, nftTable, planNetwork, type HostAddress, type ZoneLink, type ZoneNet } from "./plan.js";
import type { ZonePaths } from "../../document/store/paths.js";
import { proxySettings } from "../archives.js";
import { SETTINGS_FILE } from "../reserve.js";

const { ENOENT, ENODEV } = os.constants.errno;

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
      await run("nft", ["-f", "-"], nftBase(t, this.routeNowhere()).join("\n") + "\n");
      this.nft(msgs);
    }
  }

  /** Do zone bridges route nowhere (zoneadmd.conf proxy-only, on unless turned off)? */
  private routeNowhere(): boolean {
    try {
      return proxySettings(path.join(this.paths.configDir, SETTINGS_FILE)).only;
    } catch (e) {
      this.log(`${(e as Error).message}; zone bridges route nowhere`);
      return true;
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
    // Each alone: a root's table made before the inet one existed has none.
    for (const inet of [false, true])
      try {
        this.nft([delTable(nftTable(this.prefix), inet)]);
      } catch (e) {
        if (!(e instanceof NetlinkError && e.errno === ENOENT)) throw e;
      }
  }

  /** The global zone's addresses (CIDR) on the zone bridges, each once: where the package proxy listens. */
  globalAddresses(): string[] {
    return [...new Set(this.nets().flatMap((n) => n.links.flatMap((l) => (l.ownBridge ? l.globalAddresses : []))))];
  }

  /** The zone that has `address` on one of its links, if any. */
  zoneWith(address: string): string | undefined {
    return this.nets().find((n) => n.links.some((l) => l.plumb.some((a) => addressOf(a) === address)))?.zone;
  }

  /** Has the zone anything to plumb (links, addresses)? Without, its init may start as soon as it is created. */
  plumbs(z: ZoneConfig): boolean {
    return planNetwork(this.prefix, z).links.length > 0;
  }

  /** Refuse, before anything is made, a zone whose network cannot be plumbed. */
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

/**
 * Remove every network object of a root at once, synchronously: for tests and for an
 * administrator cleaning up a root that is gone.
 */
export function purgeNetwork(paths: ZonePaths): void {
  const links = hostLinksOf(paths.hostPrefix);
  if (links.length > 0) spawnSync("ip", ["-force", "-batch", "-"], { input: links.map((l) => `link del dev ${l}`).join("\n") + "\n", stdio: ["pipe", "ignore", "ignore"] });
  const t = nftTable(paths.hostPrefix);
  spawnSync("nft", ["-f", "-"], { input: `add table bridge ${t}\ndelete table bridge ${t}\nadd table inet ${t}\ndelete table inet ${t}\n`, stdio: ["pipe", "ignore", "ignore"] });
  fs.rmSync(journalFile(paths), { force: true });
}
