/**
 * The debian bench's peers: systemd-nspawn -b and lxc-start booting the debian image
 * tree (through a PeerRoot overlay) with its own systemd as init, in a user namespace
 * mapping the peer's uid range as a zone's is (unprivileged in the sense that counts:
 * the container's root is not host root), no network.
 *
 * Both are driven to the points the zone is: `systemctl is-system-running` says
 * running (or degraded), a command run inside (nsenter into init's namespaces, as
 * nspawn has no exec without machined; lxc-attach), and power-off by systemd's own
 * signal, SIGRTMIN+4 to the container's init, until the container is gone (nspawn: its
 * process exits; LXC: lxc-stop with lxc.signal.halt = SIGRTMIN+4 sends it and waits).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PeerGroup } from "./groups.js";
import type { PeerRoot } from "./overlay.js";
import { quiet, sleepMs } from "./util.js";

/** glibc's SIGRTMIN is 34 (the kernel's 32 and 33 are its own); +4 is systemd's poweroff. Node has no name for it. */
export const SIGRTMIN_4 = 38;

const STATE = /^(running|degraded)\b/;

/**
 * systemd's own part of a boot, from its start to the default target ("Startup finished
 * in 846ms (userspace)"), in ms, or null if it cannot tell: what separates the
 * container's setup from what systemd then does inside.
 */
export function userspaceMs(text: string): number | null {
  const m = /Startup finished in (?:.*?= )?((?:\d+min )?[\d.]+m?s) \(userspace\)/.exec(text) ?? /in ((?:\d+min )?[\d.]+m?s) \(userspace\)/.exec(text);
  if (!m) return null;
  let ms = 0;
  for (const [, v, unit] of m[1]!.matchAll(/([\d.]+)(min|ms|s)/g)) ms += Number(v) * (unit === "min" ? 60_000 : unit === "s" ? 1000 : 1);
  return ms;
}

/** Poll `probe` (systemctl is-system-running inside) until systemd has finished starting; the state it reached. */
function pollRunning(what: string, probe: () => string): string {
  const end = Date.now() + 60_000;
  for (;;) {
    const out = probe().trim();
    if (STATE.test(out)) return out;
    if (Date.now() > end) throw new Error(`${what}: systemd did not finish starting in 60 s: "${out}"`);
    sleepMs(10); // the same pause between polls for every contestant
  }
}

function out(argv: string[]): string {
  return spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).stdout ?? "";
}

/** systemd-nspawn -b of one PeerRoot, started in its own PeerGroup. */
export class NspawnBoot {
  private child: ChildProcess | null = null;
  private nspawnPid = 0;
  init = 0;

  constructor(private readonly peer: PeerRoot, private readonly group: PeerGroup, private readonly machine: string, private readonly base: number, private readonly size: number, private readonly log: number) {}

  /**
   * Start nspawn in the background; return once the container's init runs. nspawn's
   * first child is its "outer child", which sets up the root and ends; the init it
   * starts becomes nspawn's child in turn: pid 1 of its own namespace, exec'd systemd.
   */
  start(): void {
    const args = ["-q", "-b", "-D", this.peer.root, `--machine=${this.machine}`, "--register=no", "--keep-unit", `--private-users=${this.base}:${this.size}`, "--private-users-ownership=off", "--private-network", "--console=pipe", "--kill-signal=SIGKILL"];
    this.child = this.group.run(() => spawn("systemd-nspawn", args, { stdio: ["ignore", this.log, this.log] }));
    this.nspawnPid = this.child.pid ?? 0;
    const deadline = Date.now() + 10_000;
    while (this.init === 0) {
      this.init = this.containerInit();
      if (this.init !== 0) break;
      if (!fs.existsSync(`/proc/${this.nspawnPid}`)) throw new Error(`systemd-nspawn -D "${this.peer.root}" ended before its init ran (see the bench's peers.log)`);
      if (Date.now() > deadline) throw new Error(`systemd-nspawn -D "${this.peer.root}": no init after 10 s`);
      sleepMs(1);
    }
  }

  /** nspawn's child that is pid 1 of a namespace of its own and runs systemd, or 0. */
  private containerInit(): number {
    let kids: string[] = [];
    try {
      kids = fs.readFileSync(`/proc/${this.nspawnPid}/task/${this.nspawnPid}/children`, "utf8").trim().split(" ").filter(Boolean);
    } catch {
      return 0;
    }
    for (const k of kids) {
      try {
        const status = fs.readFileSync(`/proc/${k}/status`, "utf8");
        if (/^NSpid:\s+\d+\s+1$/m.test(status) && /^Name:\s+(systemd|init)$/m.test(status)) return Number(k);
      } catch {
        // ended between the two reads
      }
    }
    return 0;
  }

  untilRunning(): string {
    return pollRunning(`nspawn container "${this.machine}"`, () => out(["nsenter", "-t", String(this.init), "-a", "systemctl", "is-system-running"]));
  }

  analyze(): string {
    return out(["nsenter", "-t", String(this.init), "-a", "systemd-analyze", "time"]);
  }

  failed(): string[] {
    return out(["nsenter", "-t", String(this.init), "-a", "systemctl", "--failed", "--no-legend", "--plain"]).split("\n").map((l) => l.split(" ")[0]!).filter(Boolean);
  }

  exec(): void {
    quiet(["nsenter", "-t", String(this.init), "-a", "/bin/true"], this.log);
  }

  /** SIGRTMIN+4 to init: systemd stops its units and powers off; nspawn exits when init is gone. */
  async poweroff(): Promise<void> {
    const c = this.child;
    if (!c) return;
    if (c.exitCode === null && c.signalCode === null) {
      await new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        process.kill(this.init, SIGRTMIN_4);
      });
    }
    this.child = null;
  }

  /** Synchronous, for a failing run: kill the container and nspawn (all of its group), drop nspawn's run files. */
  kill(): void {
    if (this.child) {
      this.group.kill();
      const deadline = Date.now() + 3000;
      while (this.nspawnPid > 0 && fs.existsSync(`/proc/${this.nspawnPid}`) && Date.now() < deadline) sleepMs(5);
    }
    this.child = null;
    this.propagate();
  }

  /** nspawn's mount-propagation directory, which --register=no leaves behind. */
  propagate(): void {
    const prop = `/run/systemd/nspawn/propagate/${this.machine}`;
    spawnSync("umount", ["-l", prop], { stdio: "ignore" });
    fs.rmSync(prop, { recursive: true, force: true });
  }
}

const CONFIGS = "/usr/share/lxc/config";

/** One LXC container of a PeerRoot under the bench's private lxcpath. */
export class LxcBoot {
  constructor(private readonly lxcpath: string, private readonly name: string, private readonly peer: PeerRoot, private readonly base: number, private readonly size: number, private readonly cgroup: string, private readonly log: number) {
    const inc = (f: string): string => (fs.existsSync(path.join(CONFIGS, f)) ? `lxc.include = ${path.join(CONFIGS, f)}\n` : "");
    fs.mkdirSync(path.join(lxcpath, name), { recursive: true });
    fs.writeFileSync(
      path.join(lxcpath, name, "config"),
      // Debian's own defaults for a Debian guest, unprivileged (userns): what lxc-create -t debian writes.
      inc("debian.common.conf") +
        inc("debian.userns.conf") +
        // lxcfs is not running here; its post-stop hook is a bare half-second sleep.
        "lxc.hook.mount =\nlxc.hook.post-stop =\n" +
        `lxc.uts.name = ${name}\nlxc.rootfs.path = dir:${peer.root}\nlxc.net.0.type = empty\n` +
        `lxc.idmap = u 0 ${base} ${size}\nlxc.idmap = g 0 ${base} ${size}\n` +
        "lxc.console.path = none\nlxc.apparmor.profile = unconfined\n" +
        // systemd powers off on SIGRTMIN+4; LXC's default halt signal (SIGPWR) only reaches sigpwr.target.
        "lxc.signal.halt = SIGRTMIN+4\n" +
        `lxc.cgroup.dir.monitor = ${cgroup}/monitor\nlxc.cgroup.dir.container = ${cgroup}/payload\nlxc.cgroup.dir.monitor.pivot = ${cgroup}/pivot\n`,
    );
  }

  private tool(t: string, ...args: string[]): string[] {
    return [t, "-P", this.lxcpath, "-n", this.name, ...args];
  }

  start(): void {
    quiet(this.tool("lxc-start", "-d"), this.log);
  }

  untilRunning(): string {
    return pollRunning(`lxc container "${this.name}"`, () => out(this.tool("lxc-attach", "--", "systemctl", "is-system-running")));
  }

  analyze(): string {
    return out(this.tool("lxc-attach", "--", "systemd-analyze", "time"));
  }

  failed(): string[] {
    return out(this.tool("lxc-attach", "--", "systemctl", "--failed", "--no-legend", "--plain")).split("\n").map((l) => l.split(" ")[0]!).filter(Boolean);
  }

  exec(): void {
    quiet(this.tool("lxc-attach", "--", "/bin/true"), this.log);
  }

  /** lxc-stop: the halt signal (SIGRTMIN+4) to init, then wait until the container has stopped. */
  poweroff(): void {
    quiet(this.tool("lxc-stop", "-t", "60"), this.log);
  }

  kill(): void {
    spawnSync("lxc-stop", ["-P", this.lxcpath, "-n", this.name, "-k"], { stdio: "ignore" });
    fs.rmSync(path.join(this.lxcpath, this.name), { recursive: true, force: true });
  }
}
