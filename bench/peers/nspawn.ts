/**
 * The systemd-nspawn peer: the runc peer's busybox tree, its uid range as a private
 * user namespace (--private-users=<base>:65536, files left as they are), no network,
 * not registered with machined (PID 1 here is not systemd: --register=no --keep-unit).
 * nspawn has no "exec into a running container" without machined, so it is measured
 * twice: booting /sbin/init until it runs, and a fresh container running /bin/true to
 * completion. With --keep-unit nspawn makes payload/ and supervisor/ groups beside its
 * own, so it is started from a group named after the bench, removed at the end.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { cgroupsLeft, removeCgroupTree, sleepMs, which } from "./util.js";

/** The hierarchies nspawn makes groups in (the unified one and name=systemd), with our group there. */
function ownHierarchies(): Array<{ root: string; self: string }> {
  const v2 = fs.existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
  const out: Array<{ root: string; self: string }> = [];
  for (const line of fs.readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const [, ctl, p] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (p === undefined) continue;
    const root = ctl === "" ? v2 : ctl === "name=systemd" ? "/sys/fs/cgroup/systemd" : null;
    if (root && fs.existsSync(path.join(root, "cgroup.procs"))) out.push({ root, self: p });
  }
  return out;
}

export class NspawnPeer {
  readonly cgroup = `zones-bench-nspawn-${process.pid}`;
  readonly machine = `zbn${process.pid}`;
  private readonly groups = ownHierarchies();
  private child: ChildProcess | null = null;

  static missing(): string | null {
    return which("systemd-nspawn") ? null : "systemd-nspawn not found (apt-get install -y systemd-container)";
  }

  constructor(private readonly root: string, private readonly base: number, private readonly size: number, private readonly log: number) {
    for (const g of this.groups) fs.mkdirSync(path.join(g.root, this.cgroup), { recursive: true });
  }

  private args(cmd: string): string[] {
    return ["-q", "-D", this.root, `--machine=${this.machine}`, "--register=no", "--keep-unit", `--private-users=${this.base}:${this.size}`, "--private-users-ownership=off", "--private-network", "--console=pipe", "--kill-signal=SIGKILL", cmd];
  }

  /** Move this process into the bench's group (children inherit it); outside the timed part: a move can take ms. */
  enter(): void {
    for (const g of this.groups) fs.writeFileSync(path.join(g.root, this.cgroup, "cgroup.procs"), String(process.pid));
  }

  leave(): void {
    for (const g of this.groups) fs.writeFileSync(path.join(g.root, g.self, "cgroup.procs"), String(process.pid));
  }

  /** Start nspawn in the background; return once the tree's /sbin/init runs as the container's pid 1. */
  start(): void {
    this.child = spawn("systemd-nspawn", this.args("/sbin/init"), { stdio: ["ignore", this.log, this.log] });
    const procs = path.join(this.groups[0]!.root, this.cgroup, "payload", "cgroup.procs");
    const deadline = Date.now() + 10_000;
    for (;;) {
      let pids: string[] = [];
      try {
        pids = fs.readFileSync(procs, "utf8").split("\n").filter(Boolean);
      } catch {
        // payload group not made yet
      }
      for (const pid of pids) {
        try {
          if (fs.readFileSync(`/proc/${pid}/comm`, "utf8") === "init\n") return;
        } catch {
          // gone between the two reads
        }
      }
      if (Date.now() > deadline) throw new Error(`systemd-nspawn -D "${this.root}": no init in "${procs}" after 10 s`);
      sleepMs(0.2);
    }
  }

  /** SIGTERM to nspawn: it kills the container's init (--kill-signal=SIGKILL) and exits when it is gone. */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c) return;
    this.child = null;
    if (c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGTERM");
    });
  }

  /** A fresh container running /bin/true to completion. */
  runTrue(): void {
    const r = spawnSync("systemd-nspawn", this.args("/bin/true"), { stdio: ["ignore", this.log, this.log] });
    if (r.status !== 0) throw new Error(`systemd-nspawn -D "${this.root}" /bin/true failed (status ${r.status ?? r.signal})`);
  }

  private pidsIn(group: string): string[] {
    try {
      return fs.readFileSync(path.join(this.groups[0]!.root, this.cgroup, group, "cgroup.procs"), "utf8").split("\n").filter(Boolean);
    } catch {
      return [];
    }
  }

  /**
   * Kill whatever still runs (the container's init first: its pid namespace dies with it),
   * remove the groups and nspawn's per-machine run files; say what is left. Synchronous,
   * so a signal handler can run it before the process exits.
   */
  cleanup(): string[] {
    for (const pid of this.pidsIn("payload")) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.child?.kill("SIGKILL");
    this.child = null;
    const deadline = Date.now() + 3000;
    while (this.pidsIn("payload").length + this.pidsIn("supervisor").length > 0 && Date.now() < deadline) sleepMs(5);
    try {
      this.leave();
    } catch {
      // never entered
    }
    removeCgroupTree(this.cgroup);
    const prop = `/run/systemd/nspawn/propagate/${this.machine}`;
    spawnSync("umount", ["-l", prop], { stdio: "ignore" });
    fs.rmSync(prop, { recursive: true, force: true });
    return cgroupsLeft(this.cgroup).map((c) => `cgroup "${c}" left`);
  }
}
