/**
 * Zone networking beyond network.test.ts, with real zones: DHCP between exclusive-IP
 * zones (a zone that administers its own link can serve and take leases; one bound by
 * allowed-address cannot get another address working), and an IPv6 default router the
 * global zone holds on a zone bridge, reached from the global zone by ping and HTTP.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { hostLinksOf } from "../../../src/platform/network/hostlinks.js";
import { bridgeName, nftTable } from "../../../src/platform/network/plan.js";
import { readNets } from "../../../src/platform/network/netrecords.js";
import { readRun } from "../../../src/document/store/runstate.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("netx");
// A private /24 per root, never routed off this machine. 200-249 keeps clear of
// network.test.ts (100-199), which the runner may run beside this file.
const X = 200 + (parseInt(createHash("sha256").update(root.dir).digest("hex").slice(0, 4), 16) % 50);
const NET = `10.213.${X}`;
const V6 = `fd00:213:${X}::`;
const NET2 = `10.214.${X}`;
const POOL = { first: 100, last: 150 };
const zp = (n: string): string => path.join(root.dir, "zones", n);
const rootOf = (n: string): string => path.join(zp(n), "root");
const esc = (s: string): string => s.replace(/[.]/g, "\\.");

after(() => root.remove());

function sh(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** ping from the global zone: Debian's minimal hosts have no iputils, busybox's does the same. */
function globalPing(...args: string[]): number {
  const iputils = sh("sh", ["-c", "command -v ping"]).status === 0;
  return (iputils ? sh("ping", args) : sh("busybox", ["ping", ...args])).status;
}

/** Configure and install a minimal zone and try to boot it. */
function tryBoot(name: string, body: string, r: ZoneTestRoot = root): { status: number; stderr: string } {
  r.ok("zonecfg", ["-z", name, `create; set zonepath=${path.join(r.dir, "zones", name)}; set brand=minimal; ${body}`]);
  r.ok("zoneadm", ["-z", name, "install"]);
  return r.run("zoneadm", ["-z", name, "boot"]);
}

/** Configure, install and boot a minimal zone. */
function bootZone(name: string, body: string, r: ZoneTestRoot = root): void {
  const b = tryBoot(name, body, r);
  assert.equal(b.status, 0, b.stderr);
}

/** Halt, uninstall and delete, whatever state each zone got to; failures are ignored. */
function destroy(zones: string[], r: ZoneTestRoot = root): void {
  for (const z of zones) {
    r.run("zoneadm", ["-z", z, "halt"]);
    r.run("zoneadm", ["-z", z, "uninstall", "-F"]);
    r.run("zonecfg", ["-z", z, "delete", "-F"]);
  }
}

/** A file the zone reads, written by the global zone into the zone's root. */
function writeInto(zone: string, file: string, text: string, mode = 0o644): void {
  fs.writeFileSync(path.join(rootOf(zone), file), text, { mode });
}

/**
 * udhcpc's event script: busybox's default (/usr/share/udhcpc/default.script) is not in
 * a minimal zone. It applies the lease and never flushes, so a zone's allowed-address
 * survives a failed attempt.
 */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip link set "$interface" up ;;
  bound|renew) ip addr add "$ip/$mask" dev "$interface" ;;
esac
exit 0
`;

/** Everything of this root's networking still on the host. */
function leftovers(): string[] {
  const out = hostLinksOf(root.paths.hostPrefix);
  for (const p of ["zbr0", "zbr1", "zbr3"]) if (fs.existsSync(`/sys/class/net/${bridgeName(root.paths.hostPrefix, p)}`)) out.push(p);
  if (sh("nft", ["list", "table", "bridge", nftTable(root.paths.hostPrefix)]).status === 0) out.push("nft table");
  out.push(...readNets(root.paths).map((n) => `record of zone ${n.zone}`));
  return [...new Set(out)];
}

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("DHCP in exclusive-IP zones", { concurrency: false }, () => {
  const zones = ["dhcpd", "client", "bound"];

  before(() => {
    // Both administer their own link (exclusive-IP, no allowed-address): the host
    // filter then checks only their MACs, so DHCP's 0.0.0.0 and broadcast frames pass.
    bootZone("dhcpd", "set ip-type=exclusive; add net; set physical=zbr0; end;");
    bootZone("client", "set ip-type=exclusive; add net; set physical=zbr0; end;");
    // Its one permitted source is plumbed by the global zone at boot.
    bootZone("bound", `set ip-type=exclusive; add net; set physical=zbr0; set allowed-address=${NET}.40/24; end;`);
    // The zone root must hold net_admin (12) and net_raw (13): udhcpd and udhcpc use raw
    // and packet sockets and set addresses.
    const eff = /^CapEff:\s+([0-9a-f]+)$/m.exec(root.ok("zlogin", ["dhcpd", "cat /proc/self/status"]));
    assert.ok(eff);
    assert.equal(BigInt(`0x${eff[1]}`) & (3n << 12n), 3n << 12n, `CapEff ${eff[1]}`);
    for (const applet of ["ip", "udhcpc", "udhcpd"]) assert.equal(root.run("zlogin", ["dhcpd", `command -v ${applet}`]).status, 0, `no ${applet} in a minimal zone`);

    writeInto(
      "dhcpd",
      "etc/udhcpd.conf",
      // /var/lib/misc (the default lease file's directory) does not exist in a minimal zone.
      [`start ${NET}.${POOL.first}`, `end ${NET}.${POOL.last}`, "interface net0", "lease_file /tmp/udhcpd.leases", "pidfile /tmp/udhcpd.pid", "option subnet 255.255.255.0", "option lease 600", ""].join("\n"),
    );
    // udhcpd daemonizes; it dies with the zone.
    const r = root.run("zlogin", ["dhcpd", `ip addr add ${NET}.1/24 dev net0 && ip link set net0 up && udhcpd /etc/udhcpd.conf`]);
    assert.equal(r.status, 0, r.stderr);
    for (const z of ["client", "bound"]) writeInto(z, "etc/udhcpc.sh", UDHCPC_SCRIPT, 0o755);
  });

  after(() => destroy(zones));

  test("a zone that administers its own link gets a lease from a DHCP server zone and reaches it", () => {
    const r = root.run("zlogin", ["client", "udhcpc -i net0 -n -q -t 5 -T 2 -s /etc/udhcpc.sh"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`obtained from ${esc(NET)}\\.1\\b`));
    const m = new RegExp(`inet ${esc(NET)}\\.(\\d+)/24`).exec(root.ok("zlogin", ["client", "ip -4 addr show net0"]));
    assert.ok(m, "no address from the lease on net0");
    const host = Number(m[1]);
    assert.ok(host >= POOL.first && host <= POOL.last, `${NET}.${host} is outside the pool`);
    const ping = root.run("zlogin", ["client", `ping -c 1 -W 2 ${NET}.1`]);
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
  });

  test("a zone bound by allowed-address gets no other address working through DHCP", () => {
    // Control: the server answers the zone from its allowed address.
    const ok = root.run("zlogin", ["bound", `ping -c 1 -W 2 -I ${NET}.40 ${NET}.1`]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    // DHCPDISCOVER leaves from 0.0.0.0, which is not an allowed source: the host drops
    // it, so the server never offers and udhcpc (-n) gives up.
    const r = root.run("zlogin", ["bound", "udhcpc -i net0 -n -q -t 2 -T 1 -s /etc/udhcpc.sh"]);
    assert.notEqual(r.status, 0, `udhcpc got a lease: ${r.stderr}`);
    assert.match(r.stderr, /no lease, failing/, "udhcpc ran and timed out, not failed otherwise");
    assert.deepEqual(
      [...root.ok("zlogin", ["bound", "ip -4 -o addr show net0"]).matchAll(/inet (\S+)/g)].map((a) => a[1]),
      [`${NET}.40/24`],
    );
    // The zone may still take an address from the pool by hand (it owns its link), but
    // nothing it sends from there gets past the host.
    const spoof = `${NET}.${POOL.last}`;
    assert.equal(root.run("zlogin", ["bound", `ip addr add ${spoof}/24 dev net0`]).status, 0);
    assert.notEqual(root.run("zlogin", ["bound", `ping -c 1 -W 2 -I ${spoof} ${NET}.1`]).status, 0, `${spoof} works`);
  });
});

describe("IPv6 default router held by the global zone on a zone bridge", () => {
  // zbr1: a bridge of its own, made at this boot, so the bridge address is always new.
  const bridge = (): string => bridgeName(root.paths.hostPrefix, "zbr1");

  after(() => destroy(["web6", "spoof6"]));

  test("the global zone holds the router address and reaches the zone by ping and HTTP over IPv6", () => {
    bootZone("web6", `add net; set physical=zbr1; set address=${V6}2/64; set defrouter=${V6}1; end;`);
    const show = (): string => sh("ip", ["-6", "addr", "show", "dev", bridge()]).stdout;
    const first = show();
    assert.match(first, new RegExp(`inet6 ${V6}1/64 scope global`));
    // Added with nodad: usable as a source at once, not tentative for a second or two of
    // duplicate address detection (the address is the global zone's by configuration).
    assert.doesNotMatch(first.split("\n").find((l) => l.includes(`${V6}1/64`)) ?? "", /tentative/);
    assert.match(root.ok("zlogin", ["web6", "ip -6 addr show net0"]), new RegExp(`inet6 ${V6}2/64 scope global\\s`));
    assert.match(root.ok("zlogin", ["web6", "ip -6 route show default"]), new RegExp(`default via ${V6}1 dev net0`));
    assert.equal(globalPing("-6", "-c", "1", "-W", "2", `${V6}2`), 0);
    root.ok("zlogin", ["web6", "mkdir -p /srv && echo zone-v6 > /srv/index.html && httpd -p 80 -h /srv"]);
    assert.equal(sh("curl", ["-g", "-s", "-m", "3", `http://[${V6}2]/`]).stdout, "zone-v6\n");
  });

  test("a zone's neighbour advertisements may claim its own addresses, never another zone's", () => {
    // spoof6 administers its link (net_raw) but may use only its allowed-address.
    bootZone("spoof6", `set ip-type=exclusive; add net; set physical=zbr1; set allowed-address=${V6}3/64; end;`);
    assert.equal(globalPing("-6", "-c", "1", "-W", "2", `${V6}2`), 0);
    assert.equal(globalPing("-6", "-c", "1", "-W", "2", `${V6}3`), 0);
    const lladdr = (a: string): string => /lladdr (\S+)/.exec(sh("ip", ["-6", "neigh", "show", a, "dev", bridge()]).stdout)?.[1] ?? "none";
    const web6Mac = lladdr(`${V6}2`);
    assert.notEqual(web6Mac, "none", "the global zone has no neighbour entry for web6");
    const pid = readRun(root.paths, "spoof6")?.pid ?? 0;
    // An unsolicited advertisement with the override flag, sent out of spoof6's net0.
    // The host's root crafts it in spoof6's network namespace: what is tested is the
    // filter on spoof6's bridge port, which sees the same frame whoever built it.
    const advertise = (target: string, mac: string): void => {
      const r = sh("nsenter", [`--net=/proc/${pid}/ns/net`, "perl", "-e", NA_SENDER, target, mac, "net0"]);
      assert.equal(r.status, 0, r.stderr);
    };
    // Control: claiming its own address with another MAC is allowed, and the host takes it.
    advertise(`${V6}3`, "02:00:00:00:00:99");
    assert.equal(lladdr(`${V6}3`), "02:00:00:00:00:99", "the host ignored an allowed advertisement: the check below would prove nothing");
    // Claiming web6's address (to draw the host's traffic for it) is dropped on the host.
    advertise(`${V6}2`, "02:00:00:00:00:66");
    assert.equal(lladdr(`${V6}2`), web6Mac);
  });
});

/** Sends an ICMPv6 neighbour advertisement (override set) for ARGV[0] with link address ARGV[1] out of ARGV[2]. */
const NA_SENDER = `
use Socket qw(AF_INET6 SOCK_RAW inet_pton getaddrinfo AI_NUMERICHOST);
my ($target, $mac, $if) = @ARGV;
socket(my $s, AF_INET6, SOCK_RAW, 58) or die "socket: $!";
# IPV6_MULTICAST_HOPS 255: receivers ignore neighbour discovery with any other hop limit.
setsockopt($s, 41, 18, pack("i", 255)) or die "hops: $!";
my ($err, $to) = getaddrinfo("ff02::1%$if", undef, { family => AF_INET6, flags => AI_NUMERICHOST });
die "address: $err" if $err;
(my $hex = $mac) =~ s/://g;
my $na = pack("CCnN", 136, 0, 0, 0x20000000) . inet_pton(AF_INET6, $target) . pack("CC", 2, 1) . pack("H12", $hex);
send($s, $na, 0, $to->{addr}) or die "send: $!";
`;

describe("two roots on one host", { concurrency: false }, () => {
  // A second root, as a second installation (or a test run) beside this one.
  const other = new ZoneTestRoot("netx-b");
  // A host bridge that both roots use: unlike zone bridges, it is not private to a root.
  const hostBridge = `zt${createHash("sha256").update(root.dir).digest("hex").slice(0, 6)}b`;

  before(() => {
    assert.equal(sh("ip", ["link", "add", "name", hostBridge, "type", "bridge"]).status, 0);
    assert.equal(sh("ip", ["link", "set", hostBridge, "up"]).status, 0);
  });

  after(() => {
    destroy(["rb", "rd"], other);
    destroy(["ra", "rd"]);
    other.remove();
    sh("ip", ["link", "del", hostBridge]);
  });

  test("an address used on a shared host bridge by a zone of another root is refused, nothing plumbed", () => {
    bootZone("ra", `add net; set physical=${hostBridge}; set address=${NET}.60/24; end;`);
    const r = tryBoot("rb", `add net; set physical=${hostBridge}; set address=${NET}.60/24; end;`, other);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`net address ${esc(NET)}\\.60/24 is in use on bridge ${hostBridge} by zone 'ra' of root '${root.paths.hostPrefix}'`));
    assert.deepEqual(hostLinksOf(other.paths.hostPrefix), []);
    // Another address on the same bridge is fine.
    other.ok("zonecfg", ["-z", "rb", "select net physical=" + hostBridge + "; set address=" + `${NET}.61/24` + "; end"]);
    const ok = other.run("zoneadm", ["-z", "rb", "boot"]);
    assert.equal(ok.status, 0, ok.stderr);
  });

  test("a default router the global zone already holds for another root's bridge is refused", () => {
    bootZone("rd", `add net; set physical=zbr3; set address=${NET2}.2/24; set defrouter=${NET2}.1; end;`);
    const r = tryBoot("rd", `add net; set physical=zbr3; set address=${NET2}.3/24; set defrouter=${NET2}.1; end;`, other);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`net defrouter ${esc(NET2)}\\.1 is already an address of the global zone on ${bridgeName(root.paths.hostPrefix, "zbr3")}`));
    assert.equal(fs.existsSync(`/sys/class/net/${bridgeName(other.paths.hostPrefix, "zbr3")}`), false, "the other root's bridge was made");
  });
});

test("halting every zone leaves nothing of this root's networking", async () => {
  await until(`no leftovers (${leftovers().join(", ")})`, () => leftovers().length === 0, 5000);
  assert.doesNotMatch(sh("ip", ["addr"]).stdout, new RegExp(`10\\.21[34]\\.${X}\\.|${V6}`));
  assert.deepEqual(root.containers(), []);
});
