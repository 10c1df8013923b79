/**
 * The nftables filters of zone ports (anti-spoofing and isolation, see network.ts): the
 * root's fixed table, made once by `nft`, and the set elements that filter one port,
 * sent as netlink messages.
 */
import { spawn } from "node:child_process";
import { isIP } from "node:net";
import { ZoneError } from "../../native/errors.js";
import type { IpType } from "../../document/model.js";
import type { Message } from "./netlink.js";
import { key, setElements } from "./nftables.js";
import { addressOf, linkLocalOf, type ZoneLink } from "./plan.js";

/** Run a program with `input` on stdin; reject with its first stderr line on failure. */
export function run(cmd: string, args: string[], input: string): Promise<void> {
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
export function nftBase(t: string, routeNowhere = true): string[] {
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
    // A zone's packets never leave the machine, whatever the host's ip_forward says: the
    // global zone routes nothing from a zone bridge (zb*: every root's, zbr* and
    // zb<hash>) to any other link, nor back; zones reach the package archives through
    // its proxy (daemon/proxy.ts). Zone to zone stays allowed: with br_netfilter, frames
    // bridged between a bridge's ports pass this hook too, in and out the bridge.
    // `proxy-only=off` (zoneadmd.conf) leaves the chain empty, for hosts that NAT zones.
    `add table inet ${t}`,
    `add chain inet ${t} forward { type filter hook forward priority -300 ; policy accept ; }`,
    `flush chain inet ${t} forward`,
    ...(routeNowhere ? [`add rule inet ${t} forward iifname "zb*" oifname != "zb*" counter drop`, `add rule inet ${t} forward oifname "zb*" iifname != "zb*" counter drop`] : []),
  ];
}

/** The set elements that filter one zone port, as netlink messages (`add` or `delete`). */
export function portElements(op: "add" | "delete", t: string, ipType: IpType, l: ZoneLink): Message[] {
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
