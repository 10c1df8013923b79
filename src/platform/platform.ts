/**
 * The virtual platform of each zone (illumos zoneadmd's vplat.c): install and
 * uninstall its tree, make it ready (namespaces, mounts, cgroup, via the OCI runtime),
 * boot its init, and tear it all down at halt. Every transition goes through the state
 * model and is persisted in the repository; what only lives while a zone is ready or
 * running (its ID, its init's pid, its runtime bundle) is kept in the run directory,
 * so a restarted daemon finds it again.
 *
 * This file is the Platform's assembly: the state its transitions share and one method
 * per transition, each implemented beside its own steps in the file named after it
 * (install.ts, ready.ts, halt.ts, teardown.ts); its parts live in their own modules
 * (brands, oci/, network/, zonefs, zonepath, slots, reserve).
 */
import * as path from "node:path";
import type { InstallOptions } from "./brands.js";
import { EXIT_ERR, ZoneError } from "../native/errors.js";
import type { ZoneConfig } from "../document/model.js";
import type { OciRuntime } from "./oci/runtime.js";
import type { ZonePaths } from "../document/store/paths.js";
import type { ConfigCommit, IndexEntry, Repository, StateChange } from "../document/store/repository.js";
import { GroupCommit } from "../native/groupcommit.js";
import { readRun, runningIds, zoneRunDir, type RunState } from "../document/store/runstate.js";
import { SLOT_SIZE, type SlotRegistry, type SlotRequest } from "./slots.js";
import type { ZoneState } from "../document/store/state.js";
import { Network } from "./network/network.js";
import { install, uninstall } from "./install.js";
import { boot, freeId, leftovers, make, ready, recoverRun } from "./ready.js";
import { halt, reboot, recordHalted, retryUnrecorded, shutdown } from "./halt.js";
import { teardown } from "./teardown.js";
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
    readonly log: (line: string) => void = () => {},
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

  entry(name: string): IndexEntry {
    const e = this.repo.find(name);
    if (!e) throw new ZoneError("no such zone configured", EXIT_ERR, "missing");
    return e;
  }

  root(z: ZoneConfig): string {
    return path.join(z.zonepath, "root");
  }

  base(e: IndexEntry): number {
    const slot = this.slots.find(e.uuid, this.paths.configDir);
    if (!slot) throw new ZoneError("zone has no uid slot; uninstall and install it again");
    return slot.slot * SLOT_SIZE;
  }

  setState(name: string, to: ZoneState): void {
    this.repo.setState(name, to);
    this.log(`zone '${name}': ${to}`);
  }

  /** setState through the group commit; with `expected`, only if the document still reads so. */
  async changeState(name: string, to: ZoneState, expected?: ZoneConfig): Promise<void> {
    await this.stateCommits.submit({ name, to, expected });
    this.log(`zone '${name}': ${to}`);
  }

  /** Zones torn down whose installed state could not be written yet (retryUnrecorded). */
  readonly unrecorded = new Set<string>();

  // The transitions, each in the file named after it; `this` is the platform.

  install(name: string, opts?: InstallOptions): Promise<void> {
    return install.call(this, name, opts);
  }

  uninstall(name: string): Promise<void> {
    return uninstall.call(this, name);
  }

  /** The lowest positive ID no ready or running zone of this root holds. */
  freeId(): number {
    return freeId.call(this);
  }

  ready(name: string, init?: string[]): Promise<RunState> {
    return ready.call(this, name, init);
  }

  /** Make the zone's platform and create its init (ready.ts); with `start`, start it too where it can. */
  make(name: string, init: string[] | undefined, start: boolean): Promise<{ run: RunState; started: boolean }> {
    return make.call(this, name, init, start);
  }

  boot(name: string, init?: string[]): Promise<RunState> {
    return boot.call(this, name, init);
  }

  /** Does the zone have what a ready makes (ready.ts)? */
  leftovers(name: string, z: ZoneConfig): Promise<boolean> {
    return leftovers.call(this, name, z);
  }

  /** Run state the daemon cannot read, rebuilt from the kernel (ready.ts). */
  recoverRun(name: string): Promise<RunState | undefined> {
    return recoverRun.call(this, name);
  }

  /** Kill every process of the zone and remove its virtual platform. */
  halt(name: string, reason?: string): Promise<void> {
    return halt.call(this, name, reason);
  }

  recordHalted(name: string): void {
    recordHalted.call(this, name);
  }

  /** Write the installed state of zones halted on a full disk; quiet while it is still full. */
  retryUnrecorded(name: string): void {
    retryUnrecorded.call(this, name);
  }

  /** A clean stop in the init's own convention, then halt; with `reboot`, boot again (halt.ts). */
  shutdown(name: string, reboot: boolean, timeoutMs?: number): Promise<RunState | undefined> {
    return shutdown.call(this, name, reboot, timeoutMs);
  }

  reboot(name: string): Promise<RunState> {
    return reboot.call(this, name);
  }

  /** Remove everything a ready or running zone has on the host; safe to repeat (teardown.ts). */
  teardown(name: string, z: ZoneConfig): Promise<void> {
    return teardown.call(this, name, z);
  }
}
