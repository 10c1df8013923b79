/**
 * Halting a zone and the transitions built on it: halt (teardown, then the installed
 * state, retried while the disk is full), shutdown (the init's own clean stop first),
 * reboot; and how a zone's init is asked to stop and known to be gone.
 * Its own file so that what a halt records reads apart from what it removes (teardown.ts).
 */
import * as fs from "node:fs";
import { brand as brandOf } from "./brands.js";
import { ZoneError } from "../native/errors.js";
import type { RunState } from "../document/store/runstate.js";
import { checkOperation } from "../document/store/state.js";
import type { Platform } from "./platform.js";
import { SLOT_SIZE } from "./slots.js";

/** Kill every process of the zone and remove its virtual platform. */
export async function halt(this: Platform, name: string, reason?: string): Promise<void> {
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

export function recordHalted(this: Platform, name: string): void {
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
export function retryUnrecorded(this: Platform, name: string): void {
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
export async function shutdown(this: Platform, name: string, reboot: boolean, timeoutMs = 30_000): Promise<RunState | undefined> {
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

export async function reboot(this: Platform, name: string): Promise<RunState> {
  checkOperation("reboot", this.entry(name).state);
  await this.halt(name);
  return this.boot(name);
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
