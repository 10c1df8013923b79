/**
 * zonecfg's command streams (-f FILE, -f -, piped standard input), read whole before any
 * command runs, since a stream that fails part-way must commit nothing. Read as a
 * stream, not with readFileSync: standard input may be a pipe in non-blocking mode
 * (EAGAIN), arrive slowly, or be a device that never ends (/dev/zero).
 */
import * as fs from "node:fs";
import type { Readable } from "node:stream";
import { ZoneError } from "../../lib/errors.js";

/** Far above any real configuration (an export is a few KiB), far below a full memory. */
export const MAX_STREAM_BYTES = 16 * 1024 * 1024;

const tooLong = (name: string, limit: number): ZoneError => new ZoneError(`${name}: command stream is longer than ${limit / (1024 * 1024)} MiB; nothing was read`);

/**
 * A regular file's text, read synchronously from its current offset; undefined for
 * anything else (pipe, terminal, device), which is read as a stream. The usual `-f FILE`
 * then costs no stream machinery (~8 ms of a zonecfg run to load and iterate).
 */
function readRegular(fd: number, name: string, limit: number): string | undefined {
  if (!fs.fstatSync(fd).isFile()) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const b = Buffer.allocUnsafe(64 * 1024);
    const n = fs.readSync(fd, b, 0, b.length, null);
    if (n === 0) break;
    size += n;
    if (size > limit) throw tooLong(name, limit);
    chunks.push(b.subarray(0, n));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The text of FILE, or of standard input for "-", refused past `limit` bytes. */
export async function readCommandStream(file: string, limit = MAX_STREAM_BYTES): Promise<string> {
  const name = file === "-" ? "standard input" : file;
  try {
    if (file === "-") {
      const text = readRegular(0, name, limit);
      if (text !== undefined) return text;
    } else {
      // O_NONBLOCK: opening a FIFO with no writer must not hang here; the stream below
      // reopens it without the flag and waits as before.
      const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      try {
        const text = readRegular(fd, name, limit);
        if (text !== undefined) return text;
      } finally {
        fs.closeSync(fd);
      }
    }
  } catch (e) {
    if (e instanceof ZoneError) throw e;
    throw new ZoneError(`cannot read ${name}: ${(e as Error).message}`);
  }
  const stream: Readable = file === "-" ? process.stdin : fs.createReadStream(file);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > limit) throw tooLong(name, limit);
      chunks.push(b);
    }
  } catch (e) {
    if (e instanceof ZoneError) throw e;
    throw new ZoneError(`cannot read ${name}: ${(e as Error).message}`);
  } finally {
    // A stream left open (a writer still writing) would keep the process alive.
    stream.destroy();
  }
  return Buffer.concat(chunks).toString("utf8");
}
