/**
 * IPC inside zones, with real programs in real zones (perl's built-in SysV calls,
 * mkfifo, socket servers): per-zone key namespaces, per-zone IPC limits, zipcs and
 * zipcrm, file-system rendezvous reached through the zone's root, and abstract sockets
 * and loopback ports that are each zone's own. The logic of LTP's sysvipc/mqns tests
 * (the same key in two namespaces, no interference) runs between two zones.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { TOP } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("ipc");
after(() => root.remove());
const zp = (n: string): string => path.join(root.dir, "zones", n);
const zroot = (n: string): string => path.join(zp(n), "root");
/** A key unlikely to be in use on the host. */
const KEY = 0x5a0e1234;

/** Run perl code in a zone (or, for "global", on the host); stdout, or the error. */
function perl(zone: string, code: string): { status: number; out: string } {
  const r = zone === "global" ? spawnSync("perl", ["-e", code], { encoding: "utf8" }) : root.run("zlogin", [zone, "perl", "-e", code]);
  return { status: r.status ?? -1, out: (r.stdout + r.stderr).trim() };
}

const shmCreate = (data: string): string => `my $id = shmget(${KEY}, 4096, 01666) // die "shmget: $!\\n"; shmwrite($id, "${data}", 0, ${data.length}) or die "shmwrite: $!\\n"; print "$id\\n"`;
const shmRead = (n: number): string => `my $id = shmget(${KEY}, 0, 0) // die "shmget: $!\\n"; shmread($id, my $b, 0, ${n}) or die "shmread: $!\\n"; print "$b\\n"`;
const msgCreate = (text: string): string => `my $id = msgget(${KEY}, 01666) // die "msgget: $!\\n"; msgsnd($id, pack("l! a*", 1, "${text}"), 0) or die "msgsnd: $!\\n"; print "$id\\n"`;
const msgRead = `my $id = msgget(${KEY}, 0) // die "msgget: $!\\n"; msgrcv($id, my $m, 100, 0, 04000) or die "msgrcv: $!\\n"; print substr($m, length(pack("l!", 0))), "\\n"`;
const semCreate = (n: number): string => `my $id = semget(${KEY}, ${n}, 01666) // die "semget: $!\\n"; print "$id\\n"`;
const semCount = `my $id = semget(${KEY}, 0, 0) // die "semget: $!\\n"; my $b = ""; semctl($id, 0, 2, $b) // die "semctl: $!\\n"; print "ok\\n"`;
/** Make objects with IPC_PRIVATE until one fails; print how many were made and why it stopped. */
const fill = (kind: "shm" | "msg" | "sem", n: number, size = 4096): string => {
  const make = kind === "shm" ? `shmget(0, ${size}, 0600)` : kind === "msg" ? "msgget(0, 0600)" : "semget(0, 1, 0600)";
  return `my $i = 0; for (1..${n}) { defined(${make}) or do { print "$i made; $!\\n"; exit }; $i++ } print "$i made\\n"`;
};

describe("IPC in zones", { concurrency: false }, () => {
  before(() => {
    // Zone a has IPC limits; zone b has none.
    root.ok("zonecfg", ["-z", "a", `create; set zonepath=${zp("a")}; set max-shm-ids=3; set max-msg-ids=3; set max-sem-ids=3; set max-shm-memory=1M`]);
    root.ok("zonecfg", ["-z", "b", `create; set zonepath=${zp("b")}`]);
    for (const z of ["a", "b"]) {
      root.ok("zoneadm", ["-z", z, "install"]);
      root.ok("zoneadm", ["-z", z, "boot"]);
    }
  });
  after(() => {
    spawnSync("ipcrm", ["-M", String(KEY)]);
    for (const z of ["a", "b"]) {
      root.run("zoneadm", ["-z", z, "halt"]);
      root.run("zoneadm", ["-z", z, "uninstall", "-F"]);
    }
  });

  test("the same key in two zones names two objects; neither sees the other's or the global zone's", () => {
    assert.equal(perl("global", shmCreate("GLOB")).status, 0);
    assert.match(perl("a", shmRead(4)).out, /shmget: No such file or directory/, "the global zone's segment is not in zone a");
    for (const [z, data] of [["a", "AAAA"], ["b", "BBBB"]] as const) {
      assert.equal(perl(z, shmCreate(data)).status, 0);
      assert.equal(perl(z, msgCreate(`msg-${z}`)).status, 0);
      assert.equal(perl(z, semCreate(2)).status, 0);
    }
    assert.equal(perl("a", shmRead(4)).out, "AAAA");
    assert.equal(perl("b", shmRead(4)).out, "BBBB");
    assert.equal(perl("global", shmRead(4)).out, "GLOB");
    assert.equal(perl("a", msgRead).out, "msg-a");
    assert.equal(perl("b", msgRead).out, "msg-b");
    assert.equal(perl("a", semCount).out, "ok");
    // An id that exists in zone b (and in the global zone) means nothing in zone a.
    const bId = root.ok("zlogin", ["b", "ipcs", "-m"]).match(/^0x5a0e1234\s+(\d+)/m)![1]!;
    const aIds = [...root.ok("zlogin", ["a", "ipcs", "-m"]).matchAll(/^0x[0-9a-f]+\s+(\d+)/gm)].map((m) => m[1]);
    if (!aIds.includes(bId)) assert.match(perl("a", `shmctl(${bId}, 0, 0) // die "rmid: $!\\n"`).out, /Invalid argument/);
    assert.doesNotMatch(spawnSync("ipcs", ["-q"], { encoding: "utf8" }).stdout, /0x5a0e1234/, "the global zone's own namespace has no zone's queue");
  });

  test("POSIX message queues are per zone", () => {
    root.ok("zlogin", ["a", "touch /dev/mqueue/zq && cat /dev/mqueue/zq"]);
    assert.equal(root.ok("zlogin", ["b", "ls -A /dev/mqueue"]), "");
    assert.ok(!fs.existsSync("/dev/mqueue/zq"));
  });

  test("zipcs: the caller's zone by default, -z one zone, -Z every zone with a ZONE column", () => {
    assert.doesNotMatch(root.ok("zipcs", ["-q"]), /0x5a0e1234/, "the global zone's own queues");
    const a = root.ok("zipcs", ["-z", "a"]);
    assert.match(a, /^------ Message Queues --------\nkey +msqid +owner +perms +used-bytes +messages/m);
    assert.match(a, /^0x5a0e1234 +\d+ +root +666 +4096 +0 /m, "a's segment, owned by the zone's root");
    assert.equal([...a.matchAll(/^0x5a0e1234/gm)].length, 3, "one queue, one segment, one semaphore array");
    const all = root.ok("zipcs", ["-Z", "-m"]);
    assert.match(all, /^ZONE +key +shmid/m);
    assert.match(all, /^global +0x5a0e1234 /m);
    assert.match(all, /^a +0x5a0e1234 /m);
    assert.match(all, /^b +0x5a0e1234 /m);
    // Inside a zone, the checkout's build run by the zone's node: its own objects only.
    fs.copyFileSync(path.join(TOP, "dist/bin/zipcs.cjs"), path.join(zroot("a"), "tmp/zipcs.cjs"));
    const inside = root.ok("zlogin", ["a", "node", "/tmp/zipcs.cjs", "-m"]);
    assert.match(inside, /^0x5a0e1234 +\d+ +root/m);
    assert.doesNotMatch(inside, /ZONE/);
    const other = root.run("zlogin", ["a", "node", "/tmp/zipcs.cjs", "-z", "b"]);
    assert.equal(other.status, 1);
    assert.match(other.stderr, /^zipcs: zone 'b': zone "b" is not visible from zone "a"/m);
    assert.equal(root.run("zlogin", ["a", "node", "/tmp/zipcs.cjs", "-Z"]).status, 1);
    assert.match(root.run("zipcs", ["-z", "nosuch"]).stderr, /^zipcs: zone 'nosuch': no such zone configured$/m);
    const bad = root.run("zipcs", ["-z", "../etc"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^zipcs: zone '\.\.\/etc': .*name/m);
    assert.equal(root.run("zipcs", ["-x"]).status, 2);
  });

  test("zipcrm removes in one zone's namespace only", () => {
    root.ok("zipcrm", ["-z", "a", "-M", `0x${KEY.toString(16)}`]);
    assert.match(perl("a", shmRead(4)).out, /No such file or directory/);
    assert.equal(perl("b", shmRead(4)).out, "BBBB", "zone b's segment with the same key is untouched");
    assert.equal(perl("global", shmRead(4)).out, "GLOB");
    const bad = root.run("zipcrm", ["-z", "a", "-Q", "0x0"]);
    assert.equal(bad.status, 2);
    assert.match(root.run("zipcrm", ["-z", "a", "-m", "1;rm"]).stderr, /^zipcrm: -m needs an id, a number: "1;rm"$/m);
    // From inside zone b, its own namespace only; naming zone a is refused.
    fs.copyFileSync(path.join(TOP, "dist/bin/zipcrm.cjs"), path.join(zroot("b"), "tmp/zipcrm.cjs"));
    assert.match(root.run("zlogin", ["b", "node", "/tmp/zipcrm.cjs", "-z", "a", "-Q", String(KEY)]).stderr, /not visible from zone "b"/);
    root.ok("zlogin", ["b", "node", "/tmp/zipcrm.cjs", "-M", String(KEY)]);
    assert.match(perl("b", shmRead(4)).out, /No such file or directory/);
    assert.equal(perl("global", shmRead(4)).out, "GLOB");
    assert.match(perl("a", msgRead).out, /^msgrcv: No message of desired type$/, "zone a's queue was read empty above and still exists");
  });

  test("IPC limits hold in the limited zone only, and its root cannot raise them", () => {
    // Zone a already has one queue and one semaphore array from the first test.
    assert.equal(perl("a", fill("shm", 5)).out, "3 made; No space left on device");
    assert.equal(perl("a", fill("msg", 5)).out, "2 made; No space left on device");
    assert.equal(perl("a", fill("sem", 5)).out, "2 made; No space left on device");
    assert.equal(perl("b", fill("shm", 5)).out, "5 made", "zone b has the kernel's own limits");
    root.ok("zoneadm", ["-z", "a", "reboot"]); // the segments above die with the namespace
    assert.equal(perl("a", fill("shm", 1, 2 * 1024 * 1024)).out, "0 made; No space left on device", "2 MiB is more than max-shm-memory=1M");
    assert.equal(perl("a", fill("shm", 1, 512 * 1024)).out, "1 made");
    assert.equal(root.ok("zlogin", ["a", "cat /proc/sys/kernel/shmmni"]).trim(), "3");
    const raise = root.run("zlogin", ["a", "echo 4096 > /proc/sys/kernel/shmmni"]);
    assert.notEqual(raise.status, 0);
    assert.match(raise.stderr, /Read-only file system|Permission denied/);
    assert.equal(root.ok("zlogin", ["a", "cat /proc/sys/kernel/shmmni"]).trim(), "3");
  });

  test("objects die with the zone's IPC namespace at halt", () => {
    assert.equal(perl("b", semCount).out, "ok");
    root.ok("zoneadm", ["-z", "b", "halt"]);
    root.ok("zoneadm", ["-z", "b", "boot"]);
    assert.match(perl("b", semCount).out, /No such file or directory/);
    assert.match(perl("b", msgRead).out, /No such file or directory/);
  });

  test("FIFOs and socket files live under each zone's root; the global zone reaches them by that path", async () => {
    root.ok("zlogin", ["a", "mkfifo /tmp/rendezvous"]);
    assert.equal(root.run("zlogin", ["b", "test -e /tmp/rendezvous"]).status, 1, "the same path in zone b names nothing");
    // The global zone builds the path by hand: it writes into zone a's FIFO.
    const reader = spawn(path.join(TOP, "bin/zlogin"), ["a", "cat /tmp/rendezvous"], { env: root.env });
    let got = "";
    reader.stdout.on("data", (d: Buffer) => (got += d.toString()));
    fs.writeFileSync(path.join(zroot("a"), "tmp/rendezvous"), "through the global zone\n");
    await new Promise((r) => reader.on("exit", r));
    assert.equal(got, "through the global zone\n");
  });

  test("abstract sockets and loopback ports are each zone's own", async () => {
    const server = (z: string): string =>
      `use IO::Socket::UNIX; use IO::Socket::INET; use IO::Select;
       my $u = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => "\\0zones-test", Listen => 5) or die "abstract: $!";
       my $t = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 7777, Listen => 5, ReuseAddr => 1) or die "tcp: $!";
       my $f = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => "/tmp/sock", Listen => 5) or die "file: $!";
       my $s = IO::Select->new($u, $t, $f);
       while (my @r = $s->can_read) { for my $l (@r) { my $c = $l->accept or next; print $c "hello from ${z}\\n"; close $c } }`;
    for (const z of ["a", "b"]) {
      fs.writeFileSync(path.join(zroot(z), "tmp/server.pl"), server(z));
      root.ok("zlogin", [z, "nohup perl /tmp/server.pl >/tmp/server.log 2>&1 </dev/null &"]);
    }
    const client = (z: string, peer: string): { status: number; out: string } =>
      perl(z, `use IO::Socket::UNIX; use IO::Socket::INET; my $c = ${peer} or die "connect: $!\\n"; print scalar <$c>`);
    const abstract = `IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => "\\0zones-test")`;
    const tcp = `IO::Socket::INET->new(PeerAddr => "127.0.0.1:7777")`;
    for (let i = 0; i < 50 && client("b", tcp).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 50 && client("a", tcp).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    // Both bound the same name and port at once; each reaches its own.
    assert.equal(client("a", abstract).out, "hello from a");
    assert.equal(client("b", abstract).out, "hello from b");
    assert.equal(client("a", tcp).out, "hello from a");
    assert.equal(client("b", tcp).out, "hello from b");
    // The global zone's loopback and abstract namespace are its own too.
    assert.match(perl("global", `use IO::Socket::INET; my $c = ${tcp} or die "connect: $!\\n"`).out, /Connection refused/);
    assert.match(perl("global", `use IO::Socket::UNIX; my $c = ${abstract} or die "connect: $!\\n"`).out, /Connection refused/);
    // A socket file is reached from the global zone through the zone's root.
    const greeting = await new Promise<string>((resolve, reject) => {
      const s = net.createConnection(path.join(zroot("b"), "tmp/sock"));
      let d = "";
      s.on("data", (b) => (d += b.toString()));
      s.on("end", () => resolve(d));
      s.on("error", reject);
    });
    assert.equal(greeting, "hello from b\n");
  });
});
