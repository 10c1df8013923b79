/**
 * Zone networking with real zones and real servers: shared-IP zones plumbed by the
 * global zone, anti-spoofing enforced on the host, exclusive-IP zones that administer
 * their own link, isolation of unicast between zones, refused configurations, and no
 * trace left after halt or after a zoneadmd killed with SIGKILL.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { hostLinksOf } from "../../../src/platform/network/hostlinks.js";
import { bridgeName, nftTable } from "../../../src/platform/network/plan.js";
import { readNets } from "../../../src/platform/network/netrecords.js";
import { Repository } from "../../../src/document/store/repository.js";
import { readRun } from "../../../src/document/store/runstate.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { BIN } from "../../support/helpers.js";

const root = new ZoneTestRoot("net");
// A private /24 per root (10.213.100-199.0), never routed off this machine.
const X = 100 + (parseInt(createHash("sha256").update(root.dir).digest("hex").slice(0, 4), 16) % 100);
const NET = `10.213.${X}`;
const V6 = `fd00:213:${X}::`;
const DUMMY = `zt${createHash("sha256").update(root.dir).digest("hex").slice(0, 6)}d0`;
const zp = (n: string): string => path.join(root.dir, "zones", n);
const bridge = (): string => bridgeName(root.paths.hostPrefix, "zbr0");
const state = (n: string): string => new Repository(root.paths).find(n)?.state ?? "absent";
const initPid = (n: string): number => readRun(root.paths, n)?.pid ?? 0;

after(() => {
  root.remove();
  spawnSync("ip", ["link", "del", DUMMY], { stdio: "ignore" });
});

function sh(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** An HTTP GET from the global zone. */
function fetchFromGlobal(url: string): string {
  return sh("curl", ["-s", "-m", "3", url]).stdout;
}

function tableExists(): boolean {
  return sh("nft", ["list", "table", "bridge", nftTable(root.paths.hostPrefix)]).status === 0;
}

/** Everything of this root's networking still on the host. */
function leftovers(): string[] {
  const out = hostLinksOf(root.paths.hostPrefix);
  if (fs.existsSync(`/sys/class/net/${bridge()}`)) out.push(bridge());
  if (tableExists()) out.push(`nft table ${nftTable(root.paths.hostPrefix)}`);
  out.push(...readNets(root.paths).map((n) => `record of zone ${n.zone}`));
  return [...new Set(out)];
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function configure(name: string, body: string, brand = "minimal"): void {
  root.ok("zonecfg", ["-z", name, `create; set zonepath=${zp(name)}; set brand=${brand}; ${body}`]);
}

const net = (physical: string, prop: string, value: string, defrouter = ""): string =>
  `add net; set physical=${physical}; set ${prop}=${value};${defrouter ? ` set defrouter=${defrouter};` : ""} end;`;

/** busybox httpd on port 80 serving `content`. */
function serve(zone: string, content: string): void {
  root.ok("zlogin", [zone, `mkdir -p /srv && echo ${content} > /srv/index.html && httpd -p 80 -h /srv`]);
}

/** A GET from inside a zone (busybox wget; its -T crashes, so timeout bounds it). */
function fetchFromZone(zone: string, url: string): { status: number; stdout: string } {
  return root.run("zlogin", [zone, "timeout", "5", "wget", "-q", "-O", "-", url]);
}

describe("zone networking", { concurrency: false }, () => {
  before(() => {
    configure("a", net("zbr0", "address", `${NET}.2/24`, `${NET}.1`));
    configure("b", net("zbr0", "address", `${NET}.3/24`, `${NET}.1`) + net("zbr0", "address", `${V6}3/64`));
    configure("c", net("zbr0", "address", `${NET}.4/24`, `${NET}.1`));
    // exclusive-IP with allowed-address: plumbed at boot, no other source allowed.
    configure("e", "set ip-type=exclusive; " + net("zbr0", "allowed-address", `${NET}.20/24`, `${NET}.1`));
    // exclusive-IP without: the zone configures itself (sparse: the host's perl for a capture).
    configure("f", "set ip-type=exclusive; add net; set physical=zbr0; end;", "sparse");
    for (const z of ["a", "b", "c", "e", "f"]) root.ok("zoneadm", ["-z", z, "install"]);
    for (const z of ["a", "b", "c", "e", "f"]) {
      const r = root.run("zoneadm", ["-z", z, "boot"]);
      assert.equal(r.status, 0, r.stderr);
    }
  });

  test("two zones serve different content on port 80, reached from the global zone and a third zone", () => {
    serve("a", "zone-a");
    serve("b", "zone-b");
    assert.equal(fetchFromGlobal(`http://${NET}.2/`), "zone-a\n");
    assert.equal(fetchFromGlobal(`http://${NET}.3/`), "zone-b\n");
    assert.equal(fetchFromZone("c", `http://${NET}.2/`).stdout, "zone-a\n");
    assert.equal(fetchFromZone("c", `http://${NET}.3/`).stdout, "zone-b\n");
    // b's second net resource: an IPv6 address on the same interface.
    assert.match(root.ok("zlogin", ["b", "ip addr show net0"]), new RegExp(`inet6 ${V6}3/64`));
  });

  test("list -v shows shared and excl; zonenet shows each zone's interfaces", () => {
    const v = root.ok("zoneadm", ["list", "-v"]);
    assert.match(v, / a +running .* shared/);
    assert.match(v, / e +running .* excl/);
    const n = root.ok("zonenet", []);
    assert.match(n, new RegExp(`^a +shared +net0 +zv[0-9a-f]+0 +zbr0\\(${bridge()}\\) +up +${NET.replace(/\./g, "\\.")}\\.2/24`, "m"));
    assert.match(n, new RegExp(`^b .*${V6}3/64`, "m"));
    assert.match(n, new RegExp(`^e +excl .*${NET.replace(/\./g, "\\.")}\\.20/24`, "m"));
    assert.match(root.ok("zonenet", ["-z", "c"]), new RegExp(`${NET.replace(/\./g, "\\.")}\\.4/24`));
  });

  test("a shared-IP zone's root cannot change addresses, links or routes, nor open raw or packet sockets", () => {
    const add = root.run("zlogin", ["a", "ip", "addr", "add", `${NET}.99/24`, "dev", "net0"]);
    assert.notEqual(add.status, 0);
    assert.match(add.stderr, /Operation not permitted/);
    assert.notEqual(root.run("zlogin", ["a", "ip", "link", "set", "net0", "down"]).status, 0);
    assert.notEqual(root.run("zlogin", ["a", "ip", "route", "del", "default"]).status, 0);
    const arping = root.run("zlogin", ["a", "arping", "-c", "1", "-w", "1", "-I", "net0", `${NET}.1`]);
    assert.match(arping.stderr, /socket: Operation not permitted/);
    // Neither net_admin (12) nor net_raw (13) in any of the zone root's capability sets.
    for (const m of root.ok("zlogin", ["a", "grep", "^Cap", "/proc/self/status"]).matchAll(/^Cap\w+:\s+([0-9a-f]+)$/gm))
      assert.equal(BigInt(`0x${m[1]}`) & (3n << 12n), 0n, m[0]);
    assert.equal(fetchFromGlobal(`http://${NET}.2/`), "zone-a\n", "the zone still works");
  });

  test("anti-spoofing is enforced in the global zone, not trusted to the zone", () => {
    // The global zone's root adds an address inside a's namespace, as a compromised
    // stack would: the bridge still drops what a sends from it.
    const ns = `--net=/proc/${initPid("a")}/ns/net`;
    assert.equal(sh("nsenter", [ns, "ip", "addr", "add", `${NET}.98/24`, "dev", "net0"]).status, 0);
    assert.equal(sh("nsenter", [ns, "curl", "-s", "-m", "2", "--interface", `${NET}.2`, `http://${NET}.3/`]).stdout, "zone-b\n");
    assert.notEqual(sh("nsenter", [ns, "curl", "-s", "-m", "2", "--interface", `${NET}.98`, `http://${NET}.3/`]).stdout, "zone-b\n");
    sh("nsenter", [ns, "ip", "addr", "del", `${NET}.98/24`, "dev", "net0"]);
  });

  test("an exclusive-IP zone's root configures its own link; allowed-address is enforced", () => {
    const r = root.run("zlogin", ["f", `ip addr add ${NET}.30/24 dev net0 && ip link set net0 up && ip route add default via ${NET}.1`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fetchFromZone("a", `http://${NET}.3/`).stdout, "zone-b\n");
    const out = root.ok("zlogin", ["f", "ip -o addr show net0"]);
    assert.match(out, new RegExp(`${NET.replace(/\./g, "\\.")}\\.30/24`));
    assert.equal(root.run("zlogin", ["f", "timeout 5 wget -q -O - http://" + NET + ".2/"]).stdout, "zone-a\n");
    // e: its allowed address was plumbed at boot and works; another is dropped.
    assert.match(root.ok("zlogin", ["e", "ip -o addr show net0"]), new RegExp(`${NET.replace(/\./g, "\\.")}\\.20/24`));
    assert.equal(root.run("zlogin", ["e", "ping", "-c", "1", "-W", "2", `${NET}.1`]).status, 0);
    assert.equal(root.run("zlogin", ["e", "ip", "addr", "add", `${NET}.21/24`, "dev", "net0"]).status, 0, "the zone owns its link");
    assert.notEqual(root.run("zlogin", ["e", "ping", "-c", "1", "-W", "2", "-I", `${NET}.21`, `${NET}.1`]).status, 0, "a source outside allowed-address is dropped");
    // It cannot touch the host's or another zone's interfaces: they are not in its namespace.
    const links = root.ok("zlogin", ["e", "ip -o link"]);
    assert.deepEqual(links.split("\n").filter(Boolean).map((l) => l.split(":")[1]!.trim().replace(/@.*/, "")), ["lo", "net0"]);
    assert.match(root.run("zlogin", ["e", "ip", "link", "set", bridge(), "down"]).stderr, /No such device|Cannot find device/);
  });

  test("a packet capture in an exclusive-IP zone sees none of another zone's unicast, even when the bridge floods", async () => {
    // Ageing 0: the bridge learns nothing and floods every frame to every port, like a
    // hub. Only the host-side filters keep other zones' unicast away from f.
    assert.equal(sh("ip", ["link", "set", bridge(), "type", "bridge", "ageing_time", "0"]).status, 0);
    const mac = fs.readFileSync(`/sys/class/net/${hostPeerOf("f")}/address`, "utf8").trim();
    const zmac = root.ok("zlogin", ["f", "cat /sys/class/net/net0/address"]).trim();
    assert.notEqual(mac, zmac);
    const capture = spawn(path.join(BIN, "zlogin"), ["f", "perl", "-e", CAPTURE, "4", zmac], { env: root.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    capture.stdout.on("data", (d: Buffer) => (out += d.toString()));
    capture.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const done = new Promise<void>((r) => capture.on("close", () => r()));
    await new Promise((r) => setTimeout(r, 700));
    for (let i = 0; i < 10; i++) {
      assert.equal(fetchFromZone("c", `http://${NET}.2/`).stdout, "zone-a\n");
      assert.equal(fetchFromGlobal(`http://${NET}.3/`), "zone-b\n");
    }
    // Control: unicast to f itself is seen (a refused connection still brings a SYN).
    sh("curl", ["-s", "-m", "1", `http://${NET}.30:9/`]);
    await done;
    const m = /own=(\d+) other=(\d+)/.exec(out);
    assert.ok(m, `capture output: ${out} ${err}`);
    assert.ok(Number(m[1]) > 0, `the capture works: it saw f's own unicast (${out})`);
    assert.equal(Number(m[2]), 0, `f saw another zone's unicast (${out})`);
    sh("ip", ["link", "set", bridge(), "type", "bridge", "ageing_time", "30000"]);
  });

  test("a zone cannot reach another zone's loopback", () => {
    assert.notEqual(fetchFromZone("c", "http://127.0.0.1/").stdout, "zone-a\n");
    assert.notEqual(fetchFromZone("c", "http://127.0.0.1/").status, 0);
  });

  test("bad input is refused at verify and boot with one line naming zone, thing and value; nothing half-plumbed", () => {
    configure("g", net("zbr0", "address", `${NET}.2/24`));
    root.ok("zoneadm", ["-z", "g", "install"]);
    const v = root.run("zoneadm", ["-z", "g", "verify"]);
    assert.equal(v.stderr, `zoneadm: zone 'g': net address ${NET}.2/24 is in use by running zone 'a'\n`);
    const before = hostLinksOf(root.paths.hostPrefix).sort();
    const b = root.run("zoneadm", ["-z", "g", "boot"]);
    assert.equal(b.status, 1);
    assert.match(b.stderr, new RegExp(`^zoneadm: zone 'g': net address ${NET.replace(/\./g, "\\.")}\\.2/24 is in use by running zone 'a'\n`));
    assert.equal(state("g"), "installed");
    assert.deepEqual(hostLinksOf(root.paths.hostPrefix).sort(), before);
    assert.doesNotMatch(sh("nft", ["list", "table", "bridge", nftTable(root.paths.hostPrefix)]).stdout, /zone:g/);
    assert.ok(!fs.existsSync(path.join(root.paths.runDir, "net", "g.json")));

    configure("h", net("nosuch0", "address", `${NET}.50/24`));
    assert.equal(root.run("zoneadm", ["-z", "h", "verify"]).stderr, "zoneadm: zone 'h': net physical nosuch0 does not exist on this host (zone bridges, made on first use, are named zbr*)\n");
    configure("h2", net("lo", "address", `${NET}.51/24`));
    assert.match(root.run("zoneadm", ["-z", "h2", "verify"]).stderr, /^zoneadm: zone 'h2': net physical lo is not a bridge/);
    configure("h3", net("zbr0", "address", `${NET}.52/24`, "10.9.9.1"));
    assert.equal(root.run("zoneadm", ["-z", "h3", "verify"]).stderr, "zoneadm: zone 'h3': net defrouter 10.9.9.1 is not on the subnet of any address on physical zbr0\n");

    // A host link given whole to one exclusive-IP zone is not another's.
    // (No dummy driver in this kernel: one end of a veth pair stands for a host NIC.)
    assert.equal(sh("ip", ["link", "add", DUMMY, "type", "veth", "peer", "name", `${DUMMY}p`]).status, 0);
    configure("i", `set ip-type=exclusive; add net; set physical=${DUMMY}; end;`);
    configure("j", `set ip-type=exclusive; add net; set physical=${DUMMY}; end;`);
    root.ok("zoneadm", ["-z", "i", "install"]);
    root.ok("zoneadm", ["-z", "j", "install"]);
    const bi = root.run("zoneadm", ["-z", "i", "boot"]);
    assert.equal(bi.status, 0, bi.stderr);
    assert.match(root.ok("zlogin", ["i", "ip -o link"]), new RegExp(DUMMY));
    const bj = root.run("zoneadm", ["-z", "j", "boot"]);
    assert.equal(bj.stderr, `zoneadm: zone 'j': net physical ${DUMMY} belongs to running exclusive-IP zone 'i'\n`);
    assert.equal(state("j"), "installed");
    root.ok("zoneadm", ["-z", "i", "halt"]);
  });

  test("halt leaves nothing: no veth, bridge, address, route or nft table", async () => {
    for (const z of ["a", "b", "c", "e", "f"]) root.ok("zoneadm", ["-z", z, "halt"]);
    await until(`no leftovers (${leftovers().join(", ")})`, () => leftovers().length === 0, 5000);
    assert.doesNotMatch(sh("ip", ["route"]).stdout, new RegExp(`10\\.213\\.${X}\\.`));
    assert.doesNotMatch(sh("ip", ["addr"]).stdout, new RegExp(`10\\.213\\.${X}\\.`));
  });

  test("a reboot plumbs the zone again", () => {
    root.ok("zoneadm", ["-z", "a", "boot"]);
    root.ok("zoneadm", ["-z", "a", "reboot"]);
    serve("a", "again");
    assert.equal(fetchFromGlobal(`http://${NET}.2/`), "again\n");
  });

  test("zoneadmd killed with SIGKILL: a zone that died meanwhile is unplumbed at restart", async () => {
    root.ok("zoneadm", ["-z", "b", "boot"]);
    process.kill(root.daemonPid()!, "SIGKILL");
    process.kill(initPid("b"), "SIGKILL");
    process.kill(initPid("a"), "SIGKILL");
    await until("b's init gone", () => !fs.existsSync(`/proc/${initPid("b")}/ns`));
    root.ok("zoneadm", ["runtime"]);
    await until("zones halted", () => state("a") === "installed" && state("b") === "installed");
    await until(`no leftovers (${leftovers().join(", ")})`, () => leftovers().length === 0, 5000);
  });

  test("zoneadmd killed with SIGKILL mid-boot: restart and halt leave nothing", async () => {
    for (const delay of [40, 120, 250]) {
      const boot = spawn(path.join(BIN, "zoneadm"), ["-z", "c", "boot"], { env: root.env, stdio: "ignore" });
      const ended = new Promise<void>((r) => boot.on("close", () => r()));
      await until("daemon", () => root.daemonPid() !== undefined && fs.existsSync(`/proc/${root.daemonPid()}`));
      await new Promise((r) => setTimeout(r, delay));
      process.kill(root.daemonPid()!, "SIGKILL");
      await ended;
      root.ok("zoneadm", ["runtime"]);
      // The boot died with the daemon: the zone stays where it got to (ready is a state
      // of its own, as in illumos), never in between.
      await until(`a settled state after ${delay} ms (${state("c")})`, () => ["installed", "ready", "running"].includes(state("c")));
      if (state("c") !== "installed") root.ok("zoneadm", ["-z", "c", "halt"]);
      await until(`no leftovers after ${delay} ms (${leftovers().join(", ")})`, () => leftovers().length === 0, 5000);
    }
  });
});

/** The host side of a zone's first veth. */
function hostPeerOf(zone: string): string {
  const l = hostLinksOf(root.paths.hostPrefix).find((n) => fs.readFileSync(`/sys/class/net/${n}/ifalias`, "utf8").trim().includes(`:zone:${zone}:`));
  assert.ok(l, `no host link for zone ${zone}`);
  return l;
}

/**
 * A packet socket (AF_PACKET, ETH_P_ALL) with the link in promiscuous mode: counts
 * received unicast frames addressed to the zone's MAC (own) and to any other (other)
 * for argv[0] seconds.
 */
const CAPTURE = `
use strict;
my ($secs, $mac) = @ARGV;
system("ip", "link", "set", "net0", "promisc", "on") == 0 or die "promisc: $?";
socket(my $s, 17, 3, 0x0300) or die "socket: $!";
my ($own, $other) = (0, 0);
my $end = time + $secs;
while (time < $end) {
  my $rin = ""; vec($rin, fileno($s), 1) = 1;
  next unless select(my $r = $rin, undef, undef, 0.2);
  my $from = recv($s, my $buf, 65535, 0);
  next if unpack("C", substr($from, 10, 1)) == 4;
  next if unpack("C", $buf) & 1;
  my $dst = join(":", map { sprintf "%02x", $_ } unpack("C6", $buf));
  if ($dst eq lc $mac) { $own++ } else { $other++ }
}
print "own=$own other=$other\\n";
`;
