/** Timing helpers shared by the benchmarks: run commands interleaved, report p50/p99. */
import { spawnSync } from "node:child_process";

export interface Case {
  name: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Time each case `rounds` times, interleaved so that machine noise hits all alike. */
export function measure(cases: Case[], rounds: number): Map<string, number[]> {
  const times = new Map(cases.map((c) => [c.name, [] as number[]]));
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      const t0 = process.hrtime.bigint();
      const res = spawnSync(c.argv[0]!, c.argv.slice(1), { env: c.env ?? process.env, stdio: ["ignore", "ignore", "pipe"] });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (res.status !== 0) throw new Error(`${c.name} failed (${res.status}): ${res.stderr}`);
      times.get(c.name)!.push(ms);
    }
  }
  return times;
}

/** A table of p50/p99 and each case's p50 as a ratio of the baseline's. */
export function report(title: string, times: Map<string, number[]>, baseline: string): string {
  const base = percentile([...times.get(baseline)!].sort((a, b) => a - b), 50);
  const lines = [title, `${"case".padEnd(34)} ${"p50 ms".padStart(9)} ${"p99 ms".padStart(9)} ${"x " + baseline}`];
  for (const [name, t] of times) {
    const s = [...t].sort((a, b) => a - b);
    const p50 = percentile(s, 50);
    lines.push(`${name.padEnd(34)} ${p50.toFixed(2).padStart(9)} ${percentile(s, 99).toFixed(2).padStart(9)} ${(p50 / base).toFixed(2).padStart(8)}`);
  }
  return lines.join("\n");
}
