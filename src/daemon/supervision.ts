/**
 * zoneadmd's supervision of the zones: reconcile matches the repository to the kernel
 * (at start and whenever an init dies), supervise acts on each init's end (a reboot
 * boots the zone again, within a limit; any other end halts it), and a restarted
 * daemon takes the running zones' consoles back. Its own file so that what the daemon
 * does on its own reads apart from what it does when asked (dispatch.ts).
 */
import * as fs from "node:fs";
import { ZoneError } from "../native/errors.js";
import { alive } from "../platform/halt.js";
import type { IndexScan } from "../document/store/repository.js";
import { fdOfProcess } from "../native/fdpass.js";
import { HOLDER_FD, writeHaltNote, writeRun } from "../document/store/runstate.js";
import { spawnHolder } from "../platform/holders.js";
import { consolePeer } from "../platform/systemd.js";
import type { Daemon } from "./server.js";

const SIGHUP = 1;
/** A zone whose init reboots it more often than this in the window is halted (illumos gives up too). */
const REBOOT_LIMIT = 10;
const REBOOT_WINDOW_MS = 60_000;
/** Console holders are looked at every this many supervision ticks (200 ms each). */
const HOLDER_TICKS = 5;
let ticks = 0;

/**
 * Match the repository to the kernel: zones whose init is gone are halted, runtime
 * containers of zones the repository positively knows to be halted (or not to exist)
 * are removed. A repository that cannot be read makes it touch nothing: a zone it
 * cannot see may be running. Runs at start and whenever an init dies.
 */
export async function reconcile(this: Daemon): Promise<void> {
  const p = this.platform;
  let scan: IndexScan;
  try {
    scan = p.repo.scan();
  } catch (e) {
    if (!(e instanceof ZoneError)) throw e;
    this.log(`touching no zone: ${e.message}`);
    return;
  }
  for (const problem of scan.problems) this.log(problem);
  const entries = scan.entries;
  for (const e of entries) {
    if (!["ready", "running", "shutting_down", "down"].includes(e.state)) {
      // A ready or halt cut short by a kill: what it made goes, whatever the index says.
      if (this.queues.has(e.name)) continue;
      await this.serialize(e.name, async () => {
        const z = p.repo.load(e.name);
        if (!["installed", "incomplete"].includes(p.repo.find(e.name)?.state ?? "") || !(await p.leftovers(e.name, z))) return;
        this.log(`zone '${e.name}': removing what an interrupted operation left`);
        await p.teardown(e.name, z);
      }).catch((err: Error) => this.log(`zone '${e.name}': cleanup failed: ${err.message}`));
      continue;
    }
    if (!p.readRun(e.name)) {
      // Unreadable run state is rebuilt from the kernel, never taken as a dead zone.
      const rebuilt = await p.recoverRun(e.name).catch(() => undefined);
      if (rebuilt) this.log(`zone '${e.name}': run state unreadable; rebuilt from the runtime (init ${rebuilt.pid})`);
    }
    const run = p.readRun(e.name);
    if (run && run.pid > 0 && alive(run.pid)) continue;
    await this.serialize(e.name, async () => {
      const now = p.repo.find(e.name);
      if (!now || !["ready", "running", "shutting_down", "down"].includes(now.state)) return;
      const r = p.readRun(e.name);
      if (r && r.pid > 0 && alive(r.pid)) return;
      await p.halt(e.name, "its init is gone").catch((err: Error) => this.log(`zone '${e.name}': halt failed: ${err.message}`));
    }).catch((err: Error) => this.log(`zone '${e.name}': ${err.message}`));
  }
  const active = new Set(entries.filter((e) => ["ready", "running"].includes(e.state)).map((e) => e.name));
  const listed = new Set(entries.map((e) => e.name));
  // A zone the index does not name is known not to exist only if no bad line could be it and no document names it.
  const unsure = (id: string): boolean => !listed.has(id) && (scan.bad.length > 0 || p.repo.documents().includes(id));
  for (const id of await p.runtime.list()) {
    if (active.has(id) || this.queues.has(id)) continue;
    if (unsure(id)) {
      this.log(`leaving container '${id}' alone: the repository does not say its zone is halted`);
      continue;
    }
    this.log(`removing container '${id}' that no ready or running zone owns`);
    await p.runtime.delete(id, true).catch(() => undefined);
  }
  // Network left by a crash mid-boot or mid-halt (network.ts): only zones alive keep theirs.
  await p.network.sweep((z) => this.queues.has(z) || ((active.has(z) || unsure(z)) && alive(p.readRun(z)?.pid ?? 0)));
}

/**
 * Reap the inits we are parent of (as subreaper) and act on their end: an init killed
 * by SIGHUP ran reboot(2) in its pid namespace, so the zone boots again; any other
 * end (SIGINT is halt or power-off) halts it. Inits of an earlier daemon are not our
 * children: their end is seen as a vanished process and halts the zone.
 */
export function supervise(this: Daemon): void {
  // Halts that could not write their state (a full disk) are recorded once there is room.
  for (const name of this.platform.unrecorded) if (!this.queues.has(name)) void this.serialize(name, async () => this.platform.retryUnrecorded(name));
  const holders = ++ticks % HOLDER_TICKS === 0;
  for (const e of this.readable()) {
    if ((e.state !== "running" && e.state !== "ready") || this.queues.has(e.name)) continue;
    const run = this.platform.readRun(e.name);
    if (!run || run.pid === 0) continue;
    if (holders && run.consoleHolder > 0 && !alive(run.consoleHolder)) replaceHolder.call(this, e.name);
    // Reap only pids we know: waitpid(-1) would steal Node's own children's statuses.
    const end = this.reaper.ended(run.pid);
    if (end === undefined) continue;
    const reaped = end !== "gone";
    const status = reaped ? end : 0;
    const signal = status & 0x7f;
    void this.serialize(e.name, async () => {
      const now = this.platform.repo.find(e.name);
      if (!now || (now.state !== "running" && now.state !== "ready")) return;
      if (signal === SIGHUP) {
        const now = Date.now();
        const times = (this.reboots.get(e.name) ?? []).filter((t) => now - t < REBOOT_WINDOW_MS);
        if (times.length >= REBOOT_LIMIT) {
          this.reboots.delete(e.name);
          const why = `rebooted ${REBOOT_LIMIT} times in ${REBOOT_WINDOW_MS / 1000} s; halted (zoneadm boot to try again)`;
          await this.platform.halt(e.name, why);
          writeHaltNote(this.paths, e.name, why);
          this.log(`zone '${e.name}': ${why}`);
          return;
        }
        this.reboots.set(e.name, [...times, now]);
        await this.platform.halt(e.name, "its init rebooted the zone");
        await this.platform.boot(e.name);
      } else {
        const why = !reaped ? "its init is gone" : signal !== 0 ? `its init ended on signal ${signal}` : `its init exited with status ${(status >> 8) & 0xff}`;
        await this.platform.halt(e.name, why);
      }
    }).catch((err: Error) => this.log(`zone '${e.name}': ${err.message}`));
  }
  this.lxcfs.check();
  const orphans = this.reaper.sweep();
  if (orphans > 0) this.log(`zoneadmd ${process.pid}: reaped ${orphans} orphaned process${orphans === 1 ? "" : "es"}`);
}

/**
 * A zone's console holder is gone while the zone runs (host root killed it: `killall
 * sleep` reaches every holder). The pty lives on in zoneadmd's own copy of the master:
 * a new holder takes that copy, or the console would die at the daemon's next restart.
 */
function replaceHolder(this: Daemon, name: string): void {
  void this.serialize(name, async () => {
    const run = this.platform.readRun(name);
    const state = this.platform.repo.find(name)?.state;
    const master = this.consoles.master(name);
    if (!run?.consoleHolder || alive(run.consoleHolder) || (state !== "running" && state !== "ready") || master === undefined) return;
    const peer = run.consolePeer ? consolePeer(master) : undefined;
    let holder: number;
    try {
      holder = await spawnHolder(this.platform.runDir(name), master, peer);
    } finally {
      if (peer !== undefined) fs.closeSync(peer);
    }
    writeRun(this.paths, name, { ...run, consoleHolder: holder });
    this.log(`zone '${name}': its console holder ${run.consoleHolder} is gone; holder ${holder} holds the console now`);
  }).catch((err: Error) => this.log(`zone '${name}': console holder not replaced: ${err.message}`));
}

/** After a restart: take each running zone's console back from its holder process. */
export function recoverConsoles(this: Daemon): void {
  for (const e of this.readable()) {
    if (e.state !== "ready" && e.state !== "running") continue;
    const run = this.platform.readRun(e.name);
    if (!run?.consoleHolder) continue;
    if (!alive(run.consoleHolder)) {
      this.log(`zone '${e.name}': console not recovered: its holder ${run.consoleHolder} is gone (the zone has a console again at its next boot)`);
      continue;
    }
    try {
      this.consoles.opened(e.name, fdOfProcess(run.consoleHolder, HOLDER_FD));
    } catch (err) {
      this.log(`zone '${e.name}': console not recovered: ${(err as Error).message}`);
    }
  }
}
