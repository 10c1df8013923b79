// @ts-check
// Where a sparkline's points go, apart from the DOM so that it can be tested alone: x by
// each sample's time across the span shown, so that an hour with a gap (the zone halted,
// the daemon restarted) looks like one; y by value against the top of the scale.

/**
 * The polylines of a sparkline: one "x,y x,y …" per unbroken run of two points or more.
 * With `times` (ms, one per value), x is the time within [last - span, last] (span in
 * seconds; without one, the samples' own extent), and the line breaks where two samples
 * lie more than three usual intervals apart. Without times, points are spaced evenly.
 * A value that is not a number breaks the line too.
 * @param {number[]} values oldest first
 * @param {{ width: number, height: number, max?: number, times?: number[], span?: number }} o
 * @returns {string[]}
 */
export function sparkRuns(values, o) {
  const { width: w, height: ht } = o;
  const timed = Array.isArray(o.times) && o.times.length === values.length && o.times.every((t) => Number.isFinite(t));
  /** @type {(i: number) => number} where sample i lies, 0..1; NaN when outside the span */
  let at = (i) => (values.length > 1 ? i / (values.length - 1) : 0);
  /** @type {(i: number) => boolean} a gap between samples i-1 and i */
  let gap = () => false;
  if (timed && values.length > 1) {
    const ts = /** @type {number[]} */ (o.times);
    const end = ts[ts.length - 1];
    const spanMs = o.span && o.span > 0 ? o.span * 1000 : end - ts[0];
    const diffs = ts.slice(1).map((t, i) => t - ts[i]).sort((a, b) => a - b);
    const usual = diffs[Math.floor(diffs.length / 2)];
    at = (i) => (spanMs > 0 && ts[i] >= end - spanMs ? 1 - (end - ts[i]) / spanMs : Number.NaN);
    gap = (i) => usual > 0 && ts[i] - ts[i - 1] > 3 * usual;
  }
  // The scale's top: the caller's, or the largest value shown.
  const shown = values.filter((v, i) => Number.isFinite(v) && Number.isFinite(at(i)));
  const max = Math.max(o.max ?? 0, ...shown) || 1;
  const y = (/** @type {number} */ v) => (ht - 1 - (v / max) * (ht - 2)).toFixed(1);
  /** @type {string[]} */
  const runs = [];
  /** @type {string[]} */
  let run = [];
  const close = () => {
    if (run.length >= 2) runs.push(run.join(" "));
    run = [];
  };
  values.forEach((v, i) => {
    const x = at(i);
    if (!Number.isFinite(v) || !Number.isFinite(x) || (i > 0 && gap(i))) close();
    if (Number.isFinite(v) && Number.isFinite(x)) run.push(`${(x * (w - 2) + 1).toFixed(1)},${y(v)}`);
  });
  close();
  return runs;
}
