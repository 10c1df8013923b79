/** A private ZONES_ROOT for one benchmark run, so benchmarks never touch a real installation. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { mountsBelow, unmount } from "../src/platform/idmap.js";
import { purgeNetwork } from "../src/platform/network/network.js";
import { chooseRuntime } from "../src/platform/oci/runtime.js";
import { zonePaths } from "../src/document/store/paths.js";
import { removeCgroups } from "../src/platform/teardown.js";
import { Repository } from "../src/document/store/repository.js";
import { SlotRegistry } from "../src/platform/slots.js";
import { stopLxcfs } from "../src/daemon/lxcfs.js";
import { blankZone, type ZoneConfig } from "../src/document/model.js";
import type { ZonePaths } from "../src/document/store/paths.js";
import type { Platform } from "../src/platform/platform.js";

export interface BenchRoot {
  dir: string;
  /** The environment the benchmark's commands run with: ZONES_ROOT set, no extra CA file. */
  env: NodeJS.ProcessEnv;
}

export function benchRoot(tag: string, extraEnv: NodeJS.ProcessEnv = {}): BenchRoot {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zones-bench-${tag}-`));
  // Zones' runtimes reach their root trees from inside the zone's user namespace.
  fs.chmodSync(dir, 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, ZONES_ROOT: dir, ...extraEnv };
  delete env.NODE_EXTRA_CA_CERTS;
  return { dir, env };
}

/**
 * Remove everything a benchmark's zones may have left under its root: runtime
 * containers, mounts, cgroups, uid slots, network objects, then the directory.
 */
export async function removeBenchRoot(root: BenchRoot): Promise<void> {
  const paths = zonePaths(root.env);
  // The root's zoneadmd first: removing its directory does not end it.
  try {
    const pid = Number(fs.readFileSync(path.join(paths.runDir, "zoneadmd.pid"), "utf8"));
    // Never 0 or less: kill(0) would end this process group, the benchmark with it.
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGKILL");
  } catch {
    // none ran, or already gone
  }
  const rt = chooseRuntime(paths.runDir, root.env);
  for (const id of await rt.list()) await rt.delete(id, true).catch(() => undefined);
  // The root's lxcfs outlives its daemon, as zones do (src/daemon/lxcfs.ts).
  stopLxcfs(paths);
  for (const m of mountsBelow(root.dir)) unmount(m);
  const slots = new SlotRegistry();
  for (const e of new Repository(paths).list()) {
    removeCgroups(paths.hostPrefix, e.name);
    slots.release(e.uuid, paths.configDir);
  }
  purgeNetwork(paths);
  fs.rmSync(root.dir, { recursive: true, force: true });
}

/** Run a benchmark's `main`, then remove its root whether it succeeded or failed. */
export function runInRoot(root: BenchRoot, main: () => Promise<void>): void {
  main().then(
    () => removeBenchRoot(root),
    async (e: Error) => {
      console.error(e.stack);
      await removeBenchRoot(root);
      process.exitCode = 1;
    },
  );
}

/**
 * Configure and install `count` minimal-brand zones named `<prefix>0`, `<prefix>1`, ...
 * (the cheapest zones there are, for benchmarks that need many); `shape` adds to each
 * configuration. Returns their names.
 */
export async function installMinimalZones(paths: ZonePaths, repo: Repository, platform: Platform, prefix: string, count: number, shape: (z: ZoneConfig) => void = () => {}): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  for (const n of names) {
    const z = blankZone(n);
    z.brand = "minimal";
    z.zonepath = path.join(paths.zonesDir, n);
    shape(z);
    repo.commit(z, null);
    await platform.install(n);
  }
  return names;
}
