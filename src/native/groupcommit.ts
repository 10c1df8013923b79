/**
 * Group commit: requests made in the same turn of the event loop are written together.
 * A durable write here costs two fsyncs (5-10 ms on a busy disk), and zoneadmd is one
 * thread: each install's state changes and slot allocation used to block every other
 * zone's operation for that long, one after another. Requests queued while the loop is
 * busy are handed to one `write` call on the next turn (setImmediate), which does one
 * locked, durable write for all of them; each caller's promise settles only after that
 * write, so nothing proceeds on a change that is not yet on disk.
 *
 * `write` returns one result per request, in order: a value, or an Error for a request
 * refused on its own (the others are still written). If `write` throws, nothing was
 * written and every request of the batch is rejected with that error.
 */
export class GroupCommit<Req, Res> {
  private pending: { req: Req; resolve: (r: Res) => void; reject: (e: Error) => void }[] = [];
  private scheduled = false;
  /** Batches written and requests in them, for benchmarks and tests. */
  batches = 0;
  requests = 0;

  constructor(private readonly write: (reqs: Req[]) => (Res | Error)[]) {}

  submit(req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.pending.push({ req, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.batches++;
    this.requests += batch.length;
    let results: (Res | Error)[];
    try {
      results = this.write(batch.map((b) => b.req));
      if (results.length !== batch.length) throw new Error(`group commit: ${results.length} results for ${batch.length} requests`);
    } catch (e) {
      for (const b of batch) b.reject(e as Error);
      return;
    }
    batch.forEach((b, i) => {
      const r = results[i]!;
      if (r instanceof Error) b.reject(r);
      else b.resolve(r);
    });
  }
}
