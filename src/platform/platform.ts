/**
 * The virtual platform of each zone (illumos zoneadmd's vplat.c): install and
 * uninstall its tree, make it ready (namespaces, mounts, cgroup, via the OCI runtime),
 * boot its init, and tear it all down at halt. Every transition goes through the state
 * model and is persisted in the repository; what only lives while a zone is ready or
 * running (its ID, its init's pid, its runtime bundle) is kept in the run directory,
 * so a restarted daemon finds it again.
 *
 * Over 400 lines on purpose: the class is one state machine, and each transition uses
 * the private steps beside it (make, recordHalted, teardown), so the order of a
 * transition's steps reads in one place; its parts live in their own modules (brands,
 * oci/, network/, zonefs, zonepath, slots, reserve).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { bootCommand } from "../document/bootargs.js";
import { writeFileAtomic } from "../native/atomic.js";
import { brand as brandOf, type InstallOptions } from "./brands.js";
import { EXIT_ERR, ZoneError, q } from "../native/errors.js";
import { checkZonepathOnHost, verifyOnHost } from "./hostcheck.js";
import { idmappedBinds, mountsBelow, type HeldUserns, MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY } from "./idmap.js";
import type { ZoneConfig } from "../document/model.js";
import type { OciRuntime } from "./oci/runtime.js";
import { zoneProcess, zoneSpec } from "./oci/spec.js";
import { removeDeviceNodes, withdrawRuntimeDefaults, zoneDevices } from "./devices.js";
import type { ZonePaths } from "../document/store/paths.js";
import type { ConfigCommit, IndexEntry, Repository, StateChange } from "../document/store/repository.js";
import { GroupCommit } from "../native/groupcommit.js";
import { consoleLogFile, haltNoteFile, processTemplateFile, readRun, runFile, runningIds, zoneRunDir, type RunState } from "../document/store/runstate.js";
import { receiveOneFd } from "../native/fdpass.js";
import { SLOT_SIZE, type SlotRegistry, type SlotRequest } from "./slots.js";
import { checkOperation, type ZoneState } from "../document/store/state.js";
import { Network } from "./network/network.js";
import { applyLimits, zonesLimits } from "./reserve.js";
import { unmountZoneRoot, ZoneRoot } from "./zonefs.js";
import { writeHostid } from "./hostid.js";
import { claimZonepath, removeInstalledTree } from "./zonepath.js";
import { undoInstall, zonepathBefore } from "./installundo.js";
import { findHolders, HOLDER_ENV, killHolders } from "./holders.js";
import { mountZoneFs } from "./fsmounts.js";
import { releaseCpus, zoneCpus } from "./cpusets.js";
import { checkRctlsOnHost } from "./rctlcheck.js";
import { isV2 } from "./cgroups/cgroup.js";
import { CGROUP_ROOT } from "./cgroups/limits.js";
import { consolePeer, delegateCgroup, isSystemdInit, lockedTrees, lockZoneTrees, systemdSpec } from "./systemd.js";
import { stageTrees } from "./masks.js";
import { traceSpan } from "../native/trace.js";
import { UsernsAhead } from "./usernsahead.js";

/** Who takes a zone's console when it appears (zoneadmd); without one it is closed. */
export interface ConsoleSink {
  /** The zone's console pty master: the sink owns the descriptor from now on. */
  opened(name: string, master: number): void;
  /** The zone halted: its console is gone. */
  closed(name: string): void;
}

/**
 * Who reaps the zones' inits (zoneadmd, their subreaper): without one, a halted zone's
 * init stays a zombie holding its keyring (src/daemon/reaper.ts).
 */
export interface InitReaper {
  /** `pid` is a zone's new init. */
  watch(pid: number): void;
  /** Is `pid` a child of ours still running (so its pid cannot have been reused)? */
  owns(pid: number): boolean;
  /** Wait briefly for our child `pid` to end, and reap it. */
  reap(pid: number): Promise<void>;
}

export class Platform {
  consoles: ConsoleSink | undefined;
  inits: InitReaper | undefined;
  /** The lxcfs stage for a zone's in-zone views (src/daemon/lxcfs.ts); none: host-wide /proc. */
  views: ((zone: string) => Promise<string | undefined>) | undefined;
  /** No zone of the root is ready or running any more: the view service may go. */
  viewsIdle: (() => Promise<void>) | undefined;
  /** A zone's network came up or went: the package proxy follows the bridge addresses (src/daemon/proxy.ts). */
  networkChanged: (() => Promise<void>) | undefined;
  /** Bridges, veths, addresses and anti-spoofing filters of the zones (network.ts). */
  readonly network: Network;
  /**
   * The state changes and slot allocations of the zones being installed and booted at
   * once, written together (native/groupcommit.ts): one durable write per batch, not
   * one per zone, each operation going on only once its own change is on disk.
   */
  readonly stateCommits: GroupCommit<StateChange, true>;
  readonly slotCommits: GroupCommit<SlotRequest, number>;
  /** The configuration commits of the API's sessions (zones created at once), likewise. */
  readonly configCommits: GroupCommit<ConfigCommit, IndexEntry>;
  /** Each installed zone's user namespace for its next boot, made ahead (usernsahead.ts). */
  readonly usernsAhead = new UsernsAhead();

  constructor(
    readonly paths: ZonePaths,
    readonly repo: Repository,
    readonly runtime: OciRuntime,
    readonly slots: SlotRegistry,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.network = new Network(paths, log);
    this.stateCommits = new GroupCommit((changes) => repo.setStates(changes));
    this.slotCommits = new GroupCommit((reqs) => slots.allocateAll(reqs));
    this.configCommits = new GroupCommit((reqs) => repo.commitAll(reqs));
  }

  runDir(name: string): string {
    return zoneRunDir(this.paths, name);
  }

  readRun(name: string): RunState | undefined {
    return readRun(this.paths, name);
  }

  ids(): Map<string, number> {
    return runningIds(this.paths);
  }

  private entry(name: string): IndexEntry {
    const e = this.repo.find(name);
    if (!e) throw new ZoneError("no such zone configured", EXIT_ERR, "missing");
    return e;
  }

  private root(z: ZoneConfig): string {
    return path.join(z.zonepath, "root");
  }

  private base(e: IndexEntry): number {
    const slot = this.slots.find(e.uuid, this.paths.configDir);
    if (!slot) throw new ZoneError("zone has no uid slot; uninstall and install it again");
    return slot.slot * SLOT_SIZE;
  }

  private setState(name: string, to: ZoneState): void {
    this.repo.setState(name, to);
    this.log(`zone '${name}': ${to}`);
  }

  /** setState through the group commit; with `expected`, only if the document still reads so. */
  private async changeState(name: string, to: ZoneState, expected?: ZoneConfig): Promise<void> {
    await this.stateCommits.submit({ name, to, expected });
    this.log(`zone '${name}': ${to}`);
  }

  async install(name: string, opts: InstallOptions = {}): Promise<void> {
    const e = this.entry(name);
    checkOperation("install", e.state);
    const z = this.repo.load(name);
    const brand = brandOf(z.brand);
    if (!brand) throw new ZoneError(`unknown brand ${q(z.brand)}`);
    if (opts.image !== undefined && !brand.image) throw new ZoneError(`brand ${q(z.brand)} installs no image; -i ${q(opts.image)} is for brand oci`);
    if (opts.image === undefined && brand.image) throw new ZoneError(`brand ${q(z.brand)} installs from an image: zoneadm -z ${name} install -i IMAGE`);
    const before = zonepathBefore(z.zonepath);
    // Addresses in use by running zones matter at boot, not at install.
    verifyOnHost(z, this.repo.list().filter((x) => x.name !== name), false);
    const root = this.root(z);
    if (fs.existsSync(root)) throw new ZoneError(`${root} already exists; remove it before installing`);
    // Install changes the zonepath's group and mode, and uninstall removes it: never someone's files.
    if (fs.existsSync(z.zonepath) && fs.readdirSync(z.zonepath).length > 0) throw new ZoneError(`zonepath ${q(z.zonepath)} is not empty; install needs an empty or new directory`);
    // From here a failure or a kill leaves the zone incomplete, which says so; and
    // from here its zonepath is fixed, so it must still be the one read above.
    await this.changeState(name, "incomplete", z);
    const slot = await this.slotCommits.submit({ uuid: e.uuid, configDir: this.paths.configDir, zonename: name });
    // Closed to host users; the zone's root group may pass, since the runtime mounts
    // the root tree from inside the zone's user namespace.
    fs.mkdirSync(path.dirname(z.zonepath), { recursive: true, mode: 0o755 });
    fs.mkdirSync(z.zonepath, { recursive: true, mode: 0o700 });
    claimZonepath(z.zonepath, slot * SLOT_SIZE);
    fs.mkdirSync(root, { mode: 0o755 });
    try {
      await brand.install(root, slot * SLOT_SIZE, z, opts);
    } catch (err) {
      // A failed image install leaves the zone configured and its zonepath as it found it.
      if (brand.image) {
        undoInstall(z.zonepath, slot * SLOT_SIZE, before);
        this.slots.release(e.uuid, this.paths.configDir);
        this.setState(name, "configured");
      }
      throw err;
    }
    await this.changeState(name, "installed");
    this.usernsAhead.prepare(name, slot * SLOT_SIZE);
  }

  async uninstall(name: string): Promise<void> {
    // A zone halted on a full disk is installed, though its record may not say so yet.
    this.retryUnrecorded(name);
    const unrecorded = this.unrecorded.has(name);
    const e = this.entry(name);
    const state = unrecorded ? "installed" : e.state;
    checkOperation("uninstall", state);
    const z = this.repo.load(name);
    // Never delete through a mount: a host tree mounted in the zone would go with it.
    const mounted = mountsBelow(z.zonepath);
    if (mounted.length > 0) throw new ZoneError(`${q(mounted[0]!)} is still mounted; halt the zone first`);
    // "incomplete" first, so a crash mid-removal says so. On a full disk that write
    // fails, and removing the tree is what makes room: remove first, record after.
    if (state === "installed" && !unrecorded) {
      try {
        this.setState(name, "incomplete");
      } catch (err) {
        if (!/ENOSPC/.test((err as Error).message)) throw err;
        this.log(`zone '${name}': uninstall: no room to record incomplete; removing the tree first`);
      }
    }
    // Through the zonepath pinned and checked: it may have been swapped since install.
    const slot = this.slots.find(e.uuid, this.paths.configDir);
    const release = brandOf(z.brand)?.uninstall?.(z.zonepath);
    if (slot) removeInstalledTree(z.zonepath, slot.slot * SLOT_SIZE);
    release?.();
    this.usernsAhead.drop(name);
    this.slots.release(e.uuid, this.paths.configDir);
    fs.rmSync(consoleLogFile(this.paths, name), { force: true });
    if (unrecorded) this.recordHalted(name);
    this.setState(name, "configured");
  }


  /** The lowest positive ID no ready or running zone of this root holds. */
  private freeId(): number {
    const used = new Set(this.ids().values());
    let id = 1;
    while (used.has(id)) id++;
    return id;
  }

  async ready(name: string, init?: string[]): Promise<RunState> {
    return (await this.make(name, init, false)).run;
  }

  /**
   * Make the zone's platform and create its init; with `start`, also start the init in
   * the same runtime call when nothing needs plumbing between the two (a zone without
   * network: `run -d` saves a runtime process). Says whether init was started.
   */
  private async make(name: string, init: string[] | undefined, start: boolean): Promise<{ run: RunState; started: boolean }> {
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
    t.step("checks");
    const dir = this.runDir(name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The ID is taken and recorded before any await, so concurrent readies never share one.
    const run: RunState = { zonename: name, id: this.freeId(), pid: 0, runtime: this.runtime.name, since: new Date().toISOString(), root, booted: false, consoleHolder: 0 };
    writeFileAtomic(runFile(this.paths, name), JSON.stringify(run), 0o644, false);
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
      t.step("root mounted");
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
      t.step("zone mounts");
      // Inter-zone broker endpoint (src/daemon/broker.ts): zoneadmd listens in it.
      const brokerDir = path.join(dir, "broker");
      fs.mkdirSync(brokerDir, { recursive: true, mode: 0o755 });
      const devices = zoneDevices(z, this.paths.root, base);
      t.step("devices");
      const viewsDir = await views;
      t.step("views");
      const cpus = zoneCpus(z.dedicatedCpu?.ncpus, dir, name, `${this.paths.hostPrefix}/${name}`);
      const v2 = isV2(CGROUP_ROOT);
      const spec = zoneSpec({ zone: z, base, root, init: bootArgv, image, cgroupParent: this.paths.hostPrefix, zoneId: run.id, brokerDir, userns: userns.path, zonesMemory: reserve.memory, devices, viewsDir, cpus, cgroupV2: v2 });
      const template = zoneProcess(z, [], undefined, devices.env, image);
      if (sd) systemdSpec(spec, template);
      fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(spec, null, 1));
      fs.writeFileSync(processTemplateFile(this.paths, name), JSON.stringify(template), { mode: 0o600 });
      t.step("spec");
      const pidFile = path.join(dir, "init.pid");
      const consoleSocket = receiveOneFd(path.join(dir, "console.sock"));
      // systemd's cgroup and locked masks are made between create and start.
      const started = start && !this.network.plumbs(z) && !sd;
      try {
        applyLimits(this.paths.hostPrefix, reserve, true);
        t.step("limits");
        await (started ? this.runtime.run : this.runtime.create).call(this.runtime, name, dir, pidFile, path.join(dir, "runtime.log"), path.join(dir, "console.sock"));
        t.step(`runtime ${started ? "run" : "create"}`);
        // A zone halting meanwhile may have removed the empty parent and the runtime made it again, unlimited.
        applyLimits(this.paths.hostPrefix, reserve, true);
        withdrawRuntimeDefaults(this.paths.hostPrefix, name, devices);
        if (sd) delegateCgroup(spec.linux.cgroupsPath, v2, base);
        t.step("cgroups after create");
        const master = await consoleSocket.fd;
        // The holder keeps the console open whatever happens to zoneadmd.
        // Its environment names the zone (holders.ts): a kill before zone.json records it leaks nothing.
        // A systemd zone's holder keeps a slave open too (systemd.ts consolePeer).
        const peer = sd ? consolePeer(master) : undefined;
        const holder = spawn("sleep", ["infinity"], { stdio: ["ignore", "ignore", "ignore", master, ...(peer === undefined ? [] : [peer])], detached: true, env: { [HOLDER_ENV]: dir } });
        if (peer !== undefined) fs.closeSync(peer);
        holder.unref();
        run.consoleHolder = holder.pid ?? 0;
        if (this.consoles) this.consoles.opened(name, master);
        else fs.closeSync(master);
        t.step("console holder");
      } finally {
        consoleSocket.close();
      }
      run.pid = Number(fs.readFileSync(pidFile, "utf8"));
      if (sd) lockZoneTrees(root, run.pid, dir, lockedTrees(spec, v2));
      t.step("locked trees");
      this.inits?.watch(run.pid);
      // The zone's processes keep the namespace alive now; a runtime that made its own
      // instead would leave the zone's quotas on host root.
      if (fs.statSync(`/proc/${run.pid}/ns/user`).ino !== fs.fstatSync(userns.fd).ino)
        throw new ZoneError(`${this.runtime.name} did not join the zone's user namespace ${userns.path}`);
      userns.release();
      // Plumbed while the zone is created and not started: its init finds its network up.
      await this.network.setup(z, run.pid);
      t.step("network");
      await this.networkChanged?.();
      t.step("network changed");
      if (started) return { run, started };
      writeFileAtomic(runFile(this.paths, name), JSON.stringify(run), 0o644, false);
      await this.changeState(name, "ready");
      t.end("ready recorded");
      return { run, started };
    } catch (err) {
      userns?.release();
      await this.teardown(name, z);
      throw err;
    }
  }

  async boot(name: string, init?: string[]): Promise<RunState> {
    const state = this.entry(name).state;
    checkOperation("boot", state);
    fs.rmSync(haltNoteFile(this.paths, name), { force: true });
    const { run, started } = await this.make(name, init, true);
    const t = traceSpan(`boot ${name}`);
    try {
      if (!started) await this.runtime.start(name, run.pid);
    } catch (err) {
      await this.halt(name);
      throw err;
    }
    t.step("runtime start");
    run.booted = true;
    writeFileAtomic(runFile(this.paths, name), JSON.stringify(run), 0o644, false);
    await this.changeState(name, "running");
    t.end("running recorded");
    return run;
  }

  /**
   * What a ready makes that a zone not ready or running must not have: a run directory,
   * mounts below its root, a runtime container, a console holder.
   */
  async leftovers(name: string, _z: ZoneConfig): Promise<boolean> {
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
  async recoverRun(name: string): Promise<RunState | undefined> {
    const st = await this.runtime.state(name);
    if (!st || st.pid <= 0 || !alive(st.pid) || (st.status !== "running" && st.status !== "created")) return undefined;
    const z = this.repo.load(name);
    const id = bundleZoneId(path.join(this.runDir(name), "config.json")) ?? this.freeId();
    const run: RunState = { zonename: name, id, pid: st.pid, runtime: this.runtime.name, since: new Date().toISOString(), root: this.root(z), booted: st.status === "running", consoleHolder: findHolders(this.runDir(name))[0] ?? 0 };
    writeFileAtomic(runFile(this.paths, name), JSON.stringify(run), 0o644, false);
    return run;
  }

  /** Kill every process of the zone and remove its virtual platform. */
  async halt(name: string, reason?: string): Promise<void> {
    const e = this.entry(name);
    // An installed zone with what a cut-short ready made: halt is the way out.
    if ((e.state === "installed" || e.state === "incomplete") && (await this.leftovers(name, this.repo.load(name)))) {
      this.log(`zone '${name}': removing what an interrupted ready left`);
      return this.teardown(name, this.repo.load(name));
    }
    checkOperation("halt", e.state);
    // Tear down first, whatever the disk says: a zone filling the disk must still stop.
    // So shutting_down is recorded if it can be, and installed is retried until it is.
    if (e.state === "running") {
      try {
        this.setState(name, "shutting_down");
      } catch (err) {
        this.log(`zone '${name}': halting without recording shutting_down: ${(err as Error).message}`);
      }
    }
    if (reason) this.log(`zone '${name}': halting: ${reason}`);
    await this.teardown(name, this.repo.load(name));
    this.recordHalted(name);
    // The next boot's namespace, made while nothing waits on it.
    const slot = this.slots.find(e.uuid, this.paths.configDir);
    if (slot) this.usernsAhead.prepare(name, slot.slot * SLOT_SIZE);
  }

  /** Zones torn down whose installed state could not be written yet (retryUnrecorded). */
  readonly unrecorded = new Set<string>();

  private recordHalted(name: string): void {
    try {
      if (this.entry(name).state === "shutting_down") this.setState(name, "down");
      this.setState(name, "installed");
      this.unrecorded.delete(name);
    } catch (err) {
      this.unrecorded.add(name);
      throw new ZoneError(`halted, but its state could not be recorded: ${(err as Error).message}; zoneadmd records it when the disk has room`);
    }
  }

  /** Write the installed state of zones halted on a full disk; quiet while it is still full. */
  retryUnrecorded(name: string): void {
    if (!this.unrecorded.has(name)) return;
    try {
      this.recordHalted(name);
      this.log(`zone '${name}': halted state recorded at last`);
    } catch {
      // still no room: the next supervise round tries again
    }
  }

  /**
   * Ask the zone's init for a clean stop, in its own convention, wait for it to end
   * (at most `timeoutMs`), then halt; with `reboot`, boot again.
   */
  async shutdown(name: string, reboot: boolean, timeoutMs = 30_000): Promise<RunState | undefined> {
    checkOperation("shutdown", this.entry(name).state);
    const run = this.readRun(name);
    if (run && run.pid > 0 && alive(run.pid)) {
      const z = this.repo.load(name);
      // The image's StopSignal (brand oci) before the init's own convention.
      const signal = brandOf(z.brand)?.stopSignal?.(z.zonepath) ?? stopSignal(run.pid);
      this.log(`zone '${name}': shutdown: ${signal} to init ${run.pid}`);
      try {
        process.kill(run.pid, signal);
      } catch {
        // already gone
      }
      const end = Date.now() + timeoutMs;
      while (alive(run.pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      if (alive(run.pid)) this.log(`zone '${name}': init still running after ${timeoutMs} ms; halting`);
    }
    await this.halt(name);
    return reboot ? this.boot(name) : undefined;
  }

  async reboot(name: string): Promise<RunState> {
    checkOperation("reboot", this.entry(name).state);
    await this.halt(name);
    return this.boot(name);
  }

  /**
   * Remove everything a ready or running zone has on the host: its processes and
   * container, its mounts, its cgroups, its run directory. Safe to repeat.
   */
  async teardown(name: string, z: ZoneConfig): Promise<void> {
    // Holders are known by their environment: the recorded one is checked by it (a reused
    // pid is never killed), and without one every process is asked (one recorded nowhere).
    const recorded = this.readRun(name);
    killHolders(this.runDir(name), recorded?.consoleHolder);
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

/** Is `pid` a live process (not a zombie waiting to be reaped)? */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

/**
 * The signal that asks an init for a clean power-off: busybox init and sysvinit take
 * SIGUSR2 and SIGTERM-and-runlevel respectively; systemd takes SIGRTMIN+4. Anything
 * else gets SIGTERM, and the halt that follows the timeout ends it.
 */
export function stopSignal(pid: number): NodeJS.Signals | number {
  let exe = "";
  try {
    exe = fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return "SIGTERM";
  }
  if (exe.endsWith("/busybox")) return "SIGUSR2";
  if (exe.endsWith("/systemd")) return 34 + 4; // SIGRTMIN+4: poweroff
  return "SIGTERM";
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
