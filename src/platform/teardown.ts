/**
 * Removing everything a ready or running zone has on the host (illumos vplat_teardown):
 * its console holder, its init and container, its network, mounts, devices, cgroups,
 * cpus and run directory. Its own file so that the undoing of a ready reads in one
 * place, safe to repeat, whichever transition (halt, a failed ready, a cut-short one) calls it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ZoneConfig } from "../document/model.js";
import { removeDeviceNodes } from "./devices.js";
import { unmountZoneRoot } from "./rootremoval.js";
import { killHolders } from "./holders.js";
import { releaseCpus } from "./cpusets.js";
import type { Platform } from "./platform.js";

/**
 * Remove everything a ready or running zone has on the host: its processes and
 * container, its mounts, its cgroups, its run directory. Safe to repeat.
 */
export async function teardown(this: Platform, name: string, z: ZoneConfig): Promise<void> {
  // Holders are known by their environment (a reused pid is never killed), every one of
  // them, recorded or not.
  const recorded = this.readRun(name);
  killHolders(this.runDir(name));
  this.consoles?.closed(name);
  const init = recorded?.pid ?? 0;
  // Our own child, not yet reaped, is killed directly: the end of a pid namespace's init
  // ends every process in it, and the runtime then finds the container stopped.
  const killed = init > 0 && this.inits?.owns(init) === true;
  if (killed) {
    process.kill(init, "SIGKILL");
    await this.inits!.reap(init);
  }
  if (this.runtime.exists(name)) {
    // A stopped container needs no kill: its state would cost a runtime call to learn.
    const state = killed ? undefined : await this.runtime.state(name);
    if (state && state.status !== "stopped") await this.runtime.kill(name, "KILL", true).catch(() => undefined);
    await this.runtime.delete(name, true);
  }
  if (init > 0) await this.inits?.reap(init);
  // The namespace went with the zone's last process, taking its veths in a batch.
  await this.network.teardown(name);
  await this.networkChanged?.();
  unmountZoneRoot(this.root(z));
  removeDeviceNodes(z);
  removeCgroups(this.paths.hostPrefix, name);
  releaseCpus(this.runDir(name));
  fs.rmSync(this.runDir(name), { recursive: true, force: true });
  if (this.ids().size === 0) await this.viewsIdle?.();
}

/**
 * The zone's cgroups in every hierarchy, and the root's parent group once empty: a root
 * without running zones leaves no cgroup behind. The next zone's ready makes the parent
 * again with its limits (reserve.ts).
 */
export function removeCgroups(prefix: string, name: string): void {
  let hierarchies: string[] = [];
  try {
    hierarchies = fs.readdirSync("/sys/fs/cgroup").map((h) => path.join("/sys/fs/cgroup", h));
  } catch {
    return;
  }
  // Pure cgroup v2 has the groups directly under /sys/fs/cgroup.
  for (const h of ["/sys/fs/cgroup", ...hierarchies]) {
    for (const dir of [path.join(h, prefix, name), path.join(h, prefix)]) {
      try {
        fs.rmdirSync(dir);
      } catch {
        // absent, not a hierarchy, or still in use by another zone
      }
    }
  }
}
