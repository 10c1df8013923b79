/**
 * For tests that run real zones: a TestRoot whose teardown also removes every trace a
 * zone can leave — containers, mounts, cgroups, uid slots, the daemon — even when a
 * test failed half-way.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { unmount, mountsBelow } from "../../src/platform/idmap.js";
import { unmountZoneRoot } from "../../src/platform/rootremoval.js";
import { zonePaths } from "../../src/document/store/paths.js";
import { removeCgroups } from "../../src/platform/teardown.js";
import { purgeNetwork } from "../../src/platform/network/network.js";
import { Repository } from "../../src/document/store/repository.js";
import { readRun } from "../../src/document/store/runstate.js";
import { SlotRegistry } from "../../src/platform/slots.js";
import { TestRoot } from "./helpers.js";
import { stopLxcfs } from "../../src/daemon/lxcfs.js";

export class ZoneTestRoot extends TestRoot {
  get paths() {
    return zonePaths(this.env);
  }

  /** Configure minimal zone `name` at <root>/zones/<name>, with one admin resource per [user, auths]. */
  minimalZone(name: string, admins: ReadonlyArray<readonly [string, string]> = []): void {
    const adm = admins.map(([user, auths]) => `; add admin; set user=${user}; set auths=${auths}; end`).join("");
    this.ok("zonecfg", ["-z", name, `create; set zonepath=${path.join(this.dir, "zones", name)}; set brand=minimal${adm}`]);
  }

  daemonPid(): number | undefined {
    try {
      return Number(fs.readFileSync(path.join(this.paths.runDir, "zoneadmd.pid"), "utf8"));
    } catch {
      return undefined;
    }
  }

  /** Names of the runtime's containers under this root. */
  containers(): string[] {
    const out: string[] = [];
    for (const rt of ["runc", "crun"]) {
      const dir = path.join(this.paths.runDir, rt);
      if (!fs.existsSync(dir)) continue;
      const r = spawnSync(rt, ["--root", dir, "list", "-q"], { encoding: "utf8" });
      out.push(...(r.stdout ?? "").split("\n").filter(Boolean));
    }
    return out;
  }

  /** Host cgroup directories of this root, in any hierarchy. */
  cgroups(): string[] {
    const prefix = this.paths.hostPrefix;
    const hs = ["/sys/fs/cgroup", ...fs.readdirSync("/sys/fs/cgroup").map((h) => `/sys/fs/cgroup/${h}`)];
    return hs.map((h) => path.join(h, prefix)).filter((d) => fs.existsSync(d));
  }

  /**
   * SIGKILL this root's zoneadmd, if one runs, and wait (at most 5 s) for it to be gone,
   * a zombie at most: the kill takes effect when the kernel next runs it, and until then
   * its socket still accepts, so a command run at once could be served by the dying
   * daemon and not by a new one.
   */
  killDaemon(): void {
    const pid = this.daemonPid();
    if (!pid) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      return; // already gone
    }
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + 5000; Date.now() < end; Atomics.wait(pause, 0, 0, 5)) {
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        return; // reaped
      }
      if (stat[stat.lastIndexOf(")") + 2] === "Z") return;
    }
  }

  override remove(): void {
    this.killDaemon();
    // The root's lxcfs (src/daemon/lxcfs.ts) outlives the daemon, as zones do.
    stopLxcfs(this.paths);
    // Console holders of zones a failed test left running.
    for (const name of fs.existsSync(path.join(this.paths.runDir, "zone")) ? fs.readdirSync(path.join(this.paths.runDir, "zone")) : []) {
      const holder = readRun(this.paths, name)?.consoleHolder;
      if (!holder) continue;
      try {
        process.kill(holder, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const rt of ["runc", "crun"]) {
      const dir = path.join(this.paths.runDir, rt);
      if (!fs.existsSync(dir)) continue;
      for (const id of this.containers()) spawnSync(rt, ["--root", dir, "delete", "--force", id]);
    }
    // Through pinned walks (zonefs), whatever names a zone gave its directories.
    try {
      unmountZoneRoot(this.dir);
    } catch {
      for (const m of mountsBelow(this.dir)) unmount(m);
    }
    // Networking (network.ts): this root's bridges, leftover veths and nft table.
    purgeNetwork(this.paths);
    const repo = new Repository(this.paths);
    const slots = new SlotRegistry();
    try {
      for (const e of repo.list()) {
        removeCgroups(this.paths.hostPrefix, e.name);
        slots.release(e.uuid);
      }
    } catch {
      // a broken repository: the slots are still released below
    }
    for (const s of slots.list()) if (s.configDir === this.paths.configDir) slots.release(s.uuid);
    // The root's parent cgroup (reserve.ts), also when no zone of the repository is left.
    for (const dir of this.cgroups()) {
      try {
        fs.rmdirSync(dir);
      } catch {
        // a zone's group is still in it: nothing more we can do
      }
    }
    // Never delete through a mount: a host tree bound into a zone would go with it.
    const left = mountsBelow(this.dir);
    if (left.length > 0) throw new Error(`test root ${this.dir} still has mounts; not removing it: ${JSON.stringify(left)}`);
    super.remove();
  }
}
