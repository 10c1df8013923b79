/**
 * ZONES_TRACE=1: a timing line per step of a lifecycle operation, on stderr of the
 * process that runs it (zoneadmd's log, or a test's), for profiling a boot without a
 * debugger. Off, a step costs one boolean test: the variable is read once, at load.
 *
 *   const t = traceSpan(`boot ${name}`); ...; t.step("mounts"); ...; t.end();
 *
 * prints `trace boot d0: +12.3 ms mounts (12.3 ms total)` per step.
 */
const ON = process.env.ZONES_TRACE === "1";

export interface TraceSpan {
  /** The time since the last step (or the start), under `what`. */
  step(what: string): void;
  /** The total since the start. */
  end(what?: string): void;
}

const OFF: TraceSpan = { step: () => {}, end: () => {} };

export function traceOn(): boolean {
  return ON;
}

export function traceSpan(label: string): TraceSpan {
  if (!ON) return OFF;
  const start = performance.now();
  let last = start;
  const line = (what: string): void => {
    const now = performance.now();
    process.stderr.write(`trace ${label}: +${(now - last).toFixed(1)} ms ${what} (${(now - start).toFixed(1)} ms total)\n`);
    last = now;
  };
  return { step: line, end: (what = "end") => line(what) };
}
