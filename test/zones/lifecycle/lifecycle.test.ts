/**
 * Real zones on the kernel: install, boot, zlogin, isolation, init death, daemon
 * restart, halt and uninstall, with the traces each step must (not) leave.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { mountsBelow } from "../../../src/platform/idmap.js";
import { Repository } from "../../../src/document/store/repository.js";
import { readRun } from "../../../src/document/store/runstate.js";
import { SlotRegistry } from "../../../src/platform/slots.js";
import { BIN, until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("life");
after(() => root.remove());
const zp = (n: string): string => path.join(root.dir, "zones", n);
const repo = (): Repository => new Repository(root.paths);
const state = (n: string): string => repo().find(n)?.state ?? "absent";

describe("zone lifecycle", { concurrency: false }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "web", `create; set zonepath=${zp("web")}`]);
    root.ok("zonecfg", ["-z", "mini", `create; set zonepath=${zp("mini")}; set brand=minimal`]);
  });

  test("install makes a tree owned by the zone's uid slot", () => {
    root.ok("zoneadm", ["-z", "web", "install"]);
    root.ok("zoneadm", ["-z", "mini", "install"]);
    assert.equal(state("web"), "installed");
    const slots = new SlotRegistry();
    const web = slots.find(repo().find("web")!.uuid)!;
    const mini = slots.find(repo().find("mini")!.uuid)!;
    assert.ok(web.slot >= 1 && mini.slot >= 1 && web.slot !== mini.slot);
    const st = fs.statSync(path.join(zp("web"), "root/etc/passwd"));
    assert.equal(st.uid, web.slot * 65536, "zone root's files belong to the zone's root on the host");
    assert.equal(fs.statSync(zp("web")).mode & 0o777, 0o750);
    assert.equal(fs.statSync(zp("web")).gid, web.slot * 65536);
    assert.equal(fs.readlinkSync(path.join(zp("mini"), "root/sbin")), "bin");
    assert.deepEqual(fs.readdirSync(path.join(zp("mini"), "root/bin")), [], "/bin is where the host's shared busybox tree is mounted");
  });

  test("boot runs init; list shows the zone ID; zonename inside names the zone", () => {
    const boot = root.run("zoneadm", ["-z", "web", "boot"]);
    assert.equal(boot.status, 0, boot.stderr);
    const rt = root.ok("zoneadm", ["runtime"]);
    assert.match(rt, /^(runc|crun) \d+\.\d+/);
    if (rt.includes("warning")) assert.match(boot.stderr, /^zoneadm: warning: .*predates/m, "boot repeats the runtime warning");
    assert.equal(state("web"), "running");
    root.ok("zoneadm", ["-z", "mini", "ready"]);
    assert.equal(state("mini"), "ready");
    root.ok("zoneadm", ["-z", "mini", "boot"]);
    const v = root.ok("zoneadm", ["list", "-v"]);
    assert.match(v, /^ +1 web +running /m);
    assert.match(v, /^ +2 mini +running /m);
    assert.equal(root.ok("zlogin", ["mini", "cat /etc/zonename"]), "mini\n");
  });

  test("zlogin: zone root, shell command lines, exact arguments, stdin, exit status", () => {
    assert.equal(root.ok("zlogin", ["web", "id", "-u"]), "0\n");
    assert.equal(root.ok("zlogin", ["web", "cd /etc; pwd"]), "/etc\n");
    assert.equal(root.ok("zlogin", ["web", "printf", "%s|", "a b", '"c"', "$HOME", "*"]), 'a b|"c"|$HOME|*|');
    assert.equal(root.ok("zlogin", ["web", "cat"], "through stdin\n"), "through stdin\n");
    assert.equal(root.ok("zlogin", ["-n", "web", "cat"], "ignored\n"), "");
    assert.equal(root.run("zlogin", ["web", "exit 7"]).status, 7);
    assert.equal(root.ok("zlogin", ["-l", "nobody", "web", "id", "-u"]), "65534\n");
    const r = root.run("zlogin", ["-l", "nosuchuser", "web", "true"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no user "nosuchuser" in the zone/);
    const stopped = root.run("zlogin", ["nosuch", "true"]);
    assert.equal(stopped.status, 1);
    // zonename(1) inside a sparse zone is the host's, shared through /usr (scripts/install.sh).
    assert.equal(root.ok("zlogin", ["web", "zonename"]), "web\n");
  });

  test("zlogin passes SIGTERM to the command in the zone and returns its status", async () => {
    const child = spawn(path.join(BIN, "zlogin"), ["web", "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.1; done"], { env: root.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await until("the command to start", () => out.includes("ready"));
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    assert.equal(code, 42);
    assert.match(out, /got TERM/);
  });

  test("the shared /usr appears root-owned inside; set-uid programs keep their bit", () => {
    const ls = root.ok("zlogin", ["web", "ls -ln /usr/bin/passwd"]);
    assert.match(ls, /^-rwsr-xr-x +\d+ 0 0 /);
    // Zone root administers its own users; set-uid passwd reads the zone's shadow for alice.
    root.ok("zlogin", ["web", "useradd -m alice && echo alice:secret | chpasswd && chown alice /home/alice"]);
    assert.equal(root.ok("zlogin", ["web", "su alice -c 'id -un'"]), "alice\n");
    assert.match(root.ok("zlogin", ["-l", "alice", "web", "passwd -S"]), /^alice P /);
    assert.match(root.run("zlogin", ["-l", "alice", "web", "cat /etc/shadow"]).stderr, /Permission denied/);
    assert.match(root.run("zlogin", ["web", "touch /usr/x"]).stderr, /Read-only file system/);
  });

  test("ps in a zone sees only the zone; its init is pid 1; host pids are out of reach", () => {
    const ps = root.ok("zlogin", ["web", "ps -e -o pid=,comm="]).trim().split("\n").map((l) => l.trim().split(/\s+/));
    assert.equal(ps[0]![0], "1");
    assert.ok(ps.length <= 4, `only the zone's processes: ${JSON.stringify(ps)}`);
    const kill = root.run("zlogin", ["web", `kill -0 ${process.pid}`]);
    assert.notEqual(kill.status, 0);
    assert.match(kill.stderr, /No such process/);
  });

  test("from the global zone, zps lists every process with its zone, and root can signal them", () => {
    const init = readRun(root.paths, "web")!.pid;
    const rows = root.ok("zps", []).split("\n");
    assert.match(rows[0]!, /^ +ZONE +UID +PID +PPID CMD$/);
    assert.ok(rows.some((r) => new RegExp(`^ +web +0 +${init} +\\d+ /bin/busybox init$`).test(r)), "web's init, as zone uid 0");
    assert.ok(rows.some((r) => /^ +mini +0 +\d+ +\d+ init$/.test(r)), "busybox init names itself init");
    assert.ok(rows.some((r) => new RegExp(`^ +global +0 +${process.pid} `).test(r)));
    assert.ok(root.ok("zps", ["-z", "web"]).trim().split("\n").slice(1).every((r) => r.trimStart().startsWith("web ")));
    root.ok("zlogin", ["web", "sleep 600 >/dev/null 2>&1 &"]);
    const sleeper = root.ok("zps", ["-z", "web"]).split("\n").find((r) => r.endsWith("sleep 600"))!.trim().split(/\s+/)[2]!;
    process.kill(Number(sleeper), "SIGKILL");
    assert.doesNotMatch(root.ok("zlogin", ["web", "ps -e -o comm="]), /sleep/);
  });

  test("a zone's root runs with the safe bounding set and seccomp", () => {
    const status = root.ok("zlogin", ["web", "cat /proc/self/status"]);
    assert.match(status, /^Seccomp:\t2$/m);
    assert.match(status, /^NoNewPrivs:\t0$/m);
    const bnd = BigInt("0x" + /^CapBnd:\t([0-9a-f]+)$/m.exec(status)![1]);
    for (const [name, bit] of [["sys_module", 16], ["sys_rawio", 17], ["sys_time", 25], ["dac_read_search", 2], ["syslog", 34], ["perfmon", 38], ["bpf", 39]] as const)
      assert.equal((bnd >> BigInt(bit)) & 1n, 0n, `${name} must not be in the bounding set`);
    assert.equal((bnd >> 22n) & 1n, 1n, "sys_boot stays: reboot inside the zone ends only the zone");
    assert.notEqual(root.run("zlogin", ["web", "echo 1 > /proc/sys/kernel/panic"]).status, 0);
    assert.equal(root.ok("zlogin", ["web", "cat /proc/kcore | wc -c"]).trim(), "0");
  });

  test("a double-chroot escape by zone root stays inside the zone's tree", () => {
    const script = 'mkdir "/tmp/jail" or 1; chroot "/tmp/jail" or die "chroot: $!"; chdir ".." for 1..64; chroot "." or die "chroot2: $!"; opendir(D, "/") or die; print join(" ", sort grep { !/^\\./ } readdir D), "\\n"';
    const seen = root.ok("zlogin", ["web", "perl", "-e", script]).trim().split(" ");
    const zoneRoot = fs.readdirSync(path.join(zp("web"), "root")).sort();
    assert.deepEqual(seen, zoneRoot);
  });

  test("kill -9 -1 by zone root ends only its zone's processes, not the host uid it maps to", async () => {
    const base = new SlotRegistry().find(repo().find("mini")!.uuid)!.slot * 65536;
    const bystander = spawn("setpriv", [`--reuid=${base}`, `--regid=${base}`, "--clear-groups", "sleep", "60"], { stdio: "ignore" });
    try {
      await until("bystander", () => bystander.pid !== undefined && fs.existsSync(`/proc/${bystander.pid}`));
      root.ok("zlogin", ["mini", "sleep 600 >/dev/null 2>&1 &"]);
      assert.match(root.ok("zlogin", ["mini", "ps"]), /sleep 600/);
      root.run("zlogin", ["mini", "kill -9 -1"]);
      assert.doesNotMatch(root.ok("zlogin", ["mini", "ps"]), /sleep 600/, "the zone's processes are gone");
      assert.ok(fs.existsSync(`/proc/${bystander.pid}`), "a host process under the zone root's host uid survives");
      assert.equal(state("web"), "running", "another zone survives");
      assert.equal(root.ok("zlogin", ["web", "echo alive"]), "alive\n");
    } finally {
      bystander.kill("SIGKILL");
    }
  });

  test("boot -- -i names another init; zones boot concurrently with distinct IDs", async () => {
    root.ok("zoneadm", ["-z", "mini", "halt"]);
    root.ok("zoneadm", ["-z", "web", "halt"]);
    const initScript = path.join(zp("mini"), "root/root/myinit");
    fs.writeFileSync(initScript, "#!/bin/sh\nexec sleep 1000\n", { mode: 0o755 });
    const base = new SlotRegistry().find(repo().find("mini")!.uuid)!.slot * 65536;
    fs.chownSync(initScript, base, base);
    const both = await Promise.all(
      [["-z", "mini", "boot", "--", "-i", "/root/myinit"], ["-z", "web", "boot"]].map(
        (args) => new Promise<number>((resolve) => spawn(path.join(BIN, "zoneadm"), args, { env: root.env, stdio: "ignore" }).on("exit", (c) => resolve(c ?? -1))),
      ),
    );
    assert.deepEqual(both, [0, 0]);
    assert.deepEqual([readRun(root.paths, "mini")!.id, readRun(root.paths, "web")!.id].sort(), [1, 2]);
    assert.match(root.ok("zps", ["-z", "mini"]), / sleep 1000$/m);
    fs.rmSync(initScript);
  });

  test("when a zone's init dies the zone is halted and the reason logged", async () => {
    const init = readRun(root.paths, "mini")!.pid;
    process.kill(init, "SIGKILL");
    await until("mini halted", () => state("mini") === "installed");
    assert.equal(readRun(root.paths, "mini"), undefined);
    assert.match(fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8"), /zone 'mini': halting: its init (ended on signal 9|is gone)/);
  });

  test("zoneadmd killed with SIGKILL: zones run on, and a new daemon takes over", async () => {
    const pid = root.daemonPid()!;
    const init = readRun(root.paths, "web")!.pid;
    process.kill(pid, "SIGKILL");
    await until("daemon gone", () => !fs.existsSync(`/proc/${pid}/stat`) || fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"));
    assert.ok(fs.existsSync(`/proc/${init}`), "the zone's init outlives the daemon");
    assert.equal(root.ok("zlogin", ["web", "echo still"]), "still\n");
    root.ok("zoneadm", ["-z", "mini", "boot"]);
    assert.notEqual(root.daemonPid(), pid, "a new daemon was started on demand");
    assert.equal(readRun(root.paths, "web")!.pid, init);
    root.ok("zoneadm", ["-z", "mini", "reboot"]);
    assert.equal(state("mini"), "running");
  });

  test("halt leaves no process, mount, container, cgroup or run state behind", async () => {
    const init = readRun(root.paths, "web")!.pid;
    root.ok("zoneadm", ["-z", "web", "halt"]);
    root.ok("zoneadm", ["-z", "mini", "halt"]);
    assert.equal(state("web"), "installed");
    assert.ok(!fs.existsSync(`/proc/${init}/status`) || fs.readFileSync(`/proc/${init}/status`, "utf8").includes("zombie"));
    assert.deepEqual(mountsBelow(root.dir), []);
    assert.deepEqual(root.containers(), []);
    assert.deepEqual(root.cgroups(), []);
    assert.equal(readRun(root.paths, "web"), undefined);
    assert.match(root.ok("zoneadm", ["list", "-iv"]), /^ +- web +installed /m);
  });

  test("a failed install leaves the zone incomplete; uninstall -F clears it", () => {
    fs.writeFileSync(path.join(root.dir, "zones", "blocker"), "a file where a directory should be");
    root.ok("zonecfg", ["-z", "broken", `create; set zonepath=${zp("blocker")}/broken`]);
    const r = root.run("zoneadm", ["-z", "broken", "install"]);
    assert.equal(r.status, 1);
    assert.equal(state("broken"), "incomplete");
    assert.match(root.run("zoneadm", ["-z", "broken", "boot"]).stderr, /uninstall required/);
    root.ok("zoneadm", ["-z", "broken", "uninstall", "-F"]);
    assert.equal(state("broken"), "configured");
  });

  test("uninstall removes the zone's files and gives its uid slot back", () => {
    const uuid = repo().find("web")!.uuid;
    assert.equal(root.run("zoneadm", ["-z", "web", "uninstall"]).status, 2, "uninstall needs -F");
    root.ok("zoneadm", ["-z", "web", "uninstall", "-F"]);
    root.ok("zoneadm", ["-z", "mini", "uninstall", "-F"]);
    assert.equal(state("web"), "configured");
    assert.ok(!fs.existsSync(path.join(zp("web"), "root")));
    assert.equal(new SlotRegistry().find(uuid), undefined);
  });
});
