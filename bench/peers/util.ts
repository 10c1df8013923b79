/** Small helpers the benchmark's peers share: quiet commands, tool presence, cgroups, sub-id ranges. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** Run a command with its output in `log`; throw one line naming it if it fails. */
export function quiet(argv: string[], log: number): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ["ignore", log, log] });
  if (r.status !== 0) throw new Error(`"${argv.join(" ")}" failed (status ${r.status ?? r.signal})`);
}

/** The path of a command on PATH, or null: a peer that is not installed is skipped, not an error. */
export function which(cmd: string): string | null {
  for (const d of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** Every cgroup hierarchy root: /sys/fs/cgroup itself (pure v2) and each v1/unified mount under it. */
export function hierarchies(): string[] {
  let subs: string[] = [];
  try {
    subs = fs.readdirSync("/sys/fs/cgroup").map((h) => path.join("/sys/fs/cgroup", h));
  } catch {
    return [];
  }
  return ["/sys/fs/cgroup", ...subs].filter((h) => fs.existsSync(path.join(h, "cgroup.procs")));
}

/** Remove a cgroup and everything below it, deepest first, in every hierarchy; busy groups stay. */
export function removeCgroupTree(name: string): void {
  const rm = (dir: string): void => {
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // absent in this hierarchy
    }
    for (const e of entries) if (e.isDirectory()) rm(path.join(dir, e.name));
    try {
      fs.rmdirSync(dir);
    } catch {
      // still has processes: the caller reports leftovers
    }
  };
  for (const h of hierarchies()) rm(path.join(h, name));
}

/** Cgroups named `name` still present in any hierarchy (for the leftover check). */
export function cgroupsLeft(name: string): string[] {
  return hierarchies().map((h) => path.join(h, name)).filter((d) => fs.existsSync(d));
}

/**
 * Entries `root:<base>:<count>` in /etc/subuid and /etc/subgid. When newuidmap is
 * installed LXC maps ids through it even as root, and newuidmap allows only ranges
 * /etc/subuid grants; the bench adds its one range and removes exactly that line after.
 */
export class SubIds {
  private readonly line: string;
  private added: string[] = [];
  constructor(base: number, count: number) {
    this.line = `root:${base}:${count}`;
  }
  add(): void {
    for (const f of ["/etc/subuid", "/etc/subgid"]) {
      const text = fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
      if (text.split("\n").includes(this.line)) continue; // already granted: not ours to remove
      replace(f, `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}${this.line}\n`);
      this.added.push(f);
    }
  }
  remove(): void {
    for (const f of this.added) {
      const lines = fs.readFileSync(f, "utf8").split("\n");
      const i = lines.indexOf(this.line);
      if (i >= 0) lines.splice(i, 1);
      replace(f, lines.join("\n"));
    }
    this.added = [];
  }
}

/** Write a file by rename so a reader (newuidmap, a slot allocation) never sees half of it. */
function replace(file: string, text: string): void {
  const tmp = `${file}.zones-bench-${process.pid}`;
  const mode = fs.existsSync(file) ? fs.statSync(file).mode & 0o7777 : 0o644;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

/** Sleep without yielding to the event loop: polls for a peer's init stay out of Node's timers. */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
