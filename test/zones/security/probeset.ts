/**
 * The probes a zone's root must fail (shared/reference/linux-notes.md), run as root in a
 * booted zone, plus a fork bomb stopped by the zone's own task limit (the zone needs
 * max-lwps=200). probes.test.ts runs them in a sparse zone, debian.test.ts in a debian
 * one (systemd as its init): `systemd` names where such a zone differs, and why.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ZoneTestRoot } from "../../support/zones.js";

export function probeTests(root: ZoneTestRoot, zone: string, systemd: boolean): void {
  /** Run a shell line in the zone; returns exit status and both outputs together. */
  const inZone = (line: string): { status: number; out: string } => {
    const r = root.run("zlogin", [zone, line]);
    return { status: r.status, out: r.stdout + r.stderr };
  };

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
    for (const line of [
      "mkdir -p /tmp/m && mount -t proc proc /tmp/m",
      ...(systemd ? [] : ["mkdir -p /tmp/c && mount -t cgroup -o pids none /tmp/c", "mkdir -p /tmp/t && mount -t tmpfs none /tmp/t"]),
      "umount /proc/timer_list && test -s /proc/timer_list",
      "mknod /tmp/sda b 8 0",
      "ls /dev/mem /dev/sda /dev/vda",
    ]) {
      const r = inZone(line);
      assert.notEqual(r.status, 0, line);
    }
  });

  test("clock, swap, kexec, bpf, perf, userfaultfd, keyctl and open_by_handle_at fail with EPERM", () => {
    // x86_64 syscall numbers; one perl for all of them (a zlogin each costs more than the probes).
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
    const script = calls.map(([name, nr, args]) => `{ my $r = syscall(${[nr, ...args].join(", ")}); print "${name} ", ($r == -1 ? (grep { $!{$_} } keys %!)[0] : "ok"), "\\n" }`).join(" ");
    const got = root.ok("zlogin", [zone, "perl", "-MErrno", "-e", script]);
    assert.equal(got, calls.map(([name]) => `${name} EPERM\n`).join(""));
  });

  test("the zone's init holds no descriptor beyond stdio", () => {
    if (systemd) {
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
}
