/**
 * zlogin's escape sequence: the escape character (default '~') typed at the start of a
 * line, then '.', disconnects. Anything else after the escape character is passed on,
 * the escape character included; typing it twice sends it once.
 */
export class EscapeFilter {
  private atLineStart = true;
  private pending = false;

  constructor(private readonly escape: number | undefined) {}

  /** Bytes to send on, and whether the user asked to disconnect. */
  feed(input: Buffer): { out: Buffer; disconnect: boolean } {
    if (this.escape === undefined) return { out: input, disconnect: false };
    const out: number[] = [];
    for (const b of input) {
      if (this.pending) {
        this.pending = false;
        if (b === 0x2e) return { out: Buffer.from(out), disconnect: true }; // '.'
        if (b !== this.escape) out.push(this.escape);
        out.push(b);
      } else if (this.atLineStart && b === this.escape) {
        this.pending = true;
        continue;
      } else out.push(b);
      this.atLineStart = b === 0x0d || b === 0x0a;
    }
    return { out: Buffer.from(out), disconnect: false };
  }
}
