/**
 * Keystrokes into a pty master, in the order they came.
 *
 * fs.write runs on libuv's thread pool, so two writes in flight may land in either
 * order: "zonename" typed fast into the web console arrived as "zonenaem". Here one
 * write is in flight at a time and the rest wait in a queue.
 *
 * The master is non-blocking (tty.ReadStream set O_NONBLOCK on it to read it), so a
 * write may be short or refused with EAGAIN while the zone does not read its terminal:
 * the rest of a short write goes next, and a refused write is tried again shortly.
 * Any other error (EIO: the other side is gone) ends the input; what is queued is
 * dropped, as a terminal that hung up drops it.
 */
import * as fs from "node:fs";

/** How long a write refused with EAGAIN waits before it is tried again. */
const RETRY_MS = 10;

export class PtyInput {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private writing = false;
  private ended = false;

  /** `onWritten` is told after each write, with the bytes still queued. */
  constructor(
    private readonly fd: number,
    private readonly onWritten: (queued: number) => void = () => undefined,
  ) {}

  /** Bytes accepted and not yet written. */
  get queued(): number {
    return this.queuedBytes;
  }

  write(d: Buffer): void {
    if (this.ended || d.length === 0) return;
    this.queue.push(d);
    this.queuedBytes += d.length;
    if (!this.writing) this.next();
  }

  /** No more writes: what is queued is dropped (the caller closes the descriptor). */
  end(): void {
    this.ended = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  private next(): void {
    const d = this.queue[0];
    if (this.ended || d === undefined) {
      this.writing = false;
      return;
    }
    this.writing = true;
    fs.write(this.fd, d, 0, d.length, null, (err, n) => {
      if (this.ended) return void (this.writing = false);
      if (err) {
        if (err.code === "EAGAIN") return void setTimeout(() => this.next(), RETRY_MS);
        this.end();
        this.writing = false;
        return;
      }
      this.queuedBytes -= n;
      if (n < d.length) this.queue[0] = d.subarray(n);
      else this.queue.shift();
      this.onWritten(this.queuedBytes);
      this.next();
    });
  }
}
