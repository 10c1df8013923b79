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

/** The text of FILE, or of standard input for "-", refused past `limit` bytes. */
export async function readCommandStream(file: string, limit = MAX_STREAM_BYTES): Promise<string> {
  const name = file === "-" ? "standard input" : file;
  const stream: Readable = file === "-" ? process.stdin : fs.createReadStream(file);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > limit) throw new ZoneError(`${name}: command stream is longer than ${limit / (1024 * 1024)} MiB; nothing was read`);
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
