/**
 * The runtime's stdin in an interactive zlogin that watches for `~.`: a host pty, not a
 * pipe. Every key must pass through zlogin, yet the runtime needs a terminal on its
 * stdin: crun 1.8 reads and sets its modes there (tcgetattr on a pipe fails: "tcgetattr:
 * Inappropriate ioctl for device", and the login never starts) and takes the zone pty's
 * first size from it (runc reads sizes from the first terminal among its stderr, stdout
 * and stdin: zlogin's own). The slave goes to the runtime; zlogin writes the filtered
 * keys to the master and keeps the master's size equal to its terminal's, set before
 * the runtime is told of a change, so a runtime reads the right size from either. The
 * pty is raw, so the master gives nothing back; what it might is copied to stdout. The
 * runtime still writes the zone's output straight to zlogin's stdout, which
 * rawTerminal() makes raw for output too, as runc does with the terminal it finds and
 * crun does not.
 */
import * as fs from "node:fs";
import * as tty from "node:tty";
import { makeRaw, openPty, resizePty } from "../../native/pty.js";
import { PtyInput } from "../../daemon/ptyinput.js";
import type { WindowSize } from "../../platform/loginproc.js";

/** The size of zlogin's own terminal; 24x80 when it cannot be read. */
export function terminalSize(): WindowSize {
  const out = process.stdout;
  if (out.isTTY) {
    const [width, height] = out.getWindowSize();
    if (height > 0 && width > 0) return { height, width };
  }
  return { height: 24, width: 80 };
}

export class KeyPty {
  /** The runtime's stdin; close it once the runtime has its copy (closeSlave). */
  readonly slave: number;
  private readonly master: number;
  private readonly keys: PtyInput;
  private readonly echo: tty.ReadStream;
  private slaveOpen = true;
  private closed = false;

  constructor() {
    const { height, width } = terminalSize();
    const pty = openPty(height, width);
    // Raw from the start: runc leaves it as it finds it (it makes stderr, our terminal,
    // raw), and a cooked pty would hold keys back until a newline and echo them.
    try {
      makeRaw(pty.slave);
    } catch (e) {
      fs.closeSync(pty.slave);
      fs.closeSync(pty.master);
      throw e;
    }
    this.slave = pty.slave;
    this.master = pty.master;
    this.echo = new tty.ReadStream(pty.master);
    this.echo.on("data", (d: Buffer) => process.stdout.write(d));
    // EIO once the runtime, the last holder of the slave, is gone.
    this.echo.on("error", () => undefined);
    this.keys = new PtyInput(pty.master);
  }

  /** Ours would keep the pty open after the runtime is gone. */
  closeSlave(): void {
    if (this.slaveOpen) fs.closeSync(this.slave);
    this.slaveOpen = false;
  }

  write(d: Buffer): void {
    if (!this.closed) this.keys.write(d);
  }

  /** The terminal's size onto the master, for a runtime that reads it from its stdin when told (SIGWINCH). */
  follow(): void {
    if (this.closed) return;
    const { height, width } = terminalSize();
    try {
      resizePty(this.master, height, width);
    } catch {
      // the session is ending; the size no longer matters
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeSlave();
    // No key may be written once the master is closed and its number reused.
    this.keys.end();
    this.echo.destroy();
  }
}

/**
 * zlogin's own terminal raw for the session: Node's raw mode, which restores the
 * terminal's modes when it is switched off, then output processing off too (the zone's
 * pty has turned each LF into CR LF already; a second pass would show CR CR LF).
 */
export function rawTerminal(): void {
  process.stdin.setRawMode(true);
  try {
    makeRaw(0);
  } catch {
    // Node's raw mode holds: only output keeps its processing
  }
}
