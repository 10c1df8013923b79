/**
 * The LXC peer: the runc peer's busybox tree started by lxc-start with Debian's
 * unprivileged defaults (common.conf + userns.conf: seccomp, capability drops; lxcfs's
 * hooks cleared), the same uid range mapped (lxc.idmap), no network. Containers live
 * under the bench's own lxcpath (-P), their cgroups under one group named after the bench.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { cgroupsLeft, quiet, removeCgroupTree, SubIds, which } from "./util.js";

const CONFIGS = "/usr/share/lxc/config";

export class LxcPeer {
  readonly lxcpath: string;
  readonly cgroup = `zones-bench-lxc-${process.pid}`;
  private readonly ids: SubIds;
  private readonly names = new Set<string>();

  /** Why LXC cannot be measured here, or null when it can. */
  static missing(): string | null {
    return which("lxc-start") && which("lxc-attach") && which("lxc-stop") ? null : "lxc-start not found (apt-get install -y lxc)";
  }

  constructor(dir: string, private readonly root: string, private readonly base: number, private readonly size: number, private readonly log: number) {
    this.lxcpath = path.join(dir, "lxc");
    this.ids = new SubIds(base, size);
    fs.mkdirSync(this.lxcpath, { recursive: true, mode: 0o755 });
    this.ids.add();
  }

  /** Write container `name`'s config (copying a config is the nearest thing to lxc-create for a ready tree). */
  define(name: string): void {
    const inc = (f: string): string => (fs.existsSync(path.join(CONFIGS, f)) ? `lxc.include = ${path.join(CONFIGS, f)}\n` : "");
    const cg = `${this.cgroup}/${name}`;
    fs.mkdirSync(path.join(this.lxcpath, name), { recursive: true });
    fs.writeFileSync(
      path.join(this.lxcpath, name, "config"),
      inc("common.conf") +
        inc("userns.conf") +
        // common.conf pulls in lxcfs's hooks; lxcfs is not running here, and its post-stop
        // hook is a bare `sleep 0.5s` that would be all of lxc-stop's time.
        "lxc.hook.mount =\nlxc.hook.post-stop =\n" +
        `lxc.uts.name = ${name}\nlxc.rootfs.path = dir:${this.root}\nlxc.net.0.type = empty\n` +
        `lxc.idmap = u 0 ${this.base} ${this.size}\nlxc.idmap = g 0 ${this.base} ${this.size}\n` +
        "lxc.init.cmd = /sbin/init\nlxc.autodev = 1\nlxc.console.path = none\nlxc.apparmor.profile = unconfined\n" +
        `lxc.cgroup.dir.monitor = ${cg}/monitor\nlxc.cgroup.dir.container = ${cg}/payload\nlxc.cgroup.dir.monitor.pivot = ${cg}/pivot\n`,
    );
    this.names.add(name);
  }

  private cmd(tool: string, name: string, ...args: string[]): void {
    quiet([tool, "-P", this.lxcpath, "-n", name, ...args], this.log);
  }

  start(name: string): void {
    this.cmd("lxc-start", name, "-d");
  }

  exec(name: string): void {
    this.cmd("lxc-attach", name, "--", "/bin/true");
  }

  stop(name: string): void {
    this.cmd("lxc-stop", name, "-k");
  }

  /** Containers lxc-ls still lists under the bench's lxcpath. */
  listed(): string[] {
    const r = spawnSync("lxc-ls", ["-P", this.lxcpath, "-1"], { encoding: "utf8" });
    return (r.stdout ?? "").split("\n").filter(Boolean);
  }

  /** Stop everything, drop the config dir, the cgroups, the sub-id lines; say what is left. */
  cleanup(): string[] {
    for (const name of new Set([...this.names, ...this.listed()])) {
      spawnSync("lxc-stop", ["-P", this.lxcpath, "-n", name, "-k"], { stdio: "ignore" });
    }
    const running = spawnSync("lxc-ls", ["-P", this.lxcpath, "-1", "--running"], { encoding: "utf8" }).stdout ?? "";
    removeCgroupTree(this.cgroup);
    this.ids.remove();
    fs.rmSync(this.lxcpath, { recursive: true, force: true });
    const left = running.split("\n").filter(Boolean).map((n) => `lxc container "${n}" still running`);
    return [...left, ...cgroupsLeft(this.cgroup).map((c) => `cgroup "${c}" left`)];
  }
}
