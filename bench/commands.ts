/**
 * The cost of a command beside Node's own start: `zonecfg -z Z "create; set
 * zonepath=...; commit"`, the same from a command file (-f), and `zoneadm -z Z list -p`,
 * each beside `node -e 0`, interleaved in one run. Aim: zonecfg create+commit no more
 * than node's start + 10 ms. Each created zone is deleted again (not timed), so every
 * round commits into the same small repository.
 *
 *   node dist/bench/commands.js [rounds] [other-checkout ...]
 *
 * Another checkout (a directory with bin/, scripts/ and dist/bin/, e.g. a copy of an
 * older build) runs its commands in the same rounds, so old and new compare under
 * the same machine noise.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { percentile } from "./stats.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const rounds = Number(process.argv[2] ?? 50);
const tops = [TOP, ...process.argv.slice(3).map((t) => path.resolve(t))];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-bench-commands-"));
// Zones' runtimes reach their trees from inside a user namespace; keep the root readable.
fs.chmodSync(dir, 0o755);
const env: NodeJS.ProcessEnv = { ...process.env, ZONES_ROOT: dir };
// The launchers unset it too; node -e 0 must start as cheaply as the commands do.
delete env.NODE_EXTRA_CA_CERTS;

function run(argv: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return ms;
}

interface Case {
  name: string;
  /** Runs once, timed; `after` (untimed) undoes what it did. */
  argv: string[];
  after?: string[];
}

const zonecfg = (top: string): string => path.join(top, "bin", "zonecfg");
const cases: Case[] = [{ name: "node -e 0", argv: [process.execPath, "-e", "0"] }];
tops.forEach((top, i) => {
  const tag = tops.length === 1 ? "" : ` [${i === 0 ? "this" : path.basename(top)}]`;
  const z = `bc${i}`;
  const zf = `bf${i}`;
  const file = path.join(dir, `${zf}.cmds`);
  fs.writeFileSync(file, `create\nset zonepath=${path.join(dir, "zones", zf)}\ncommit\n`);
  const del = (name: string): string[] => [zonecfg(TOP), "-z", name, "delete", "-F"];
  cases.push(
    { name: `zonecfg create+commit${tag}`, argv: [zonecfg(top), "-z", z, `create; set zonepath=${path.join(dir, "zones", z)}; commit`], after: del(z) },
    { name: `zonecfg -f file${tag}`, argv: [zonecfg(top), "-z", zf, "-f", file], after: del(zf) },
    { name: `zoneadm -z Z list -p${tag}`, argv: [path.join(top, "bin", "zoneadm"), "-z", "listed", "list", "-p"] },
  );
});

try {
  run([zonecfg(TOP), "-z", "listed", `create; set zonepath=${path.join(dir, "zones", "listed")}; commit`]);
  const times = new Map(cases.map((c) => [c.name, [] as number[]]));
  // A few untimed rounds first: page cache and CPU frequency settle.
  for (let r = -3; r < rounds; r++)
    for (const c of cases) {
      const ms = run(c.argv);
      if (c.after) run(c.after);
      if (r >= 0) times.get(c.name)!.push(ms);
    }
  const stat = (name: string): { p50: number; p99: number } => {
    const s = [...times.get(name)!].sort((a, b) => a - b);
    return { p50: percentile(s, 50), p99: percentile(s, 99) };
  };
  const node = stat("node -e 0");
  const w = Math.max(...cases.map((c) => c.name.length));
  console.log(`${rounds} rounds, interleaved, wall time per command (ms); minus node = p50 minus node's p50`);
  console.log(`${"case".padEnd(w)} ${"p50".padStart(8)} ${"p99".padStart(8)} ${"minus node".padStart(11)}`);
  for (const c of cases) {
    const s = stat(c.name);
    console.log(`${c.name.padEnd(w)} ${s.p50.toFixed(2).padStart(8)} ${s.p99.toFixed(2).padStart(8)} ${(s.p50 - node.p50).toFixed(2).padStart(11)}`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
