/**
 * Making a zone ready and booting it (illumos vplat_bringup): the zone's ID, its user
 * namespace, its mounts, its runtime bundle and container, its console and network, in
 * that order; and rebuilding the run state of a live zone the daemon cannot read.
 * Its own file so that the order of a ready's steps reads in one place, apart from the
 * teardown that undoes them (teardown.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { bootCommand } from "../document/bootargs.js";
import { brand as brandOf } from "./brands.js";
import { ZoneError, q } from "../native/errors.js";
import { checkZonepathOnHost } from "./hostcheck.js";
import { idmappedBinds, type HeldUserns, MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY } from "./idmap.js";
import type { ZoneConfig } from "../document/model.js";
import { zoneProcess, zoneSpec } from "./oci/spec.js";
import { withdrawRuntimeDefaults, zoneDevices } from "./devices.js";
import { haltNoteFile, processTemplateFile, writeRun, type RunState } from "../document/store/runstate.js";
import { receiveOneFd } from "../native/fdpass.js";
import { SLOT_SIZE } from "./slots.js";
import { traceSpan } from "../native/trace.js";
import { checkOperation } from "../document/store/state.js";
import { applyLimits, zonesLimits } from "./reserve.js";
import { ZoneRoot } from "./zonefs.js";
import { writeHostid } from "./hostid.js";
import { findHolders, spawnHolder } from "./holders.js";
import { mountZoneFs } from "./fsmounts.js";
import { zoneCpus } from "./cpusets.js";
import { checkRctlsOnHost } from "./rctlcheck.js";
import { isV2 } from "./cgroups/cgroup.js";
import { CGROUP_ROOT } from "./cgroups/limits.js";
import { consolePeer, delegateCgroup, isSystemdInit, lockedTrees, lockZoneTrees, systemdSpec } from "./systemd.js";
import { stageTrees } from "./masks.js";
import { alive } from "./halt.js";
import type { Platform } from "./platform.js";

/** The lowest positive ID no ready or running zone of this root holds. */
export function freeId(this: Platform): number {
  const used = new Set(this.ids().values());
  let id = 1;
  while (used.has(id)) id++;
  return id;
}

export async function ready(this: Platform, name: string, init?: string[]): Promise<RunState> {
  return (await this.make(name, init, false)).run;
}

/**
 * Make the zone's platform and create its init; with `start`, also start the init in
 * the same runtime call when nothing needs plumbing between the two (a zone without
 * network: `run -d` saves a runtime process). Says whether init was started.
 */
export async function make(this: Platform, name: string, init: string[] | undefined, start: boolean): Promise<{ run: RunState; started: boolean }> {
  const e = this.entry(name);
  checkOperation("ready", e.state);
  if (e.state === "ready") return { run: this.readRun(name)!, started: false };
  const t = traceSpan(`ready ${name}`);
  const z = this.repo.load(name);
  const brand = brandOf(z.brand);
  if (!brand) throw new ZoneError(`unknown brand ${q(z.brand)}`);
  const base = this.base(e);
  const root = this.root(z);
  if (!fs.existsSync(root)) throw new ZoneError(`${root} is missing; the zone must be installed again`);
  const image = brand.record?.(z.zonepath);
  // The host may have changed the directories above the zonepath since install.
  checkZonepathOnHost(z, base);
  // Network: refused before anything is made, so a bad net resource leaves nothing half-plumbed.
  this.network.check(z);
  checkRctlsOnHost(z);
  const reserve = zonesLimits(this.paths);
  // A ready cut short by a kill left its objects: remove them, or binds would stack.
  if (await this.leftovers(name, z)) await this.teardown(name, z);
  const dir = this.runDir(name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // The ID is taken and recorded before any await, so concurrent readies never share one.
  const run: RunState = { zonename: name, id: this.freeId(), pid: 0, runtime: this.runtime.name, since: new Date().toISOString(), root, booted: false, consoleHolder: 0 };
  writeRun(this.paths, name, run);
  // The zone's user namespace, owned by its slot uid so that the kernel charges the
  // zone's per-user quotas to the zone, not to host root; it also id-maps the binds.
  let userns: HeldUserns | undefined;
  // Started now, awaited at the spec: a first zone's lxcfs start overlaps the steps between.
  const views = this.views?.(name);
  // Handled here too: a step failing before the await must not leave it an unhandled rejection.
  views?.catch(() => undefined);
  try {
    userns = await this.usernsAhead.take(name, base);
    t.step("userns");
    brand.mountRoot?.(z.zonepath, root, base, userns.fd);
    // The zone's tree is the zone's: mount points and /etc/zonename are reached through zonefs.
    const bootArgv = bootCommand(init, z.bootargs, image?.init ?? brand.init);
    const sd = isSystemdInit(bootArgv, brand.systemd);
    const zr = ZoneRoot.open(root);
    try {
      await idmappedBinds(zr, brand.shared, base, SLOT_SIZE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV, userns.fd);
      mountZoneFs(zr, z, base, SLOT_SIZE, userns.fd);
      // Written fresh each time: a link or FIFO the zone left there is replaced, not followed.
      zr.writeFile("etc/zonename", `${name}\n`, 0o644, base, base);
      writeHostid(zr, z.hostid, base);
      if (sd) stageTrees(zr, [{ dir: "proc", mounts: [] }, { dir: "sys", mounts: [] }]);
    } finally {
      zr.close();
    }
    // Inter-zone broker endpoint (src/daemon/broker.ts): zoneadmd listens in it.
    const brokerDir = path.join(dir, "broker");
    fs.mkdirSync(brokerDir, { recursive: true, mode: 0o755 });
    const devices = zoneDevices(z, this.paths.root, base);
    const viewsDir = await views;
    const cpus = zoneCpus(z.dedicatedCpu?.ncpus, dir, name, `${this.paths.hostPrefix}/${name}`);
    const v2 = isV2(CGROUP_ROOT);
    const spec = zoneSpec({ zone: z, base, root, init: bootArgv, image, cgroupParent: this.paths.hostPrefix, zoneId: run.id, brokerDir, userns: userns.path, zonesMemory: reserve.memory, devices, viewsDir, cpus, cgroupV2: v2 });
    const template = zoneProcess(z, [], undefined, devices.env, image);
    if (sd) systemdSpec(spec, template);
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(spec, null, 1));
    fs.writeFileSync(processTemplateFile(this.paths, name), JSON.stringify(template), { mode: 0o600 });
    const pidFile = path.join(dir, "init.pid");
    const consoleSocket = receiveOneFd(path.join(dir, "console.sock"));
    // systemd's cgroup and locked masks are made between create and start.
    const started = start && !this.network.plumbs(z) && !sd;
    try {
      applyLimits(this.paths.hostPrefix, reserve, true);
      await (started ? this.runtime.run : this.runtime.create).call(this.runtime, name, dir, pidFile, path.join(dir, "runtime.log"), path.join(dir, "console.sock"));
      t.step(`runtime ${started ? "run" : "create"}`);
      // A zone halting meanwhile may have removed the empty parent and the runtime made it again, unlimited.
      applyLimits(this.paths.hostPrefix, reserve, true);
      withdrawRuntimeDefaults(this.paths.hostPrefix, name, devices);
      if (sd) delegateCgroup(spec.linux.cgroupsPath, v2, base);
      const master = await consoleSocket.fd;
      // The holder keeps the console open whatever happens to zoneadmd.
      // Its environment names the zone (holders.ts): a kill before zone.json records it leaks nothing.
      // A systemd zone's holder keeps a slave open too (systemd.ts consolePeer).
      const peer = sd ? consolePeer(master) : undefined;
      let holder: number;
      try {
        holder = await spawnHolder(dir, master, peer);
      } finally {
        if (peer !== undefined) fs.closeSync(peer);
      }
      run.consoleHolder = holder;
      if (sd) run.consolePeer = true;
      if (this.consoles) this.consoles.opened(name, master);
      else fs.closeSync(master);
    } finally {
      consoleSocket.close();
    }
    run.pid = Number(fs.readFileSync(pidFile, "utf8"));
    if (sd) lockZoneTrees(root, run.pid, dir, lockedTrees(spec, v2));
    t.step("locked trees");
    this.inits?.watch(run.pid);
    // The zone's processes keep the namespace alive now; a runtime that made its own
    // instead would leave the zone's quotas on host root.
    // An init that ended already (a zone whose first script reboots it) has no namespace
    // left to show: the supervisor hears of its end, as of any other.
    if (initNamespace(run.pid) !== fs.fstatSync(userns.fd).ino && !initEnded(run.pid))
      throw new ZoneError(`${this.runtime.name} did not join the zone's user namespace ${userns.path}`);
    userns.release();
    // Plumbed while the zone is created and not started: its init finds its network up.
    await this.network.setup(z, run.pid);
    t.step("network");
    await this.networkChanged?.();
    if (started) return { run, started };
    writeRun(this.paths, name, run);
    await this.changeState(name, "ready");
    t.end("ready recorded");
    return { run, started };
  } catch (err) {
    userns?.release();
    await this.teardown(name, z);
    throw err;
  }
}

export async function boot(this: Platform, name: string, init?: string[]): Promise<RunState> {
  const state = this.entry(name).state;
  checkOperation("boot", state);
  fs.rmSync(haltNoteFile(this.paths, name), { force: true });
  const { run, started } = await this.make(name, init, true);
  try {
    if (!started) await this.runtime.start(name, run.pid);
  } catch (err) {
    await this.halt(name);
    throw err;
  }
  run.booted = true;
  writeRun(this.paths, name, run);
  await this.changeState(name, "running");
  return run;
}

/**
 * What a ready makes that a zone not ready or running must not have: a run directory,
 * mounts below its root, a runtime container, a console holder.
 */
export async function leftovers(this: Platform, name: string, _z: ZoneConfig): Promise<boolean> {
  // No holder scan: a console holder is started only once the run directory exists, and
  // teardown kills the holders before it removes that directory. No mount scan either,
  // for the same reason: make() creates the run directory before its first mount below
  // the root, and teardown unmounts them all (unmountZoneRoot) before it removes the
  // directory, stopping at a failure. Reading /proc/self/mountinfo cost every boot ~1 ms
  // of the daemon's thread (the kernel writes out the whole table, one line per mount
  // of every zone running), and more with every zone running.
  return fs.existsSync(this.runDir(name)) || this.runtime.exists(name);
}

/**
 * Run state the daemon cannot read, rebuilt from the kernel: the runtime says which
 * init runs, the holder is found by its environment, the ID by the bundle's annotation.
 * Undefined when the runtime has no live container of the zone.
 */
export async function recoverRun(this: Platform, name: string): Promise<RunState | undefined> {
  const st = await this.runtime.state(name);
  if (!st || st.pid <= 0 || !alive(st.pid) || (st.status !== "running" && st.status !== "created")) return undefined;
  const z = this.repo.load(name);
  const id = bundleZoneId(path.join(this.runDir(name), "config.json")) ?? this.freeId();
  const run: RunState = { zonename: name, id, pid: st.pid, runtime: this.runtime.name, since: new Date().toISOString(), root: this.root(z), booted: st.status === "running", consoleHolder: findHolders(this.runDir(name))[0] ?? 0 };
  writeRun(this.paths, name, run);
  return run;
}

/** The zone ID a bundle's config.json (written by ready, in the host-only run directory) names. */
function bundleZoneId(file: string): number | undefined {
  try {
    const spec = JSON.parse(fs.readFileSync(file, "utf8")) as { annotations?: Record<string, string> };
    const id = Number(spec.annotations?.["org.illumos.zone.id"]);
    return Number.isInteger(id) && id > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The inode of `pid`'s user namespace; undefined once it has ended (a zombie has none). */
function initNamespace(pid: number): number | undefined {
  try {
    return fs.statSync(`/proc/${pid}/ns/user`).ino;
  } catch {
    return undefined;
  }
}

/** Has `pid` ended (gone, or a zombie waiting to be reaped)? */
function initEnded(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] === "Z";
  } catch {
    return true;
  }
}
