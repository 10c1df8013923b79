/**
 * Zone consoles (illumos zcons): the terminal of each zone's init, held by zoneadmd.
 * Output is always read, so init never blocks, and kept in a bounded log that outlives
 * reboots and daemon restarts and is replayed to whoever attaches. One client at a time
 * may attach; it stays attached across reboots of the zone (unless it asked to be
 * dropped at halt) and its keystrokes go to the console.
 */
import * as fs from "node:fs";
import type * as net from "node:net";
import * as path from "node:path";
import type { Duplex } from "node:stream";
import * as tty from "node:tty";
import { sys } from "../native/sys.js";
import type { ConsoleSink } from "../platform/platform.js";
import { consoleLogFile } from "../document/store/runstate.js";
import type { ZonePaths } from "../document/store/paths.js";
import { PtyInput } from "./ptyinput.js";

/** The log is cut back to KEEP bytes whenever it passes LIMIT. */
const LIMIT = 128 * 1024;
const KEEP = 64 * 1024;
/** Keystrokes queued for a console whose zone does not read it; more are dropped, as a full terminal drops them. */
const MAX_QUEUED_INPUT = 64 * 1024;

const BUSY = "the console is in use by another zlogin -C; only one may attach at a time";

interface Client {
  socket: Duplex;
  detachOnHalt: boolean;
}

interface Console {
  master: number;
  stream: tty.ReadStream;
  input: PtyInput;
}

export class ZoneConsoles implements ConsoleSink {
  private readonly consoles = new Map<string, Console>();
  private readonly clients = new Map<string, Client>();
  /** Bytes each zone's console carried since the daemon started, out of the zone and in from clients (metrics.ts). */
  readonly bytes = new Map<string, { out: number; in: number }>();

  constructor(private readonly paths: ZonePaths) {}

  private append(name: string, data: Buffer): void {
    const file = consoleLogFile(this.paths, name);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.appendFileSync(file, data, { mode: 0o600 });
    if (fs.statSync(file).size > LIMIT) {
      const all = fs.readFileSync(file);
      fs.writeFileSync(file, all.subarray(all.length - KEEP));
    }
  }

  private count(name: string): { out: number; in: number } {
    let b = this.bytes.get(name);
    if (!b) this.bytes.set(name, (b = { out: 0, in: 0 }));
    return b;
  }

  /** Forget the counts of zones no longer configured (a deleted or renamed zone's name may come back as another zone). */
  prune(keep: ReadonlySet<string>): void {
    for (const n of this.bytes.keys()) if (!keep.has(n)) this.bytes.delete(n);
  }

  opened(name: string, master: number): void {
    this.closed(name);
    const stream = new tty.ReadStream(master);
    stream.on("data", (d: Buffer) => {
      this.count(name).out += d.length;
      this.append(name, d);
      this.clients.get(name)?.socket.write(d);
    });
    // EIO once every slave is closed: the zone's init is gone.
    stream.on("error", () => undefined);
    this.consoles.set(name, { master, stream, input: new PtyInput(master) });
  }

  /** The zone's console pty master, while the zone has one; the console keeps owning it. */
  master(name: string): number | undefined {
    return this.consoles.get(name)?.master;
  }

  closed(name: string): void {
    const c = this.consoles.get(name);
    if (c) {
      c.input.end();
      c.stream.destroy(); // closes the master
      this.consoles.delete(name);
    }
    const client = this.clients.get(name);
    if (client?.detachOnHalt) client.socket.end();
  }

  /** Is a client attached to `name`'s console now? Only one may be. */
  busy(name: string): boolean {
    const c = this.clients.get(name);
    return c !== undefined && !c.socket.destroyed;
  }

  /** Attach a client (the request line is already read; `rest` is what followed it). */
  attach(name: string, socket: net.Socket, detachOnHalt: boolean, rest: Buffer): void {
    if (this.busy(name)) {
      socket.end(JSON.stringify({ ok: false, error: BUSY }) + "\n");
      return;
    }
    socket.write(JSON.stringify({ ok: true }) + "\n");
    this.join(name, socket, detachOnHalt, rest);
  }

  /**
   * Attach a stream that is not the daemon's line protocol (the API's WebSocket,
   * api/consolews.ts): the log is replayed, then the console's bytes flow both ways.
   * The caller checked busy().
   */
  join(name: string, socket: Duplex, detachOnHalt: boolean, rest: Buffer): void {
    try {
      socket.write(fs.readFileSync(consoleLogFile(this.paths, name)));
    } catch {
      // nothing written to this console yet
    }
    const client: Client = { socket, detachOnHalt };
    this.clients.set(name, client);
    const input = (d: Buffer): void => {
      const c = this.consoles.get(name);
      if (!c || c.input.queued + d.length > MAX_QUEUED_INPUT) return;
      this.count(name).in += d.length;
      c.input.write(d);
    };
    if (rest.length > 0) input(rest);
    socket.on("data", input);
    const gone = (): void => {
      if (this.clients.get(name) === client) this.clients.delete(name);
    };
    socket.on("close", gone);
    socket.on("error", gone);
  }

  /** Set the console's window size (the API's control messages); false while the zone has no console. */
  resize(name: string, rows: number, cols: number): boolean {
    const c = this.consoles.get(name);
    return c !== undefined && sys().setWinsize(c.master, rows, cols) === 0;
  }
}
