/**
 * The processes zoneadmd becomes parent of without Node knowing: each zone's init,
 * which is reparented to the daemon (a subreaper) when `runc create` exits, and any
 * orphan of a helper killed midway. Node reaps only what it spawned itself (libuv waits
 * for each of its children by pid). An init nobody waits for stays a zombie, and a
 * zombie keeps what its credentials hold, the runtime's session keyring among them:
 * with 200 keys per uid, the 201st boot of a zone would fail.
 *
 * Every child is reaped, whatever its zone's state: the inits the daemon was told of,
 * their wait status kept for the supervisor until it asks; and any other zombie child
 * that is not one of Node's own. Those are known exactly (every spawn goes through
 * ChildProcess.prototype.spawn, and each leaves the set at its exit): a zombie of
 * Node's may wait long for libuv when the loop is busy (ten parallel boots), and
 * taking its status would leave its caller waiting forever. The same holds for a
 * helper started by posix_spawn whose exit someone awaits (native/posixspawn.ts).
 */
import { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { sys } from "../native/sys.js";
import { directChildren, spawnsInFlight } from "../native/posixspawn.js";

/** Pids of the children Node spawned and has not reaped yet. */
const nodeChildren = new Set<number>();
let tracking = false;

/** From now on, note every child Node spawns in this process (once per process). */
function trackNodeChildren(): void {
  if (tracking) return;
  tracking = true;
  const proto = ChildProcess.prototype as unknown as { spawn: (this: ChildProcess, ...args: unknown[]) => unknown };
  const spawn = proto.spawn;
  proto.spawn = function (this: ChildProcess, ...args: unknown[]): unknown {
    const r = spawn.apply(this, args);
    const pid = this.pid;
    if (pid !== undefined) {
      nodeChildren.add(pid);
      this.once("exit", () => nodeChildren.delete(pid));
    }
    return r;
  };
}

const WNOHANG = 1;
const ECHILD = 10;

export class Reaper {
  /** Inits of zones: pid → wait status once reaped, undefined while it runs. */
  private readonly inits = new Map<number, number | undefined>();

  constructor() {
    trackNodeChildren();
  }

  /** `pid` is a zone's new init (a pid reaped before may be reused): its status is kept for `ended` once it is reaped. */
  watch(pid: number): void {
    if (pid > 0) this.inits.set(pid, undefined);
  }

  /**
   * Reap the init `pid` if it has ended. Its wait status, or "gone" for a process that
   * is not (or no longer) our child and has ended; undefined while it runs.
   */
  ended(pid: number): number | "gone" | undefined {
    const kept = this.inits.get(pid);
    if (kept !== undefined) return kept;
    const status = [0];
    const r = sys().waitpid(pid, status, WNOHANG);
    if (r === pid) {
      this.inits.set(pid, status[0]!);
      return status[0]!;
    }
    if (r === 0) return undefined;
    // Not our child (an earlier daemon's init, or reaped already): ended if not alive.
    if (sys().errno() === ECHILD && !liveProcess(pid)) {
      this.inits.delete(pid);
      return "gone";
    }
    return undefined;
  }

  /** Is `pid` a child of ours that still runs? Then its pid cannot be reused until we reap it. */
  owns(pid: number): boolean {
    if (this.inits.get(pid) !== undefined) return false;
    const status = [0];
    const r = sys().waitpid(pid, status, WNOHANG);
    if (r === pid && this.inits.has(pid)) this.inits.set(pid, status[0]!);
    return r === 0;
  }

  /** Wait (at most `ms`) for our child `pid` to end, reap it, and keep nothing of it: halt's last step. */
  async reap(pid: number, ms = 2000): Promise<void> {
    const end = Date.now() + ms;
    while (this.owns(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
    this.inits.delete(pid);
  }

  /**
   * One round: reap inits of zones that moved on without asking (their end was not
   * waited for), and zombie children that are neither inits nor Node's. Returns how
   * many of the latter it reaped.
   */
  sweep(): number {
    for (const [pid, status] of this.inits) if (status === undefined) this.ended(pid);
    let reaped = 0;
    // A child started on a worker thread may have ended before its starter knows its pid.
    if (spawnsInFlight() > 0) return reaped;
    // Inits and awaited children are known and left out before their /proc/PID/stat is read:
    // with a hundred zones running, that was a hundred reads five times a second.
    for (const pid of zombieChildren((pid) => this.inits.has(pid) || nodeChildren.has(pid) || directChildren.has(pid))) {
      if (sys().waitpid(pid, [0], WNOHANG) === pid) reaped++;
    }
    return reaped;
  }

  /** How many zombie children wait to be reaped now. */
  zombies(): number {
    return zombieChildren(() => false).length;
  }

  /** How many inits are watched (for the soak test's count of what is kept). */
  get watched(): number {
    return this.inits.size;
  }
}

/** This process's children that are zombies but those `skip` knows, from every thread's list (a reparented orphan may land on any). */
function zombieChildren(skip: (pid: number) => boolean): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = fs.readdirSync("/proc/self/task");
  } catch {
    return out;
  }
  for (const t of tasks) {
    let children = "";
    try {
      children = fs.readFileSync(`/proc/self/task/${t}/children`, "utf8");
    } catch {
      continue;
    }
    for (const p of children.split(" ")) {
      const pid = Number(p);
      if (pid > 0 && !skip(pid) && processState(pid) === "Z") out.push(pid);
    }
  }
  return out;
}

function processState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2];
  } catch {
    return undefined;
  }
}

function liveProcess(pid: number): boolean {
  const s = processState(pid);
  return s !== undefined && s !== "Z";
}
