/**
 * The cost of a zone's configured resources at boot: `zoneadm boot` + `halt` of (a) a
 * bare minimal-brand zone and (b) one with 4 fs resources (lofs ro, lofs idmap, a
 * tmpfs with size and mode, an ext4 image loop-mounted) and (c) one with those 4 fs,
 * 2 devices (/dev/fuse, /dev/net/tun) and every resource control that can be set
 * together (cpu-shares, capped-cpu, capped-memory physical/swap/locked, the process
 * and IPC limits), interleaved round by round, p50/p99 and the ratios of the p50s.
 *
 *   node dist/bench/resources.js [rounds]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Samples } from "./peers/table.js";
import { benchRoot, removeBenchRoot } from "./root.js";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const rounds = Number(process.argv[2] ?? 20);
const root = benchRoot("res");
const S = new Samples();
const bin = (c: string): string => path.join(TOP, "bin", c);
const BARE = "zoneadm boot, bare minimal zone";
const FS4 = "zoneadm boot, 4 fs (lofs ro+idmap, tmpfs, ext4 image)";
const BARE_HALT = "zoneadm halt, bare minimal zone";
const FS4_HALT = "zoneadm halt, 4 fs";
const ALL = "zoneadm boot, 4 fs + 2 devices + every rctl";
const ALL_HALT = "zoneadm halt, 4 fs + 2 devices + every rctl";
const RCTLS = [
  "set cpu-shares=20",
  "add capped-cpu; set ncpus=1; end",
  "add capped-memory; set physical=256m; set swap=512m; set locked=8m; end",
  "set max-lwps=500; set max-processes=200",
  "set max-msg-ids=64; set max-sem-ids=64; set max-shm-ids=64; set max-shm-memory=64m",
].join("; ");

function sh(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { env: root.env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
}

async function main(): Promise<void> {
  console.log(`Resource plumbing at boot: ${rounds} rounds, ${os.cpus().length} CPUs, interleaved`);
  const host = path.join(root.dir, "host");
  fs.mkdirSync(path.join(host, "share"), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(host, "share", "f"), "x\n");
  const img = path.join(host, "disk.img");
  fs.writeFileSync(img, "");
  fs.truncateSync(img, 64 << 20);
  sh(["mkfs.ext4", "-q", "-F", img]);
  const fsRes = [
    `add fs; set dir=/ro; set special=${host}/share; set type=lofs; add options [ro,nosuid]; end`,
    `add fs; set dir=/idm; set special=${host}/share; set type=lofs; add options idmap; end`,
    `add fs; set dir=/scratch; set special=swap; set type=tmpfs; add options [size=64m,mode=1777]; end`,
    `add fs; set dir=/img; set special=${img}; set type=ext4; end`,
  ].join("; ");
  const devices = "add device; set match=/dev/fuse; end; add device; set match=/dev/net/tun; end";
  for (const [z, body] of [["bare", ""], ["fs4", fsRes], ["all", `${fsRes}; ${devices}; ${RCTLS}`]] as const) {
    sh([bin("zonecfg"), "-z", z, `create; set zonepath=${root.dir}/zones/${z}; set brand=minimal; ${body}`]);
    sh([bin("zoneadm"), "-z", z, "install"]);
  }
  for (let i = 0; i < rounds; i++) {
    // Rotate which goes first, so none always follows the same other's halt.
    const order: Array<[string, string, string]> = [["bare", BARE, BARE_HALT], ["fs4", FS4, FS4_HALT], ["all", ALL, ALL_HALT]];
    for (const [z, boot, halt] of [...order.slice(i % 3), ...order.slice(0, i % 3)]) {
      S.timed(boot, () => sh([bin("zoneadm"), "-z", z, "boot"]));
      S.timed(halt, () => sh([bin("zoneadm"), "-z", z, "halt"]));
    }
  }
  // The table's ratio is row/first-row: here the bare zone is the first row of each pair.
  S.report("Boot (installed->running) and halt; ratio = bare/with-resources (p50)", [[BARE, [FS4, ALL]], [BARE_HALT, [FS4_HALT, ALL_HALT]]]);
  const b = S.p(BARE, 50)!;
  const f = S.p(FS4, 50)!;
  const a = S.p(ALL, 50)!;
  console.log(`\nfs plumbing at boot: +${(f - b).toFixed(2)} ms p50 (${(f / b).toFixed(2)}x the bare zone)`);
  console.log(`fs + devices + rctls at boot: +${(a - b).toFixed(2)} ms p50 (${(a / b).toFixed(2)}x the bare zone)`);
}

main()
  .catch((err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const z of ["bare", "fs4", "all"]) spawnSync(bin("zoneadm"), ["-z", z, "halt"], { env: root.env, stdio: "ignore" });
    await removeBenchRoot(root);
  });
