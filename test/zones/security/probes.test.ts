/**
 * The probes a zone's root must fail (shared/reference/linux-notes.md), run as root
 * inside a real zone, plus a fork bomb stopped by the zone's own task limit.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("probe");
after(() => root.remove());

/** Run a shell line in the zone; returns exit status and both outputs together. */
function inZone(line: string): { status: number; out: string } {
  const r = root.run("zlogin", ["web", line]);
  return { status: r.status, out: r.stdout + r.stderr };
}

/** A perl syscall() in the zone: prints the errno name it failed with, or "ok". */
function syscallErrno(nr: number, ...args: number[]): string {
  const call = `syscall(${[nr, ...args].join(", ")})`;
  return root.ok("zlogin", ["web", "perl", "-MErrno", "-e", `my $r = ${call}; print $r == -1 ? (grep { $!{$_} } keys %!)[0] : "ok"`]);
}

describe("a zone's root cannot reach the kernel or the host", { concurrency: false }, () => {
  before(() => {
    // ZONES_PROBE_BRAND=debian runs them in a whole-root Debian zone (systemd as its init).
    const brand = process.env.ZONES_PROBE_BRAND ?? "sparse";
    root.ok("zonecfg", ["-z", "web", `create; set zonepath=${path.join(root.dir, "zones/web")}; set brand=${brand}; set max-lwps=200`]);
    root.ok("zoneadm", ["-z", "web", "install"]);
    // ZONES_PROBE_INIT=/lib/systemd/systemd runs the probes against a systemd zone (sys_admin, locked masks).
    const init = process.env.ZONES_PROBE_INIT;
    root.ok("zoneadm", ["-z", "web", "boot", ...(init ? ["--", "-i", init] : [])]);
  });
  after(() => {
    root.run("zoneadm", ["-z", "web", "halt"]);
    root.run("zoneadm", ["-z", "web", "uninstall", "-F"]);
  });

  test("kernel tunables, sysrq and sysfs are read-only", () => {
    for (const f of ["/proc/sys/kernel/hostname", "/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger", "/sys/kernel/mm/transparent_hugepage/enabled"]) {
      const r = inZone(`echo x > ${f}`);
      assert.notEqual(r.status, 0, f);
      // sysrq-trigger is absent on kernels built without magic sysrq.
      assert.match(r.out, /Read-only file system|Permission denied|No such file or directory/, f);
    }
  });

  test("kcore, keys and timer_list are masked; /sys/firmware is empty", () => {
    // /proc/kcore is absent on kernels built without it; where present it reads empty.
    assert.equal(inZone("[ -e /proc/kcore ] && cat /proc/kcore | wc -c || echo 0").out.trim(), "0");
    assert.equal(inZone("cat /proc/keys | wc -c").out.trim(), "0");
    assert.equal(inZone("cat /proc/timer_list | wc -c").out.trim(), "0");
    assert.equal(inZone("ls -A /sys/firmware | wc -l").out.trim(), "0");
  });

  test("mounting proc, cgroup, tmpfs or a disk, unmounting masks, and making block devices, are refused", () => {
    // A systemd zone holds sys_admin for its services' mounts: tmpfs, and the v1 cgroups
    // the cgroup namespace shows (its own group, whose files stay the host's), are its to
    // mount there; procfs, the masks and devices stay refused (masks.ts).
    const sysAdmin = process.env.ZONES_PROBE_INIT !== undefined || process.env.ZONES_PROBE_BRAND === "debian";
    for (const line of [
      "mkdir -p /tmp/m && mount -t proc proc /tmp/m",
      ...(sysAdmin ? [] : ["mkdir -p /tmp/c && mount -t cgroup -o pids none /tmp/c", "mkdir -p /tmp/t && mount -t tmpfs none /tmp/t"]),
      "umount /proc/timer_list && test -s /proc/timer_list",
      "mknod /tmp/sda b 8 0",
      "ls /dev/mem /dev/sda /dev/vda",
    ]) {
      const r = inZone(line);
      assert.notEqual(r.status, 0, line);
    }
  });

  test("clock, swap, kexec, bpf, perf, userfaultfd, keyctl and open_by_handle_at fail with EPERM", () => {
    // x86_64 syscall numbers.
    const calls: Array<[string, number, number[]]> = [
      ["settimeofday", 164, [0, 0]],
      ["swapon", 167, [0, 0]],
      ["kexec_load", 246, [0, 0, 0, 0]],
      ["bpf", 321, [0, 0, 0]],
      ["perf_event_open", 298, [0, 0, 0, -1, 0]],
      ["userfaultfd", 323, [0]],
      ["keyctl", 250, [0, 0]],
      ["open_by_handle_at", 304, [0, 0, 0]],
      ["init_module", 175, [0, 0, 0]],
    ];
    for (const [name, nr, args] of calls) assert.equal(syscallErrno(nr, ...args), "EPERM", name);
  });

  test("the zone's init holds no descriptor beyond stdio", () => {
    if (process.env.ZONES_PROBE_INIT !== undefined || process.env.ZONES_PROBE_BRAND === "debian") {
      // systemd opens its own (journal, sockets, inotify): none of them may name a host path.
      const links = inZone("for f in /proc/1/fd/*; do readlink $f; done").out.trim().split("\n");
      assert.deepEqual(links.filter((l) => l.startsWith("/") && !/^\/(dev|run|proc|sys|var|etc|usr|tmp)\//.test(l)), []);
      return;
    }
    const fds = inZone("ls /proc/1/fd").out.trim().split(/\s+/).sort();
    assert.deepEqual(fds, ["0", "1", "2"]);
  });

  test("a fork bomb stops at the zone's task limit and the zone lives on", () => {
    // busybox sh, because bash retries a failed fork for seconds.
    // A debian zone has no busybox: its dash fails the same way.
    const r = inZone("$(command -v busybox >/dev/null && echo busybox) sh -c 'for i in $(seq 300); do sleep 3 & done' 2>&1");
    assert.match(r.out, /can't fork: Resource temporarily unavailable|Cannot fork/);
    // While the zone is full even zlogin cannot start a process in it; once the
    // sleepers end, it can.
    const end = Date.now() + 20_000;
    let alive = inZone("echo alive");
    while (alive.out !== "alive\n" && Date.now() < end) alive = inZone("echo alive");
    assert.equal(alive.out, "alive\n");
  });
});
