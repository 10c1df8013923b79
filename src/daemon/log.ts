/**
 * zoneadmd's log (`<runDir>/zoneadmd.log`). Zones can make the daemon log (a refused
 * broker call, an offer), so a zone must not be able to fill the host's disk, bury the
 * global zone's own lines, or write into the log what is not a log line:
 *
 * - Every line is escaped with printable() and cut at MAX_LINE characters: one entry is
 *   one line, and nothing a zone chose reaches a terminal that shows the log raw.
 * - Lines caused by a zone's requests name their zone and a kind (`from`). Each zone
 *   and kind may write BURST lines per window (10 s); the rest are counted, and when
 *   the window ends one line says how many were suppressed. Lines without `from` are
 *   the global zone's own operations (state transitions, halts, the daemon's start):
 *   they are never suppressed. They are rare by nature: each costs a boot or a halt.
 * - Past maxBytes (8 MiB) the file is renamed to zoneadmd.log.1 (replacing the one
 *   before) and a new one is opened: at most about twice maxBytes on disk.
 * - Writing never throws: a line that cannot be written (ENOSPC, EBADF, ...) is counted
 *   and dropped, and the next line that can be written says how many were lost.
 */
import * as fs from "node:fs";
import { printable } from "../native/printable.js";

export const LOG_MAX_BYTES = 8 << 20;
export const BURST = 20;
export const WINDOW_MS = 10_000;
/** Longest line written, in characters after escaping (a stack trace fits). */
export const MAX_LINE = 8192;

/** Who caused a line: a zone and what it did (a fixed word chosen by the caller, never zone text). */
export interface LogSource {
  zone: string;
  kind: string;
}

export type LogFn = (line: string, from?: LogSource) => void;

export interface ZoneLogOptions {
  maxBytes?: number;
  burst?: number;
  windowMs?: number;
}

interface Window {
  from: LogSource;
  start: number;
  passed: number;
  suppressed: number;
  timer?: NodeJS.Timeout;
}

export class ZoneLog {
  private fd = -1;
  private size = 0;
  private readonly windows = new Map<string, Window>();
  private readonly maxBytes: number;
  private readonly burst: number;
  private readonly windowMs: number;
  /** Lines lost to write errors (since the last one that could be written), and the last error. */
  private lost = 0;
  private lastError = "";
  /** Totals since the start (what tests and diagnostics look at). */
  dropped = 0;
  suppressed = 0;

  constructor(
    readonly file: string,
    opts: ZoneLogOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? LOG_MAX_BYTES;
    this.burst = opts.burst ?? BURST;
    this.windowMs = opts.windowMs ?? WINDOW_MS;
    this.open();
  }

  /** Log `line` (raw text: it is escaped here), within `from`'s budget if it has one; false when over it. */
  write(line: string, from?: LogSource): boolean {
    if (from && !this.admit(from)) return false;
    this.emit(line);
    return true;
  }

  /** End every window (writing its summary) and close the file. */
  close(): void {
    for (const key of [...this.windows.keys()]) this.endWindow(key);
    this.closeFd();
  }

  private admit(from: LogSource): boolean {
    const key = `${from.zone}\0${from.kind}`;
    const now = Date.now();
    let w = this.windows.get(key);
    if (w && now - w.start >= this.windowMs) {
      this.endWindow(key);
      w = undefined;
    }
    if (!w) {
      w = { from, start: now, passed: 0, suppressed: 0 };
      this.windows.set(key, w);
    }
    if (w.passed < this.burst) {
      w.passed++;
      return true;
    }
    w.suppressed++;
    this.suppressed++;
    // The summary is due when the window ends, even if the zone has gone quiet by then.
    if (!w.timer) w.timer = setTimeout(() => this.endWindow(key), Math.max(0, w.start + this.windowMs - now)).unref();
    return false;
  }

  private endWindow(key: string): void {
    const w = this.windows.get(key);
    if (!w) return;
    clearTimeout(w.timer);
    this.windows.delete(key);
    if (w.suppressed === 0) return;
    const secs = Math.max(1, Math.round((Date.now() - w.start) / 1000));
    this.emit(`zone '${w.from.zone}': ${w.suppressed} similar lines (${w.from.kind}) suppressed in the last ${secs} s`);
  }

  private emit(line: string): void {
    let text = printable(line);
    if (text.length > MAX_LINE) text = `${text.slice(0, MAX_LINE)}... (${text.length - MAX_LINE} more characters)`;
    const stamp = new Date().toISOString();
    if (this.lost > 0 && this.put(`${stamp} zoneadmd: ${this.lost} log lines lost (${this.lastError})\n`)) this.lost = 0;
    if (!this.put(`${stamp} ${text}\n`)) {
      this.lost++;
      this.dropped++;
    }
  }

  /** One write; false (never an exception) when it failed. */
  private put(text: string): boolean {
    if (this.fd < 0) this.open();
    if (this.fd < 0) return false;
    const data = Buffer.from(text);
    try {
      fs.writeSync(this.fd, data);
    } catch (e) {
      this.lastError = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      // A descriptor that went bad (EBADF) is opened again at the next line.
      if (this.lastError === "EBADF") this.fd = -1;
      return false;
    }
    this.size += data.length;
    if (this.size >= this.maxBytes) this.rotate();
    return true;
  }

  /** The full file becomes <file>.1 (the older .1 is replaced); a new file takes its place. */
  private rotate(): void {
    this.closeFd();
    try {
      fs.renameSync(this.file, `${this.file}.1`);
    } catch (e) {
      this.lastError = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
    this.open();
  }

  private open(): void {
    try {
      this.fd = fs.openSync(this.file, "a", 0o600);
      this.size = fs.fstatSync(this.fd).size;
    } catch (e) {
      this.lastError = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      this.fd = -1;
    }
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // nothing to do: the descriptor is gone either way
    }
    this.fd = -1;
  }
}
