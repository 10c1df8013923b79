/**
 * A cgroup for one peer container, made below this process's own group in every
 * hierarchy (so a limit the bench runs under still holds its peers), to start the peer
 * from and to read its memory from after. The bench moves itself in around the spawn
 * (children inherit the group) and back at once.
 */
import * as fs from "node:fs";
import * as path from "node:path";

interface Own {
  /** The hierarchy's mount. */
  mount: string;
  /** This process's group in it, relative to the mount. */
  self: string;
  memory: boolean;
}

/** This process's group in each mounted hierarchy, from /proc/self/cgroup. */
function ownGroups(): Own[] {
  const v2 = fs.existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
  const out: Own[] = [];
  for (const line of fs.readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const [, ctl, self] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (ctl === undefined || self === undefined) continue;
    const names = ctl === "" ? [] : [ctl.replace(/^name=/, ""), ctl.split(",")[0]!.replace(/^name=/, "")];
    const mount = ctl === "" ? v2 : names.map((n) => path.join("/sys/fs/cgroup", n)).find((d) => fs.existsSync(path.join(d, "cgroup.procs")));
    if (mount && fs.existsSync(path.join(mount, "cgroup.procs"))) out.push({ mount, self, memory: ctl.split(",").includes("memory") });
  }
  return out;
}

export interface GroupMemory {
  /** memory.usage_in_bytes (v1) or memory.current (v2). */
  usage: number;
  /** memory.stat's anonymous memory: total_rss (v1) or anon (v2). */
  rss: number;
  /** memory.stat's page cache: total_cache (v1) or file (v2); tmpfs (journald's /run journal) included. */
  cache: number;
  /** Of the cache, tmpfs and shared memory: total_shmem (v1) or shmem (v2). */
  shmem: number;
}

/** Memory charged to the group at `dir` (a v1 memory or a v2 group), in bytes. */
export function groupMemory(dir: string): GroupMemory {
  const read = (f: string): string => {
    try {
      return fs.readFileSync(path.join(dir, f), "utf8");
    } catch {
      return "";
    }
  };
  const stat = read("memory.stat");
  const field = (k: string): number => Number(new RegExp(`^${k} (\\d+)$`, "m").exec(stat)?.[1] ?? 0);
  const v1 = stat.includes("total_rss ");
  return {
    usage: Number(read(v1 ? "memory.usage_in_bytes" : "memory.current").trim() || 0),
    rss: field(v1 ? "total_rss" : "anon"),
    cache: field(v1 ? "total_cache" : "file"),
    shmem: field(v1 ? "total_shmem" : "shmem"),
  };
}

/** Remove `dir` and the groups below it, deepest first; a busy group stays (the caller checks). */
export function rmTree(dir: string): void {
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) rmTree(path.join(dir, e.name));
  try {
    fs.rmdirSync(dir);
  } catch {
    // still has processes
  }
}

/** Give each new cpuset group from `self` down to `rel` its parent's cpus and mems. */
function inheritCpuset(mount: string, self: string, rel: string): void {
  let dir = path.join(mount, self);
  for (const part of rel.split("/").filter(Boolean)) {
    const child = path.join(dir, part);
    for (const f of ["cpuset.cpus", "cpuset.mems"])
      if (fs.readFileSync(path.join(child, f), "utf8").trim() === "") fs.writeFileSync(path.join(child, f), fs.readFileSync(path.join(dir, f), "utf8"));
    dir = child;
  }
}

export class PeerGroup {
  private readonly own = ownGroups();

  /** `rel`: the group's name below this process's own group, e.g. "zones-bench-deb-<pid>/n3". */
  constructor(readonly rel: string) {
    for (const o of this.own) {
      fs.mkdirSync(this.dir(o), { recursive: true });
      // A v1 cpuset group starts with no CPUs and no memory nodes (unless the host set
      // clone_children): each level takes its parent's, or no process may join it.
      if (path.basename(o.mount) === "cpuset") inheritCpuset(o.mount, o.self, this.rel);
    }
  }

  private dir(o: Own): string {
    return path.join(o.mount, o.self, this.rel);
  }

  /** The group in the hierarchy mounted at `mount` (nspawn's payload is below it in systemd's). */
  at(mount: string): string | undefined {
    const o = this.own.find((x) => x.mount === mount);
    return o && this.dir(o);
  }

  /** Run `fn` (a spawn) with this process in the group, so its children start there. */
  run<T>(fn: () => T): T {
    for (const o of this.own) fs.writeFileSync(path.join(this.dir(o), "cgroup.procs"), String(process.pid));
    try {
      return fn();
    } finally {
      for (const o of this.own) fs.writeFileSync(path.join(o.mount, o.self, "cgroup.procs"), String(process.pid));
    }
  }

  memory(): GroupMemory {
    const o = this.own.find((x) => x.memory) ?? this.own.find((x) => x.mount.endsWith("unified") || x.mount === "/sys/fs/cgroup");
    return o ? groupMemory(this.dir(o)) : { usage: 0, rss: 0, cache: 0, shmem: 0 };
  }

  /**
   * SIGKILL everything in the group, nspawn and its container alike (they are ours: they
   * started in it, and a container cannot leave it): cgroup.kill where the kernel has
   * it, else each pid the group lists in every hierarchy.
   */
  kill(): void {
    for (const o of this.own) {
      const dir = this.dir(o);
      try {
        fs.writeFileSync(path.join(dir, "cgroup.kill"), "1");
        return;
      } catch {
        // a v1 hierarchy, or no cgroup.kill: signal the pids below
      }
    }
    const pids = new Set<number>();
    const walk = (d: string): void => {
      try {
        for (const p of fs.readFileSync(path.join(d, "cgroup.procs"), "utf8").split("\n")) if (p) pids.add(Number(p));
        for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
      } catch {
        // gone
      }
    };
    for (const o of this.own) walk(this.dir(o));
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // ended already
      }
    }
  }

  /**
   * Remove the group (and what nspawn made below it) everywhere; say what is left. A
   * container's processes end a moment after its init does: retried for up to 3 s.
   */
  remove(): string[] {
    const deadline = Date.now() + 3000;
    for (;;) {
      for (const o of this.own) rmTree(this.dir(o));
      const left = this.own.map((o) => this.dir(o)).filter((d) => fs.existsSync(d));
      if (left.length === 0 || Date.now() > deadline) return left;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }

  /** The bench's top group (the first part of `rel`) in every hierarchy, removed at the end. */
  static removeTop(top: string): string[] {
    const dirs = ownGroups().map((o) => path.join(o.mount, o.self, top));
    const deadline = Date.now() + 3000;
    for (;;) {
      for (const d of dirs) rmTree(d);
      const left = dirs.filter((d) => fs.existsSync(d));
      if (left.length === 0 || Date.now() > deadline) return left;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
