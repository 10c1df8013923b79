/**
 * A real terminal whose keyboard a test holds: `script` gives the command a pty; the
 * test types into it and reads the screen.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

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
