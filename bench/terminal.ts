/**
 * Terminals, side by side in one run (p50/p99):
 *   - keystroke echo latency: one key typed into a terminal until its echo comes back,
 *     through `zlogin Z` (keys relayed for the escape character), `zlogin -E Z` (the
 *     runtime reads the terminal itself), and a local pty on the host (the peer). In
 *     every case the echo is the line discipline's, with `cat` reading cooked input, so
 *     the difference is the path alone. `script` provides the outer terminal for all.
 *   - console replay: `zlogin -C` attaching to a full console log until the last
 *     replayed byte arrives, beside `cat` of a file of the same size on a local pty.
 *
 *   node dist/bench/terminal.js [keys] [replays]
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { consoleLogFile } from "../src/document/store/runstate.js";
import { zonePaths } from "../src/document/store/paths.js";
import { percentile } from "./stats.js";
import { benchRoot } from "./root.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const keys = Number(process.argv[2] ?? 400);
const replays = Number(process.argv[3] ?? 20);
const { dir, env } = benchRoot("term", { TERM: "dumb" });
const bin = (c: string): string => path.join(TOP, "bin", c);
const results = new Map<string, number[]>();

function sh(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function record(name: string, ms: number): void {
  (results.get(name) ?? results.set(name, []).get(name)!).push(ms);
}

/** A command on a fresh pty; resolves when `pattern` has appeared on its screen. */
class Term {
  readonly child: ChildProcessWithoutNullStreams;
  screen = "";
  private waiter: (() => void) | undefined;
  constructor(command: string) {
    this.child = spawn("script", ["-qec", command, "/dev/null"], { env });
    this.child.stdout.on("data", (d: Buffer) => {
      this.screen += d.toString("latin1");
      this.waiter?.();
    });
  }
  until(test: (screen: string) => boolean, ms = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; screen:\n${this.screen.slice(-500)}`)), ms);
      const check = (): void => {
        if (!test(this.screen)) return;
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
      this.waiter = check;
      check();
    });
  }
  async close(): Promise<void> {
    this.child.kill("SIGKILL");
    await new Promise((r) => this.child.on("exit", r));
  }
}

/** Type `n` letters one at a time into a terminal running cooked `cat`; time each echo. */
async function echoes(name: string, term: Term, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const key = String.fromCharCode(0x61 + (i % 26));
    const before = term.screen.length;
    const t0 = process.hrtime.bigint();
    term.child.stdin.write(key);
    await term.until((s) => s.indexOf(key, before) >= 0);
    record(name, Number(process.hrtime.bigint() - t0) / 1e6);
    if (i % 64 === 63) {
      // A line now and then keeps cat's line buffer short.
      const at = term.screen.length;
      term.child.stdin.write("\n");
      await term.until((s) => s.indexOf("\n", at) >= 0);
    }
  }
}

function report(title: string, peer: string): void {
  console.log(`\n${title}`);
  console.log(`${"case".padEnd(40)} ${"p50 ms".padStart(9)} ${"p99 ms".padStart(9)}  added to peer p50 / p99 (ms)`);
  const sorted = (n: string): number[] => [...results.get(n)!].sort((a, b) => a - b);
  const p = sorted(peer);
  for (const name of results.keys()) {
    if (!name.startsWith(title)) continue;
    const t = sorted(name);
    const diff = (q: number): string => `${percentile(t, q) >= percentile(p, q) ? "+" : ""}${(percentile(t, q) - percentile(p, q)).toFixed(3)}`;
    const added = name === peer ? "" : ` ${diff(50)} / ${diff(99)}`;
    console.log(`${name.slice(title.length + 2).padEnd(40)} ${percentile(t, 50).toFixed(3).padStart(9)} ${percentile(t, 99).toFixed(3).padStart(9)} ${added}`);
  }
}

async function main(): Promise<void> {
  console.log(`Terminal benchmark: ${keys} keys, ${replays} console replays, ${os.cpus().length} CPUs`);
  sh([bin("zonecfg"), "-z", "term", `create; set zonepath=${dir}/zones/term; set brand=minimal`]);
  sh([bin("zoneadm"), "-z", "term", "install"]);
  sh([bin("zoneadm"), "-z", "term", "boot"]);

  // --- echo latency: three terminals open at once, keys interleaved in rounds of 50
  const E = "Echo";
  const terms: Array<[string, Term]> = [
    [`${E}: zlogin term (escape relay)`, new Term(`${bin("zlogin")} -Q term`)],
    [`${E}: zlogin -E term`, new Term(`${bin("zlogin")} -Q -E term`)],
    [`${E}: local pty on the host (peer)`, new Term("exec cat")],
  ];
  for (const [name, t] of terms) {
    if (!name.includes("peer")) {
      // Replace the login shell with cat, and wait until cat is what reads the terminal.
      await t.until((s) => s.includes("#"));
      t.child.stdin.write("stty -ixon; echo READY-$((6 * 7)); exec cat\n");
      await t.until((s) => s.includes("READY-42"));
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  for (let done = 0; done < keys; done += 50) for (const [name, t] of terms) await echoes(name, t, Math.min(50, keys - done));
  report(E, `${E}: local pty on the host (peer)`);
  for (const [, t] of terms) await t.close();

  // --- console replay: fill the console log, then attach until it has all come back
  const paths = zonePaths(env);
  sh([bin("zlogin"), "term", "i=0; while [ $i -lt 3000 ]; do echo console-line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done > /dev/console"]);
  await new Promise((r) => setTimeout(r, 500));
  const logSize = fs.statSync(consoleLogFile(paths, "term")).size;
  const copy = path.join(dir, "console-copy");
  fs.copyFileSync(consoleLogFile(paths, "term"), copy);
  const tail = "console-line-2999-";
  const R = "Replay";
  for (let i = 0; i < replays; i++) {
    let t0 = process.hrtime.bigint();
    const z = new Term(`${bin("zlogin")} -C -Q term`);
    await z.until((s) => s.includes("console-line-"));
    record(`${R}: zlogin -C term, first byte`, Number(process.hrtime.bigint() - t0) / 1e6);
    await z.until((s) => s.includes(tail));
    record(`${R}: zlogin -C term, all ${(logSize / 1024).toFixed(0)} KiB`, Number(process.hrtime.bigint() - t0) / 1e6);
    z.child.stdin.write("~.");
    await new Promise((r) => z.child.on("exit", r));
    t0 = process.hrtime.bigint();
    const c = new Term(`cat ${copy}`);
    await c.until((s) => s.includes(tail));
    record(`${R}: cat of the same bytes on a local pty (peer)`, Number(process.hrtime.bigint() - t0) / 1e6);
    await new Promise((r) => c.child.on("exit", r));
  }
  report(R, `${R}: cat of the same bytes on a local pty (peer)`);
}

function cleanup(): void {
  spawnSync(bin("zoneadm"), ["-z", "term", "halt"], { env });
  spawnSync(bin("zoneadm"), ["-z", "term", "uninstall", "-F"], { env });
  spawnSync(bin("zonecfg"), ["-z", "term", "delete", "-F"], { env });
  try {
    process.kill(Number(fs.readFileSync(path.join(zonePaths(env).runDir, "zoneadmd.pid"), "utf8")), "SIGTERM");
  } catch {
    // the daemon is gone already
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main()
  .catch((e: Error) => {
    console.error(e.message);
    process.exitCode = 1;
  })
  .finally(cleanup);
