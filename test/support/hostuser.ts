/**
 * A real unprivileged host user for a test (useradd -M, no login shell), removed at the
 * end, also when the test failed: its processes (found by uid, all started by the
 * test) are killed first, so userdel never refuses.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { BIN, collect, type Result } from "./helpers.js";

export class HostUser {
  readonly name: string;
  readonly uid: number;

  constructor(tag: string) {
    this.name = `zadm-${tag}-${Math.random().toString(36).slice(2, 8)}`;
    const r = spawnSync("useradd", ["-M", "-s", "/usr/sbin/nologin", this.name], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`useradd ${this.name}: ${r.stderr}`);
    this.uid = Number(spawnSync("id", ["-u", this.name], { encoding: "utf8" }).stdout.trim());
  }

  /** A new host user, recorded in `users` for the test's after() to remove. */
  static into(users: HostUser[], tag: string): HostUser {
    const u = new HostUser(tag);
    users.push(u);
    return u;
  }

  /** The argv that runs `cmd` as this user, with no supplementary groups. */
  argv(cmd: string, args: string[]): string[] {
    return ["setpriv", `--reuid=${this.uid}`, `--regid=${this.uid}`, "--clear-groups", "--", cmd, ...args];
  }

  /** Run a bin/ command as this user. */
  run(env: NodeJS.ProcessEnv, cmd: string, args: string[], input = ""): Result {
    return this.exec(env, path.join(BIN, cmd), args, input);
  }

  exec(env: NodeJS.ProcessEnv, file: string, args: string[], input = ""): Result {
    const [bin, ...rest] = this.argv(file, args);
    const r = spawnSync(bin!, rest, { env, input, encoding: "utf8", timeout: 30_000, cwd: "/" });
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** The same, not waiting: for sessions a test signals. */
  start(env: NodeJS.ProcessEnv, cmd: string, args: string[]): { pid: number; done: Promise<Result> } {
    const [bin, ...rest] = this.argv(path.join(BIN, cmd), args);
    const child = spawn(bin!, rest, { env, stdio: ["ignore", "pipe", "pipe"], cwd: "/" });
    return { pid: child.pid!, done: collect(child) };
  }

  /** Pids of this user's processes. */
  processes(): number[] {
    const out: number[] = [];
    for (const p of fs.readdirSync("/proc")) {
      if (!/^[0-9]+$/.test(p)) continue;
      try {
        if (fs.statSync(`/proc/${p}`).uid === this.uid) out.push(Number(p));
      } catch {
        // gone
      }
    }
    return out;
  }

  remove(): void {
    for (const pid of this.processes()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    spawnSync("userdel", [this.name]);
  }
}
