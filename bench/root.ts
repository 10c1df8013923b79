/** A private ZONES_ROOT for one benchmark run, so benchmarks never touch a real installation. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface BenchRoot {
  dir: string;
  /** The environment the benchmark's commands run with: ZONES_ROOT set, no extra CA file. */
  env: NodeJS.ProcessEnv;
}

export function benchRoot(tag: string, extraEnv: NodeJS.ProcessEnv = {}): BenchRoot {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zones-bench-${tag}-`));
  // Zones' runtimes reach their root trees from inside the zone's user namespace.
  fs.chmodSync(dir, 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, ZONES_ROOT: dir, ...extraEnv };
  delete env.NODE_EXTRA_CA_CERTS;
  return { dir, env };
}
