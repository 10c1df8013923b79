/**
 * A real terminal whose keyboard a test holds: `script` gives the command a pty; the
 * test types into it and reads the screen.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as fs from "node:fs";

export class Terminal {
  readonly child: ChildProcessWithoutNullStreams;
  screen = "";
  private static readonly opened = new Set<Terminal>();

  /** A terminal that closeAll() kills, for tests that fail half-way. */
  static open(command: string, env: NodeJS.ProcessEnv): Terminal {
    const t = new Terminal(command, env);
    Terminal.opened.add(t);
    t.child.on("exit", () => Terminal.opened.delete(t));
    return t;
  }

  static closeAll(): void {
    for (const t of Terminal.opened) t.kill();
  }

  /** `command` is a shell command line run on the terminal. */
  constructor(command: string, env: NodeJS.ProcessEnv) {
    this.child = spawn("script", ["-qec", command, "/dev/null"], { env });
    this.child.stdout.on("data", (d: Buffer) => (this.screen += d.toString().replace(/\r/g, "")));
  }

  type(s: string): void {
    this.child.stdin.write(s);
  }

  /** Waits until the screen matches. */
  async see(re: RegExp, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.screen)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; screen:\n${this.screen}`);
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  /** Types `keys` every half second until the screen matches (for effects that lag). */
  async typeUntil(keys: string, re: RegExp, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.screen)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; screen:\n${this.screen}`);
      this.type(keys);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** The exit status of the terminal's command; fails after `ms`, showing the screen. */
  exited(ms = 15_000): Promise<number | null> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null) return resolve(this.child.exitCode);
      const timer = setTimeout(() => reject(new Error(`the terminal's command did not exit; screen:\n${this.screen}`)), ms);
      this.child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}

/**
 * The stdin of the one runtime `exec` of a zlogin session under root directory `dir`
 * (its link, and its terminal modes by stty -a), to see what the runtime was given.
 */
export function runtimeExecStdin(dir: string): { link: string; modes: string } {
  const execs: [string, string][] = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (argv.includes("exec") && argv.some((a) => a.startsWith(dir))) execs.push([pid, argv.join(" ")]);
    } catch {
      // gone meanwhile
    }
  }
  if (execs.length !== 1) throw new Error(`not one runtime exec under ${dir}: ${JSON.stringify(execs)}`);
  const link = fs.readlinkSync(`/proc/${execs[0]![0]}/fd/0`);
  const modes = link.startsWith("/dev/pts/") ? spawnSync("stty", ["-F", link, "-a"], { encoding: "utf8" }).stdout : "";
  return { link, modes };
}
