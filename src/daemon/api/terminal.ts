/**
 * A process in a zone on a host pty (pty.ts), relayed to WebSockets: exec with
 * "interactive" and the login stream. Binary frames are keystrokes; the pty's output
 * goes back as binary frames, paced by the socket (the pty is read only while the
 * client keeps up). The client leaving hangs the session up (SIGHUP, then SIGKILL to
 * the runtime, which passes the hangup on), as zlogin's does.
 */
import type { ChildProcess, StdioOptions } from "node:child_process";
import * as fs from "node:fs";
import * as tty from "node:tty";
import { shellStatus } from "../login.js";
import { PtyInput } from "../ptyinput.js";
import { parseControl } from "./control.js";
import { ApiError } from "./errors.js";
import { openPty, resizePty } from "../../native/pty.js";
import type { WebSocket } from "./websocket.js";

/** Keystroke bytes queued for the pty before the client is paused. */
const MAX_QUEUED = 16 * 1024;
/** How long output may still come after the runtime exited. */
const DRAIN_MS = 1000;

export type Starter = (stdio: StdioOptions) => ChildProcess | string;

export class Terminal {
  readonly status: Promise<number>;
  private readonly child: ChildProcess;
  private readonly output: tty.ReadStream;
  private readonly master: number;
  private readonly keys: PtyInput;
  private ended = false;
  private paused = false;
  private client?: WebSocket;

  /** Throws with the reason the process could not start. */
  constructor(start: Starter, rows: number, cols: number) {
    const pty = openPty(rows, cols);
    let started: ChildProcess | string;
    try {
      started = start([pty.slave, pty.slave, pty.slave]);
    } finally {
      // The runtime has its copies: ours would keep the pty open after it is gone.
      fs.closeSync(pty.slave);
    }
    if (typeof started === "string") {
      fs.closeSync(pty.master);
      throw new ApiError(409, started);
    }
    this.child = started;
    this.master = pty.master;
    this.output = new tty.ReadStream(pty.master);
    this.keys = new PtyInput(pty.master, (queued) => {
      if (this.paused && queued < MAX_QUEUED) {
        this.paused = false;
        this.client?.resume();
      }
    });
    const outputDone = new Promise<void>((r) => {
      this.output.on("end", r);
      this.output.on("close", r);
      // EIO once the runtime, the last holder of the slave, is gone.
      this.output.on("error", () => r());
    });
    this.status = new Promise<number>((resolve) => {
      this.child.once("error", () => resolve(127));
      this.child.once("exit", (code, signal) => {
        this.ended = true;
        const status = shellStatus(code, signal);
        const timer = setTimeout(() => resolve(status), DRAIN_MS);
        void outputDone.then(() => {
          clearTimeout(timer);
          resolve(status);
        });
      });
    }).then((s) => {
      // No keystroke may be written once the master is closed and its number reused.
      this.keys.end();
      this.output.destroy();
      return s;
    });
  }

  /** Relay `ws` both ways; `inbandControl`: its text frames are control messages (control.ts). */
  attach(ws: WebSocket, inbandControl: boolean): void {
    this.client = ws;
    this.output.on("data", (d: Buffer) => {
      if (!ws.send(d)) {
        this.output.pause();
        ws.once("drain", () => this.output.resume());
      }
    });
    ws.on("message", (d, binary) => {
      if (binary || !inbandControl) return this.input(d, ws);
      this.control(d.toString("utf8"), ws);
    });
    ws.on("close", () => this.hangup());
    void this.status.then((s) => ws.close(1000, `exit status ${s}`));
  }

  /** A control message (exec's control socket, or an in-band text frame); a bad one is answered, not fatal. */
  control(text: string, ws: WebSocket): void {
    try {
      const c = parseControl(text);
      if (c.command === "window-resize") this.resize(c.height, c.width);
      else if (!this.ended) this.child.kill(c.signal);
    } catch (e) {
      ws.send(JSON.stringify({ error: (e as Error).message }));
    }
  }

  resize(rows: number, cols: number): void {
    if (this.ended) return;
    resizePty(this.master, rows, cols);
    // The runtime reads the new size from its stdin (the slave) when told.
    this.child.kill("SIGWINCH");
  }

  hangup(): void {
    if (this.ended) return;
    this.child.kill("SIGHUP");
    setTimeout(() => !this.ended && this.child.kill("SIGKILL"), 2000).unref();
  }

  private input(d: Buffer, ws: WebSocket): void {
    if (this.ended) return;
    this.keys.write(d);
    if (this.keys.queued >= MAX_QUEUED && !this.paused) {
      this.paused = true;
      ws.pause();
    }
  }
}
