/** Shared by the command tests: a private ZONES_ROOT and a way to run bin/ commands in it. */
import { spawnSync, type ChildProcessByStdio, type SpawnSyncReturns } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { zonePaths } from "../../src/document/store/paths.js";
import { fileURLToPath } from "node:url";

/** The checkout: this file compiles to dist/test/support, three levels below it. */
export const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const BIN = path.join(TOP, "bin");

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** The output and exit status of a child started with piped stdout and stderr. */
export function collect(child: ChildProcessByStdio<Writable | null, Readable, Readable>): Promise<Result> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

/** A fresh ZONES_ROOT under the system temp dir; remove() deletes every trace. */
export class TestRoot {
  readonly dir: string;
  constructor(tag: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `zones-${tag}-`));
    // Zones' runtimes reach their root trees from inside the zone's user namespace.
    fs.chmodSync(this.dir, 0o755);
  }
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, ZONES_ROOT: this.dir, NODE_EXTRA_CA_CERTS: "" };
  }
  /** `timeoutMs`: longer for what waits on the network (apt in a zone through the package proxy). */
  run(cmd: string, args: string[], input?: string, timeoutMs = 30_000): Result {
    const r: SpawnSyncReturns<string> = spawnSync(path.join(BIN, cmd), args, { env: this.env, input: input ?? "", encoding: "utf8", timeout: timeoutMs });
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }
  /** Run and insist on success, returning stdout. */
  ok(cmd: string, args: string[], input?: string, timeoutMs?: number): string {
    const r = this.run(cmd, args, input, timeoutMs);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  }
  get configDir(): string {
    return path.join(this.dir, "etc/zones");
  }
  remove(): void {
    // A command that goes through zoneadmd (zoneadm clone, ...) started the root's daemon:
    // removing its directory does not end it.
    try {
      const pid = Number(fs.readFileSync(path.join(zonePaths(this.env).runDir, "zoneadmd.pid"), "utf8"));
      // Never 0 or less: kill(0) would end this process group, the test runner with it.
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGKILL");
    } catch {
      // none started, or already gone
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Poll `cond` every 50 ms until it holds; fail naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
