/**
 * zonecfg's command streams (-f FILE, -f -, piped standard input), read whole before any
 * command runs, since a stream that fails part-way must commit nothing. Read as a
 * stream, not with readFileSync: standard input may be a pipe in non-blocking mode
 * (EAGAIN), arrive slowly, or be a device that never ends (/dev/zero).
 */
import * as fs from "node:fs";
import type { Readable } from "node:stream";
import { ZoneError } from "../../native/errors.js";

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
  const fail = (e: unknown): ZoneError => (e instanceof ZoneError ? e : new ZoneError(`cannot read ${name}: ${(e as Error).message}`));
  let fd: number;
  try {
    // A FIFO's open waits for its writer here as the stream's did; nothing else runs
    // meanwhile. The stream below then reads this same descriptor: reopening a FIFO
    // would lose what a writer wrote before its end closed.
    fd = file === "-" ? 0 : fs.openSync(file, "r");
  } catch (e) {
    throw fail(e);
  }
  try {
    const text = readRegular(fd, name, limit);
    if (text !== undefined) {
      if (file !== "-") fs.closeSync(fd);
      return text;
    }
  } catch (e) {
    if (file !== "-") fs.closeSync(fd);
    throw fail(e);
  }
  const stream: Readable = file === "-" ? process.stdin : fs.createReadStream(file, { fd });
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
    throw fail(e);
  } finally {
    // A stream left open (a writer still writing) would keep the process alive.
    stream.destroy();
  }
  return Buffer.concat(chunks).toString("utf8");
}
