/**
 * Configuration engine at scale: with 1000 configured zones, `zoneadm list -cp`,
 * `zoneadm list -cv` and `zonecfg -z one info` end to end, beside `ls -l` of the
 * repository directory, in one run. Aim: list under 150 ms.
 *
 *   node dist/bench/list.js [zones] [rounds]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { blankZone } from "../src/document/model.js";
import { zonePaths } from "../src/document/store/paths.js";
import { Repository } from "../src/document/store/repository.js";
import { setRctlLimit } from "../src/document/rctls.js";
import { measure, report } from "./stats.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const zones = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 100);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-bench-list-"));
try {
  const env: NodeJS.ProcessEnv = { ...process.env, ZONES_ROOT: dir };
  delete env.NODE_EXTRA_CA_CERTS;
  const paths = zonePaths(env);
  const repo = new Repository(paths);
  const t0 = Date.now();
  for (let i = 0; i < zones; i++) {
    const z = blankZone(`zone${i}`);
    z.zonepath = path.join(paths.zonesDir, z.zonename);
    setRctlLimit(z, "zone.max-lwps", 8192);
    z.fs.push({ dir: "/data", special: `/srv/zone${i}`, raw: "", type: "lofs", options: ["ro", "nodevices"] });
    z.net.push({ address: `10.${(i >> 8) & 255}.${i & 255}.2/16`, allowedAddress: "", physical: "zbr0", defrouter: "" });
    repo.commit(z, null);
  }
  console.log(`${zones} zones configured in ${Date.now() - t0} ms (${((Date.now() - t0) / zones).toFixed(2)} ms per commit, fsync included)`);
  const bin = (c: string): string => path.join(TOP, "bin", c);
  const times = measure(
    [
      { name: "ls -l repository (peer)", argv: ["ls", "-l", paths.configDir], env },
      { name: "zoneadm list -cp", argv: [bin("zoneadm"), "list", "-cp"], env },
      { name: "zoneadm list -cv", argv: [bin("zoneadm"), "list", "-cv"], env },
      { name: "zoneadm list (running only)", argv: [bin("zoneadm"), "list"], env },
      { name: `zonecfg -z zone${zones >> 1} info`, argv: [bin("zonecfg"), "-z", `zone${zones >> 1}`, "info"], env },
      { name: "node -e 0 (runtime floor)", argv: [process.execPath, "-e", "0"], env },
    ],
    rounds,
  );
  console.log(report(`\n${zones} configured zones, ${rounds} rounds, wall time per command`, times, "ls -l repository (peer)"));
} finally {
  if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
