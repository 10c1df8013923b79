/**
 * The security suite in a debian zone (systemd as its init, holding sys_admin for its
 * services' mounts): the probe set (probeset.ts) and the threat-model tests that apply
 * to a whole-root zone, all against one booted zone so that the suite grows by seconds.
 *
 * Where a test of the sparse suite does not apply here, and why:
 *   - nesting.test.ts's "with nesting" cases need a zone configured with nesting: they
 *     test the configuration, which no brand changes (seccomp and the namespace guard
 *     are the same construction: security.ts); the "without nesting" ones run here.
 *   - python3 (threads, vsock, the quota fillers) is the host's, shared into sparse
 *     zones; a debian zone has only its own perl-base, so those probes use perl.
 *   - hostile-tree.test.ts's minimal/sparse cases plant links on the host trees those
 *     brands bind into the zone; a debian zone binds none (its root is an overlay), and
 *     its hostile upper layer at uninstall is debian/install.test.ts's.
 *   - zonepath-faults, reserve and hostile-text test what the global zone does with
 *     zonepaths, the root's cgroup share and zone-controlled text: no brand hook takes
 *     part, so they stay on the quicker minimal and sparse zones.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureDebianImage, releaseTree } from "../../../src/platform/images.js";
import { Repository } from "../../../src/document/store/repository.js";
import { SlotRegistry } from "../../../src/platform/slots.js";
import { BIN, until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { probeTests } from "./probeset.js";

const root = new ZoneTestRoot("secdeb");
const Z = "deb";
const zp = path.join(root.dir, "zones", Z);
const host = path.join(root.dir, "host");
after(() => {
  root.run("zoneadm", ["-z", Z, "halt"]);
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(zp, "image.json"), "utf8")) as { tree: string; hold: string };
    releaseTree(rec.tree, rec.hold);
  } catch {
    // not installed: nothing held
  }
  root.remove();
});

const inZone = (line: string): { status: number; out: string } => {
  const r = root.run("zlogin", [Z, line]);
  return { status: r.status, out: (r.stdout + r.stderr).trim() };
};
/** Run shell lines in one zlogin (a zlogin each costs more than the probes): each line's status and output. */
function inZoneAll(lines: string[]): Array<{ status: number; out: string }> {
  const script = lines.map((l, i) => `( ${l} ) 2>&1; echo "@@${i} $?@@"`).join("\n");
  const text = root.ok("zlogin", [Z, script]);
  // Each line's output ends with its marker: the text between markers is the next line's.
  const outs = text.split(/@@\d+ \d+@@\n/);
  const codes = [...text.matchAll(/@@(\d+) (\d+)@@\n/g)];
  assert.deepEqual(codes.map((c) => Number(c[1])), lines.map((_, i) => i), `every line reported, in order: ${text}`);
  return codes.map((c, i) => ({ status: Number(c[2]), out: outs[i]!.trim() }));
}
const base = (): number => new SlotRegistry().find(new Repository(root.paths).find(Z)!.uuid)!.slot * 65536;

async function systemRunning(): Promise<void> {
  let last = "";
  await until(`${Z}: systemd running`, () => {
    last = root.run("zlogin", [Z, "systemctl is-system-running"]).stdout.trim();
    return last === "running" || last === "degraded";
  }, 30_000);
  assert.equal(last, "running", root.run("zlogin", [Z, "systemctl --failed --no-legend"]).stdout);
}

/** An ordinary zone user, not root (setpriv is util-linux's, in the image). */
const AS_USER = "setpriv --reuid=1000 --regid=1000 --clear-groups";
const REFUSED = /unshare failed: Operation not permitted/;
const FILL_QUEUES = `perl -e 'my $i = 0; for (1..8) { defined(msgget(0, 0600)) or do { print "$i made; $!\\n"; exit }; $i++ } print "$i made\\n"'`;
const cloneWith = (flags: number): string =>
  `perl -MPOSIX -e 'my $r = syscall(56, ${flags} | 17, 0, 0, 0, 0); if ($r == 0) { POSIX::_exit(0) } if ($r < 0) { print "$!\\n" } else { waitpid($r, 0); print "ok\\n" }'`;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
/** inotify_init (x86_64 253) until the kernel refuses: how many, and why. */
const INOTIFY_FILL = `perl -e '$| = 1; my $n = 0; while (syscall(253) >= 0) { $n++ } print "$n $!\\n"; <STDIN>'`;
const INOTIFY_ONE = `perl -e 'print syscall(253) >= 0 ? "ok\\n" : "$!\\n"'`;

describe("a debian zone's root cannot reach the kernel or the host", { concurrency: false }, () => {
  before(async () => {
    // In-process, with no command's timeout: the first run on a machine builds the image (minutes).
    ensureDebianImage({ stdio: "ignore" });
    root.ok("zonecfg", ["-z", Z, `create; set zonepath=${zp}; set brand=debian; set max-lwps=200; set max-msg-ids=4`]);
    root.ok("zoneadm", ["-z", Z, "install"]);
    root.ok("zoneadm", ["-z", Z, "boot"]);
    // The probes run against the system as its administrator finds it: started.
    await systemRunning();
  });
  after(() => {
    root.run("zoneadm", ["-z", Z, "halt"]);
    root.run("zoneadm", ["-z", Z, "uninstall", "-F"]);
  });

  probeTests(root, Z, true);

  test("nesting: without it, neither root nor a zone user makes a user or IPC namespace", () => {
    const lines: string[] = [];
    for (const who of ["", `${AS_USER} `]) {
      for (const flags of ["-Ur", "-Ui", "-U", "-i"]) lines.push(`${who}unshare ${flags} true`);
      lines.push(`${who}${cloneWith(CLONE_NEWUSER)}`, `${who}${cloneWith(CLONE_NEWIPC)}`);
    }
    const got = inZoneAll([...lines, cloneWith(0), `perl -e 'syscall(435, 0, 0); print "$!\\n"'`]);
    lines.forEach((l, i) => {
      if (l.includes("unshare")) {
        assert.notEqual(got[i]!.status, 0, l);
        assert.match(got[i]!.out, REFUSED, l);
      } else assert.equal(got[i]!.out, "Operation not permitted", l);
    });
    assert.equal(got[lines.length]!.out, "ok", "plain fork-style clone");
    assert.equal(got[lines.length + 1]!.out, "Function not implemented", "clone3");
    // AF_VSOCK (40): its ports are host-global.
    assert.equal(inZone(`perl -e 'socket(my $s, 40, 1, 0) or print "$!\\n"'`).out, "Address family not supported by protocol", "vsock");
  });

  test("nesting: the zone's IPC limit holds for every process, zipcs shows its queues", () => {
    const escape = inZone(`unshare -Uri ${FILL_QUEUES}`);
    assert.notEqual(escape.status, 0, escape.out);
    assert.match(escape.out, REFUSED);
    assert.equal(inZone(FILL_QUEUES).out, "4 made; No space left on device");
    assert.equal(root.ok("zipcs", ["-q", "-z", Z]).split("\n").filter((l) => /0x[0-9a-f]{8}/.test(l)).length, 4);
  });

  test("quotas: the zone's user namespace is its slot uid's; its inotify instances used up leave host root its own", async () => {
    const init = Number(fs.readFileSync(path.join(root.paths.runDir, "zone", Z, "init.pid"), "utf8"));
    const owner = Number(spawnSync("/usr/bin/python3", ["-c", `import array, fcntl, os\nb = array.array("I", [0])\nfcntl.ioctl(os.open("/proc/${init}/ns/user", os.O_RDONLY), 0xb704, b)\nprint(b[0])`], { encoding: "utf8" }).stdout.trim());
    assert.equal(owner, base(), "the zone's user namespace is owned by its slot's root");
    const holder = spawn(path.join(BIN, "zlogin"), [Z, INOTIFY_FILL], { env: root.env, stdio: ["pipe", "pipe", "inherit"] });
    const ended = new Promise((r) => holder.on("exit", r));
    try {
      const filled = await new Promise<string>((resolve, reject) => {
        let out = "";
        holder.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("\n")) resolve(out.trim());
        });
        holder.on("exit", (code) => reject(new Error(`the inotify holder in zone ${Z} ended (${code}) before filling: ${out}`)));
      });
      assert.match(filled, /^\d+ Too many open files$/);
      assert.equal(inZone(INOTIFY_ONE).out, "Too many open files", "the zone has none left");
      assert.equal(spawnSync("perl", ["-e", `print syscall(253) >= 0 ? "ok\\n" : "$!\\n"`], { encoding: "utf8" }).stdout, "ok\n", "host root has its own");
    } finally {
      holder.stdin.end();
      await ended;
    }
  });

  test("hostile tree: /etc/zonename made a link to a host file; the reboot writes a fresh file inside the zone", async () => {
    fs.mkdirSync(host, { mode: 0o755 });
    const victim = path.join(host, "victim");
    fs.writeFileSync(victim, "precious\n");
    const absent = path.join(host, "absent");
    for (const target of [victim, absent]) {
      root.ok("zlogin", [Z, `rm -f /etc/zonename && ln -s ${target} /etc/zonename`]);
      root.ok("zoneadm", ["-z", Z, "reboot"]);
      assert.equal(fs.readFileSync(victim, "utf8"), "precious\n", "the host file is unchanged");
      assert.ok(!fs.existsSync(absent), "no host file is created");
      // The zone's writes are in its own layer: the file is there, a regular one, the zone root's.
      const st = fs.lstatSync(path.join(zp, "upper/etc/zonename"));
      assert.ok(st.isFile(), "the link is replaced by a regular file");
      assert.equal(st.uid, base());
      assert.equal(root.ok("zlogin", [Z, "cat /etc/zonename; zonename"]), `${Z}\n${Z}\n`);
    }
    await systemRunning();
  });

  test("hostile tree: /proc, /sys, /dev or /run left a link to a host directory in the zone's layer: nothing reaches the host", () => {
    root.ok("zoneadm", ["-z", Z, "halt"]);
    const victim = path.join(host, "dir");
    fs.mkdirSync(victim, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(victim, "keep"), "host data\n");
    const upper = path.join(zp, "upper");
    const plant = (d: string): void => {
      fs.symlinkSync(victim, path.join(upper, d));
      fs.lchownSync(path.join(upper, d), base(), base());
    };
    const untouched = (d: string): void => {
      assert.deepEqual(fs.readdirSync(victim), ["keep"], `${d}: the host directory is unchanged`);
      assert.equal(fs.readFileSync("/proc/self/mountinfo", "utf8").includes(` ${host}`), false, `${d}: nothing mounted on the host directory`);
    };
    // The trees systemd's zone gets staged (systemd.ts) are checked before anything is mounted.
    for (const d of ["proc", "sys"]) {
      plant(d);
      const r = root.run("zoneadm", ["-z", Z, "boot"]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^zoneadm: zone '${Z}': mount point "/${d}" is a symbolic link in the zone; refusing to follow it$`, "m"));
      untouched(d);
      fs.unlinkSync(path.join(upper, d));
    }
    // /dev is the runtime's: it resolves the link inside the zone's root and fails there
    // (its message is runc's, not one line of ours: left to the platform).
    plant("dev");
    assert.equal(root.run("zoneadm", ["-z", Z, "boot"]).status, 1);
    untouched("dev");
    fs.unlinkSync(path.join(upper, "dev"));
    // /run: the runtime's tmpfs lands at the link's target inside the zone; the boot
    // succeeds (systemd, with a /run not where it looks, may end the zone soon after).
    plant("run");
    root.ok("zoneadm", ["-z", Z, "boot"]);
    untouched("run");
    root.run("zoneadm", ["-z", Z, "halt"]);
  });
});
