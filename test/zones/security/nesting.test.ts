/**
 * Zones do not nest their way past their limits: no zone process makes a new IPC
 * namespace (its fresh IPC limits would escape the zone's, and zipcs would not see its
 * objects), and only a zone configured with `nesting` makes user namespaces. Also:
 * vsock sockets, whose ports are host-global, are refused in zones. Real programs
 * (util-linux unshare, perl, python3 from the host's shared /usr) in real zones.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("nest");
after(() => root.remove());
const zp = (n: string): string => path.join(root.dir, "zones", n);

/** Run a shell line in a zone: exit status and both outputs together. */
function inZone(zone: string, line: string): { status: number; out: string } {
  const r = root.run("zlogin", [zone, line]);
  return { status: r.status, out: (r.stdout + r.stderr).trim() };
}

/** An ordinary zone user, not root: the prefix that runs a command as uid/gid 1000. */
const AS_USER = "setpriv --reuid=1000 --regid=1000 --clear-groups";
/** Make message queues with IPC_PRIVATE until one fails; how many, and why it stopped. */
const FILL_QUEUES = `perl -e 'my $i = 0; for (1..8) { defined(msgget(0, 0600)) or do { print "$i made; $!\\n"; exit }; $i++ } print "$i made\\n"'`;
/** clone(flags | SIGCHLD) as fork does it; the child exits at once. Prints "ok" or the error. */
const cloneWith = (flags: number): string =>
  `perl -MPOSIX -e 'my $r = syscall(56, ${flags} | 17, 0, 0, 0, 0); if ($r == 0) { POSIX::_exit(0) } if ($r < 0) { print "$!\\n" } else { waitpid($r, 0); print "ok\\n" }'`;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const REFUSED = /unshare failed: Operation not permitted/;

/** Message queues of a zone as zipcs shows them: the lines of its queue table. */
function queues(args: string[]): string[] {
  return root.ok("zipcs", ["-q", ...args]).split("\n").filter((l) => /0x[0-9a-f]{8}/.test(l));
}

describe("zones cannot nest past their limits", { concurrency: false, timeout: 240_000 }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "plain", `create; set zonepath=${zp("plain")}; set max-msg-ids=4`]);
    root.ok("zonecfg", ["-z", "nest", `create; set zonepath=${zp("nest")}; set max-msg-ids=4; set nesting=true`]);
    for (const z of ["plain", "nest"]) {
      root.ok("zoneadm", ["-z", z, "install"]);
      // ZONES_PROBE_INIT=/lib/systemd/systemd: the same tests in systemd zones (see probes.test.ts).
      const init = process.env.ZONES_PROBE_INIT;
      root.ok("zoneadm", ["-z", z, "boot", ...(init ? ["--", "-i", init] : [])]);
    }
  });
  after(() => {
    for (const z of ["plain", "nest"]) {
      root.run("zoneadm", ["-z", z, "halt"]);
      root.run("zoneadm", ["-z", z, "uninstall", "-F"]);
    }
  });

  test("without nesting, neither root nor a zone user makes a user or IPC namespace", () => {
    for (const who of ["", `${AS_USER} `]) {
      for (const flags of ["-Ur", "-Ui", "-U", "-i"]) {
        const r = inZone("plain", `${who}unshare ${flags} true`);
        assert.notEqual(r.status, 0, `${who}unshare ${flags}`);
        assert.match(r.out, REFUSED, `${who}unshare ${flags}`);
      }
      assert.equal(inZone("plain", `${who}${cloneWith(CLONE_NEWUSER)}`).out, "Operation not permitted", `${who}clone(CLONE_NEWUSER)`);
      assert.equal(inZone("plain", `${who}${cloneWith(CLONE_NEWIPC)}`).out, "Operation not permitted", `${who}clone(CLONE_NEWIPC)`);
    }
    assert.equal(inZone("plain", cloneWith(0)).out, "ok", "plain fork-style clone");
  });

  test("the zone's IPC limit holds for every process: no fresh IPC namespace, msgget past max-msg-ids fails", () => {
    const escape = inZone("plain", `unshare -Uri ${FILL_QUEUES}`);
    assert.notEqual(escape.status, 0, escape.out);
    assert.match(escape.out, REFUSED);
    assert.equal(inZone("plain", FILL_QUEUES).out, "4 made; No space left on device");
    assert.equal(queues(["-z", "plain"]).length, 4);
  });

  test("with nesting, a zone user namespace works, but new IPC namespaces stay refused", () => {
    assert.equal(inZone("nest", "unshare -Ur id -u").out, "0");
    assert.equal(inZone("nest", `${AS_USER} unshare -Ur id -u`).out, "0", "an ordinary zone user too");
    for (const line of ["unshare -Ui true", "unshare -i true", "unshare -Ur unshare -i true", `${AS_USER} unshare -Ui true`]) {
      const r = inZone("nest", line);
      assert.notEqual(r.status, 0, line);
      assert.match(r.out, REFUSED, line);
    }
    assert.equal(inZone("nest", cloneWith(CLONE_NEWUSER)).out, "ok");
    assert.equal(inZone("nest", cloneWith(CLONE_NEWIPC | CLONE_NEWUSER)).out, "Operation not permitted");
  });

  test("with nesting, queues made in a nested user namespace count against the zone's limit and zipcs shows them", () => {
    // A nested container asking for its own IPC namespace, with fresh limits, is refused.
    const escape = inZone("nest", `unshare -Ur unshare -i ${FILL_QUEUES}`);
    assert.notEqual(escape.status, 0, escape.out);
    assert.match(escape.out, REFUSED);
    assert.equal(inZone("nest", `unshare -Ur ${FILL_QUEUES}`).out, "4 made; No space left on device");
    assert.equal(inZone("nest", FILL_QUEUES).out, "0 made; No space left on device", "the zone itself has none left");
    assert.equal(queues(["-z", "nest"]).length, 4);
    assert.equal(queues(["-Z"]).filter((l) => l.startsWith("nest ")).length, 4, "zipcs -Z names the zone of each");
  });

  test("threads and child processes work: clone3 is refused with ENOSYS and glibc falls back to clone", () => {
    const threads = `python3 -c 'import threading; r = []; ts = [threading.Thread(target=r.append, args=(i,)) for i in range(8)]; [t.start() for t in ts]; [t.join() for t in ts]; print(len(r))'`;
    for (const z of ["plain", "nest"]) {
      assert.equal(inZone(z, threads).out, "8", z);
      assert.equal(inZone(z, `perl -e 'syscall(435, 0, 0); print "$!\\n"'`).out, "Function not implemented", `${z}: clone3`);
      assert.equal(inZone(z, "sh -c 'sleep 0 & wait $!; echo $?'").out, "0", z);
    }
  });

  test("vsock sockets are refused in a zone; the host still makes them", () => {
    const vsock = `import socket
try:
    socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM).close(); print("ok")
except OSError as e:
    print(e.strerror)`;
    for (const z of ["plain", "nest"]) assert.equal(root.run("zlogin", [z, "python3", "-c", vsock]).stdout.trim(), "Address family not supported by protocol", z);
    assert.equal(spawnSync("/usr/bin/python3", ["-c", vsock], { encoding: "utf8" }).stdout.trim(), "ok");
  });
});
