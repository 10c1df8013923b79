/**
 * systemd as a zone's init, on a sparse zone (the host's /usr has systemd and its
 * units): it reaches `running` with journald, its boot shows on the console, and its
 * root holds sys_admin for its services' sandboxing; yet the masks of /proc and /sys,
 * built from the host and locked by the kernel (src/platform/masks.ts), hold against
 * that root as an attacker would try them. Shutdown powers systemd off cleanly;
 * poweroff inside ends only the zone.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { consoleLogFile, runFile } from "../../../src/document/store/runstate.js";
import { until } from "../../support/helpers.js";
import { hybridUnified, UNIFIED_HIERARCHY } from "../../../src/platform/systemd.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("systemd");
after(() => root.remove());

function inZone(line: string): { status: number; out: string } {
  const r = root.run("zlogin", ["sd", line]);
  return { status: r.status, out: r.stdout + r.stderr };
}

/** The zone's console as zoneadmd records it (what zlogin -C replays). */
function consoleLog(): string {
  try {
    return fs.readFileSync(consoleLogFile(root.paths, "sd"), "latin1");
  } catch {
    return "";
  }
}

function state(): string {
  return root.ok("zoneadm", ["list", "-cp"]).split("\n").find((l) => l.split(":")[1] === "sd")?.split(":")[2] ?? "";
}

/** Boot with systemd and wait for it to finish starting its units. */
async function bootSystemd(): Promise<string> {
  root.ok("zoneadm", ["-z", "sd", "boot"]);
  return running();
}

/** Wait for systemd to finish starting its units (running or degraded). */
async function running(): Promise<string> {
  let s = "";
  await until("systemd to finish booting", () => {
    s = inZone("systemctl is-system-running").out.trim();
    return s === "running" || s === "degraded";
  });
  return s;
}

describe("systemd as a zone's init", { concurrency: false }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "sd", `create; set zonepath=${path.join(root.dir, "zones/sd")}; set brand=sparse; set bootargs="-i /lib/systemd/systemd"`]);
    root.ok("zoneadm", ["-z", "sd", "install"]);
  });
  after(() => {
    root.run("zoneadm", ["-z", "sd", "halt"]);
    root.run("zoneadm", ["-z", "sd", "uninstall", "-F"]);
  });

  test("a link the zone left at /proc or /sys is refused, not followed by the stage", () => {
    const tree = path.join(root.dir, "zones/sd/root");
    const base = fs.statSync(path.join(tree, "etc")).uid;
    for (const dir of ["proc", "sys"]) {
      fs.renameSync(path.join(tree, dir), path.join(tree, `${dir}.real`));
      fs.symlinkSync("/etc", path.join(tree, dir));
      fs.lchownSync(path.join(tree, dir), base, base);
      try {
        const r = root.run("zoneadm", ["-z", "sd", "boot"]);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, new RegExp(`mount point "/${dir}" is a symbolic link in the zone; refusing to follow it`));
        assert.equal(state(), "installed");
        assert.ok(!fs.readFileSync("/proc/self/mountinfo", "utf8").includes(tree), "nothing stays mounted");
      } finally {
        fs.unlinkSync(path.join(tree, dir));
        fs.renameSync(path.join(tree, `${dir}.real`), path.join(tree, dir));
      }
    }
  });

  test("boots to running, journald runs, the console shows the boot", async () => {
    const s = await bootSystemd();
    assert.equal(s, "running", inZone("systemctl --failed --no-pager").out);
    assert.equal(inZone("systemctl is-active systemd-journald").out.trim(), "active");
    assert.match(inZone("journalctl -b --no-pager").out, /Startup finished/);
    // Every boot: systemd keeps no console descriptor open, the holder does (consolePeer).
    await until("systemd's boot messages on the console", () => /Welcome to .*Debian/.test(consoleLog()) && /Started .*Journal Service/.test(consoleLog()));
  });

  test("on a hybrid host systemd gets the zone's unified group too, and tracks its units there", { skip: !hybridUnified() && "the host is not hybrid" }, () => {
    // Without it systemd runs in legacy mode and never hears that a unit's group emptied.
    assert.equal(inZone("stat -fc %T /sys/fs/cgroup/unified").out.trim(), "cgroup2fs");
    assert.match(inZone("grep '^0::' /proc/1/cgroup").out, /^0::\/init\.scope$/m);
    // The zone's own group is the root it sees; the host's groups above it are not reachable.
    const host = fs.readdirSync(UNIFIED_HIERARCHY).filter((f) => f.startsWith("zones"));
    assert.doesNotMatch(inZone("ls /sys/fs/cgroup/unified").out, new RegExp(`^(${host.join("|")})$`, "m"));
  });

  test("a service's PrivateTmp and ProtectSystem work (sys_admin in the zone)", () => {
    const r = inZone("systemd-run --wait --quiet -p PrivateTmp=yes -p ProtectSystem=strict sh -c 'touch /tmp/x && ! touch /usr/x'");
    assert.equal(r.status, 0, r.out);
    assert.match(inZone("grep CapEff /proc/self/status").out, /CapEff:\s+[0-9a-f]*[2367abef][0-9a-f]{5}\n/); // bit 21: sys_admin
  });

  test("the zone's root cannot lift the masks of /proc and /sys", () => {
    // Each attack prints LEAK if it got anything past the masks.
    const attacks = [
      "umount /proc/keys; umount -l /proc/timer_list; umount -l /proc/acpi; umount -l /sys/firmware",
      "test -s /proc/keys && echo LEAK keys; test -s /proc/timer_list && echo LEAK timer_list",
      "test -n \"$(ls /proc/acpi)\" && echo LEAK acpi; test -n \"$(ls /sys/firmware)\" && echo LEAK firmware",
      "mkdir -p /mnt/p /mnt/s /mnt/b",
      "mount -t proc proc /mnt/p && echo LEAK procfs",
      "mount -t sysfs sysfs /mnt/s && echo LEAK sysfs",
      "mount --bind /proc /mnt/b && echo LEAK bind-proc",
      "mount -o remount,bind,rw /proc/sys && echo LEAK proc-sys-rw",
      "mount -o remount,rw /sys && echo LEAK sys-rw",
      "mount --rbind /proc/sys /mnt/b && mount -o remount,bind,rw /mnt/b && echo LEAK rbind-rw",
      "echo x > /proc/sys/kernel/core_pattern && echo LEAK core_pattern",
      // The host's /usr, shared read-only into a sparse zone, stays read-only and nodev.
      "mount -o remount,bind,rw /usr && echo LEAK usr-rw; mount -o remount,bind,dev /usr && echo LEAK usr-dev",
      "umount -l /usr; touch /usr/.x && echo LEAK usr-write",
      "unshare -m sh -c 'umount /proc/keys; umount -l /proc/acpi; test -s /proc/keys && echo LEAK unshare-keys; mount -t proc proc /mnt/p && echo LEAK unshare-procfs; mount -o remount,bind,rw /proc/sys && echo LEAK unshare-rw'",
      // The whole /proc may go (its top is the zone's to unmount): only the empty stage is left.
      "unshare -m sh -c 'umount -l /proc; ls /proc | grep . && echo LEAK stage; mount -t proc proc /proc && echo LEAK after-umount'",
    ];
    const r = inZone(attacks.join("\n"));
    assert.doesNotMatch(r.out, /LEAK/, r.out);
    // Sanity: the attacker had the capability, and the masks are there to attack.
    assert.match(inZone("grep -c ' /proc/keys \\| /sys/firmware ' /proc/self/mountinfo").out.trim(), /^2$/);
  });

  test("the zone's /proc is its pid namespace's and its /sys its network namespace's", () => {
    // zoneadmd makes both for the zone's namespaces (kernelfs.ts): the host's would show
    // the host's pid 1 (no systemd here) and the host's interfaces.
    assert.equal(inZone("cat /proc/1/comm").out.trim(), "systemd");
    assert.equal(inZone("ls /sys/class/net").out.trim(), "lo");
    assert.match(inZone("grep -E ' /(proc|sys) ' /proc/self/mountinfo | grep -c nosuid,nodev,noexec").out.trim(), /^[2-9]$/);
  });

  test("shutdown powers systemd off and waits for its units to stop", async () => {
    const t0 = Date.now();
    root.ok("zoneadm", ["-z", "sd", "shutdown"]);
    assert.equal(state(), "installed");
    // systemd stopped its units and exited by itself: the halt after the timeout was not needed.
    const log = fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8");
    assert.match(log, /zone 'sd': shutdown: 38 to init/);
    assert.doesNotMatch(log, /init still running after/);
    await until("systemd's power-off on the console", () => /Powering off/.test(consoleLog()));
    // systemd-update-utmp's stop wrote the shutdown record into the zone's own wtmp.
    const last = spawnSync("last", ["-x", "-f", path.join(root.dir, "zones/sd/root/var/log/wtmp")], { encoding: "utf8" });
    assert.match(last.stdout, /shutdown/, last.stdout + last.stderr);
    assert.ok(Date.now() - t0 < 10_000);
  });

  test("reboot inside reboots only the zone, into systemd again", async () => {
    await bootSystemd();
    const before = fs.readFileSync(runFile(root.paths, "sd"), "utf8");
    inZone("systemctl reboot");
    await until("the zone to come back", () => {
      try {
        return fs.readFileSync(runFile(root.paths, "sd"), "utf8") !== before && state() === "running";
      } catch {
        return false;
      }
    });
    assert.equal(await running(), "running");
    assert.match(inZone("cat /proc/1/cmdline").out, /systemd/);
    root.ok("zoneadm", ["-z", "sd", "halt"]);
  });

  test("poweroff inside ends only the zone; zoneadmd follows", async () => {
    await bootSystemd();
    inZone("systemctl poweroff");
    await until("the zone to halt", () => state() === "installed");
  });
});
