/**
 * zonestat at density: wall time of `zonestat 1 1` (one report: two samples one second
 * apart, so ~1000 ms is the floor) and of one sample (in-process, Sampler.sample), for
 * a root with 1 running zone beside a root with N (default 200) running minimal zones,
 * interleaved. Zones are booted in-process through the daemon's Platform code (no
 * network, minimal brand) and halted after.
 *
 *   node dist/bench/zonestat.js [zones] [rounds]
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { chooseRuntime } from "../src/platform/oci/runtime.js";
import { zonePaths } from "../src/document/store/paths.js";
import { Platform } from "../src/platform/platform.js";
import { Repository } from "../src/document/store/repository.js";
import { SlotRegistry } from "../src/platform/slots.js";
import { Sampler } from "../src/cmd/zonestat/sample.js";
import { measure, percentile, report } from "./stats.js";
import { benchRoot, installMinimalZones, removeBenchRoot, type BenchRoot } from "./root.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const want = Math.min(1000, Number(process.argv[2] ?? 200));
const rounds = Number(process.argv[3] ?? 10);

interface Fleet {
  root: BenchRoot;
  platform: Platform;
  names: string[];
}

async function fleet(tag: string, count: number): Promise<Fleet> {
  const root = benchRoot(tag);
  const paths = zonePaths(root.env);
  const repo = new Repository(paths);
  const platform = new Platform(paths, repo, chooseRuntime(paths.runDir, root.env), new SlotRegistry());
  const t0 = Date.now();
  const names = await installMinimalZones(paths, repo, platform, "s", count);
  for (const n of names) await platform.boot(n);
  console.log(`${tag}: ${count} minimal zones installed and booted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { root, platform, names };
}

async function halt(f: Fleet): Promise<void> {
  for (const n of f.names) await f.platform.halt(n).catch(() => undefined);
  await removeBenchRoot(f.root);
}

async function main(): Promise<void> {
  const fleets: Fleet[] = [];
  try {
    fleets.push(await fleet("zstat-1", 1));
    fleets.push(await fleet(`zstat-${want}`, want));
    const [one, many] = fleets as [Fleet, Fleet];
    const bin = path.join(TOP, "bin", "zonestat");
    const times = measure(
      [
        { name: "zonename (command start)", argv: [path.join(TOP, "bin", "zonename")], env: one.root.env },
        { name: "zonestat 1 1 (1 zone)", argv: [bin, "1", "1"], env: one.root.env },
        { name: `zonestat 1 1 (${want} zones)`, argv: [bin, "1", "1"], env: many.root.env },
        { name: `zonestat -r all 1 1 (${want} zones)`, argv: [bin, "-r", "all", "1", "1"], env: many.root.env },
      ],
      rounds,
    );
    console.log(report(`\nzonestat wall time, ${rounds} rounds interleaved`, times, "zonename (command start)"));
    // One sample, in-process: what each interval costs beyond the command's start.
    const samplers = [
      { name: "1 zone", s: new Sampler(zonePaths(one.root.env)), t: [] as number[] },
      { name: `${want} zones`, s: new Sampler(zonePaths(many.root.env)), t: [] as number[] },
    ];
    for (const x of samplers) x.s.sample(); // warm: caps cached, modules loaded
    for (let r = 0; r < rounds; r++) {
      for (const x of samplers) {
        const t0 = process.hrtime.bigint();
        const s = x.s.sample();
        x.t.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (s.zones.size !== (x === samplers[0] ? 1 : want)) throw new Error(`sample of ${x.name} saw ${s.zones.size} zones`);
      }
    }
    console.log(`\none sample, in-process, ${rounds} rounds interleaved`);
    for (const x of samplers) {
      const t = [...x.t].sort((a, b) => a - b);
      console.log(`${x.name.padEnd(12)} p50 ${percentile(t, 50).toFixed(2)} ms  p99 ${percentile(t, 99).toFixed(2)} ms`);
    }
  } finally {
    for (const f of fleets) await halt(f);
  }
}

main().catch((e: Error) => {
  console.error(e.stack);
  process.exitCode = 1;
});
