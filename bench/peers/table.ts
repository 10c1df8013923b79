/** The lifecycle benchmark's samples, its side-by-side tables and its "Aims" check. */
import { percentile } from "../stats.js";

export class Samples {
  private readonly times = new Map<string, number[]>();

  add(name: string, ms: number): void {
    (this.times.get(name) ?? this.times.set(name, []).get(name)!).push(ms);
  }

  timed(name: string, fn: () => void): void {
    const t0 = process.hrtime.bigint();
    fn();
    this.add(name, Number(process.hrtime.bigint() - t0) / 1e6);
  }

  async timedAsync(name: string, fn: () => Promise<unknown> | void): Promise<void> {
    const t0 = process.hrtime.bigint();
    await fn();
    this.add(name, Number(process.hrtime.bigint() - t0) / 1e6);
  }

  /** p50 or p99 of a case, or null when it was not measured (a peer that is not installed). */
  p(name: string, pct: number): number | null {
    const t = this.times.get(name);
    return t?.length ? percentile([...t].sort((a, b) => a - b), pct) : null;
  }

  /** Our case, then each peer's, with our p50 as a multiple of that peer's. */
  report(title: string, groups: Array<[string, string[]]>): void {
    console.log(`\n${title}`);
    console.log(`${"case".padEnd(58)} ${"p50 ms".padStart(9)} ${"p99 ms".padStart(9)}  ours/peer (p50)`);
    const row = (name: string, ratio: string): void => {
      const p50 = this.p(name, 50);
      if (p50 === null) return;
      console.log(`${name.padEnd(58)} ${p50.toFixed(2).padStart(9)} ${this.p(name, 99)!.toFixed(2).padStart(9)}  ${ratio}`);
    };
    for (const [ours, peers] of groups) {
      row(ours, "");
      const o = this.p(ours, 50);
      for (const peer of peers) {
        const q = this.p(peer, 50);
        row(peer, o !== null && q ? `${(o / q).toFixed(2)}x` : "");
      }
    }
  }

  /** Each aim: ours ≤ node's start + the runtime's own cost (sum of p50s) + a slack in ms. */
  aims(node: string, list: Array<{ label: string; ours: string; runtime: string[]; slack: number }>): void {
    console.log(`\nAims (bounds from this run's p50s; node = "${node}")`);
    console.log(`${"aim".padEnd(62)} ${"ours p50".padStart(9)} ${"bound".padStart(8)} ${"ours-(node+rt)".padStart(15)}  result`);
    const n = this.p(node, 50);
    for (const a of list) {
      const ours = this.p(a.ours, 50);
      const rt = a.runtime.map((r) => this.p(r, 50));
      const label = a.label;
      if (ours === null || n === null || rt.some((x) => x === null)) {
        console.log(`${label.padEnd(62)} not measured`);
        continue;
      }
      const base = n + rt.reduce<number>((s, x) => s + x!, 0);
      const bound = base + a.slack;
      console.log(`${label.padEnd(62)} ${ours.toFixed(2).padStart(9)} ${bound.toFixed(2).padStart(8)} ${(ours - base).toFixed(2).padStart(15)}  ${ours <= bound ? "met" : "NOT met"}`);
    }
  }
}
