/**
 * The OCI runtime behind a thin interface with no state of its own (podman's model):
 * runc and crun take the same verbs; the runtime keeps its state under our run
 * directory (--root), so each ZONES_ROOT has its own and `runc list` of the host's
 * default root never sees zones.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { spawnWatched, type Exit } from "../../native/posixspawn.js";
import { memlockOfBundle, withMemlock } from "../cgroups/memlock.js";
import { ZoneError } from "../../native/errors.js";
import { startThroughFifo } from "./execfifo.js";

export type RuntimeName = "runc" | "crun";

export interface ContainerState {
  status: "creating" | "created" | "running" | "paused" | "stopped";
  pid: number;
}

export interface RuntimeVersion {
  name: RuntimeName;
  version: string;
  /** Set when the version predates known security fixes. */
  warning?: string;
}

export interface ExecOptions {
  /** Path of an OCI process JSON (user, args, env, cwd, terminal). */
  processFile: string;
  /** Write the exec'd process's host pid here. */
  pidFile?: string;
}

export interface OciRuntime {
  readonly name: RuntimeName;
  version(): RuntimeVersion;
  /** Create the container (namespaces, mounts, cgroup) with init stopped before exec. */
  /** With `consoleSocket`, init's terminal (process.terminal) is sent there as a pty master. */
  create(id: string, bundle: string, pidFile: string, log: string, consoleSocket?: string): Promise<void>;
  /** create and start in one (`run -d`): for a zone with nothing to plumb between them. */
  run(id: string, bundle: string, pidFile: string, log: string, consoleSocket?: string): Promise<void>;
  /** Let init exec; `pid`, init's host pid, lets runc's be started without runc (execfifo.ts). */
  start(id: string, pid?: number): Promise<void>;
  state(id: string): Promise<ContainerState | undefined>;
  /** Does the runtime keep a container `id`? Its state directory, read without running the runtime. */
  exists(id: string): boolean;
  kill(id: string, signal: string, all: boolean): Promise<void>;
  delete(id: string, force: boolean): Promise<void>;
  list(): Promise<string[]>;
  /** argv that runs a process in the container with the caller's stdio (zlogin spawns it). */
  execArgv(id: string, opts: ExecOptions): string[];
}

/** Known security fixes each runtime version must include (reference/linux-notes.md). */
const FIXES: Record<RuntimeName, { min: string; what: string }> = {
  runc: { min: "1.2.8", what: "CVE-2025-31133, CVE-2025-52565, CVE-2025-52881" },
  crun: { min: "1.19", what: "CVE-2025-31133-class /dev/null and procfs races fixed in later releases" },
};

function older(a: string, b: string): boolean {
  const pa = a.split(/[.+~-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.+~-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0;
  }
  return false;
}

class CliRuntime implements OciRuntime {
  constructor(
    readonly name: RuntimeName,
    private readonly bin: string,
    private readonly stateDir: string,
  ) {}

  private invoke(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.bin, ["--root", this.stateDir, ...args], { encoding: "utf8", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new ZoneError(`${this.name} ${args[0]} failed: ${(stderr || err.message).trim().split("\n").pop()}`));
        else resolve(stdout);
      });
    });
  }

  version(): RuntimeVersion {
    const r = spawnSync(this.bin, ["--version"], { encoding: "utf8" });
    const m = /version\s+([0-9][^\s]*)/.exec(r.stdout ?? "");
    const version = m?.[1] ?? "unknown";
    const fix = FIXES[this.name];
    const warning = version === "unknown" || older(version, fix.min) ? `${this.name} ${version} predates ${fix.min} (${fix.what}); upgrade it` : undefined;
    return { name: this.name, version, warning };
  }

  create(id: string, bundle: string, pidFile: string, log: string, consoleSocket?: string): Promise<void> {
    return this.spawnInit("create", [], id, bundle, pidFile, log, consoleSocket);
  }

  run(id: string, bundle: string, pidFile: string, log: string, consoleSocket?: string): Promise<void> {
    return this.spawnInit("run", ["--detach"], id, bundle, pidFile, log, consoleSocket);
  }

  private async spawnInit(verb: "create" | "run", flags: string[], id: string, bundle: string, pidFile: string, log: string, consoleSocket?: string): Promise<void> {
    fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    const console = consoleSocket ? ["--console-socket", consoleSocket] : [];
    // Under the zone's RLIMIT_MEMLOCK, which its init inherits (memlock.ts).
    const [bin, ...argv] = withMemlock(memlockOfBundle(bundle), [this.bin, "--root", this.stateDir, verb, ...flags, "--bundle", bundle, "--pid-file", pidFile, ...console, id]);
    // The container's init inherits the runtime's stdio, so it gets the zone's log file
    // and /dev/null: no pipe of ours, and nothing else, leaks into the zone.
    const fd = fs.openSync(log, "a", 0o600);
    let exit: Promise<Exit>;
    try {
      // posix_spawn: the runtime starts at every boot, and a fork of zoneadmd costs its
      // thread more than the runtime does; on a worker thread, as its exec may take a while.
      ({ exit } = await spawnWatched(bin!, argv, { fds: ["null", fd, fd], env: { ...process.env } }));
    } catch (e) {
      throw new ZoneError(`${this.name} ${verb} failed: ${(e as Error).message}`);
    } finally {
      fs.closeSync(fd);
    }
    let code: number | null;
    try {
      ({ code } = await exit);
    } catch (e) {
      throw new ZoneError(`${this.name} ${verb} failed: ${(e as Error).message}`);
    }
    if (code === 0) return;
    const last = fs.readFileSync(log, "utf8").trim().split("\n").pop() ?? "";
    throw new ZoneError(`${this.name} ${verb} failed: ${last}`);
  }

  async start(id: string, pid?: number): Promise<void> {
    if (this.name === "runc" && pid !== undefined && pid > 0 && (await startThroughFifo(this.stateDir, id, pid))) return;
    await this.invoke(["start", id]);
  }

  async state(id: string): Promise<ContainerState | undefined> {
    try {
      const s = JSON.parse(await this.invoke(["state", id])) as { status: ContainerState["status"]; pid: number };
      return { status: s.status, pid: s.pid };
    } catch {
      return undefined;
    }
  }

  exists(id: string): boolean {
    // runc and crun both keep one directory per container under --root.
    return fs.existsSync(`${this.stateDir}/${id}`);
  }

  async kill(id: string, signal: string, all: boolean): Promise<void> {
    await this.invoke(["kill", ...(all ? ["--all"] : []), id, signal]);
  }

  async delete(id: string, force: boolean): Promise<void> {
    await this.invoke(["delete", ...(force ? ["--force"] : []), id]);
  }

  async list(): Promise<string[]> {
    if (!fs.existsSync(this.stateDir)) return [];
    const out = await this.invoke(["list", "-q"]);
    return out.split("\n").filter(Boolean);
  }

  execArgv(id: string, opts: ExecOptions): string[] {
    return [this.bin, "--root", this.stateDir, "exec", "--process", opts.processFile, ...(opts.pidFile ? ["--pid-file", opts.pidFile] : []), id];
  }
}

function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    const p = `${dir}/${bin}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function makeRuntime(name: RuntimeName, stateDir: string): OciRuntime {
  const bin = which(name);
  if (!bin) throw new ZoneError(`${name} is not installed (apt-get install ${name})`);
  return new CliRuntime(name, bin, `${stateDir}/${name}`);
}

/** Pure cgroup v2 hosts can use crun; hybrid and v1 hosts need runc (crun 1.8 refuses them). */
export function pureCgroupV2(): boolean {
  try {
    return fs.statfsSync("/sys/fs/cgroup").type === 0x63677270; // CGROUP2_SUPER_MAGIC
  } catch {
    return false;
  }
}

/** The runtime this host's cgroup layout allows, honouring ZONES_RUNTIME=runc|crun. */
export function chooseRuntime(stateDir: string, env: NodeJS.ProcessEnv = process.env): OciRuntime {
  const wanted = env.ZONES_RUNTIME;
  if (wanted === "runc" || wanted === "crun") return makeRuntime(wanted, stateDir);
  if (wanted !== undefined && wanted !== "") throw new ZoneError(`ZONES_RUNTIME must be runc or crun: ${JSON.stringify(wanted)}`);
  if (pureCgroupV2() && which("crun")) return makeRuntime("crun", stateDir);
  return makeRuntime("runc", stateDir);
}
