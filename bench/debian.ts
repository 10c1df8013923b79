/**
 * Brand debian, our path alone for now (the nspawn and LXC peers booting the same tree
 * are still to come, issue 15): install from the cached image, boot to systemd's
 * `running`, `zlogin true`, `shutdown`, clone, and the disk a fresh zone takes, each
 * step of every round timed in the same loop (p50/p99).
 *
 *   node dist/bench/debian.js [rounds]
 */
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Samples } from "./peers/table.js";
import { benchRoot, removeBenchRoot } from "./root.js";
import { releaseTree } from "../src/platform/images.js";
import * as fs from "node:fs";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const rounds = Number(process.argv[2] ?? 5);
const root = benchRoot("debian");
const S = new Samples();
const bin = (c: string): string => path.join(TOP, "bin", c);
const zp = (z: string): string => path.join(root.dir, "zones", z);

function sh(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { env: root.env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Poll the zone until systemd has finished starting. */
function untilRunning(z: string): void {
  const end = Date.now() + 60_000;
  for (;;) {
    const r = spawnSync(bin("zlogin"), [z, "systemctl", "is-system-running"], { env: root.env, encoding: "utf8" });
    if (/^(running|degraded)/.test(r.stdout)) return;
    if (Date.now() > end) throw new Error(`zone ${z}: systemd did not finish starting: ${r.stdout.trim()}`);
  }
}

function release(z: string): void {
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(zp(z), "image.json"), "utf8")) as { tree: string; hold: string };
    releaseTree(rec.tree, rec.hold);
  } catch {
    // not installed
  }
}

async function main(): Promise<void> {
  console.log(`Brand debian: ${rounds} rounds, ${os.cpus().length} CPUs`);
  const disk: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const z = `d${i}`;
    const c = `c${i}`;
    sh([bin("zonecfg"), "-z", z, `create; set zonepath=${zp(z)}; set brand=debian`]);
    sh([bin("zonecfg"), "-z", c, `create; set zonepath=${zp(c)}; set brand=debian`]);
    S.timed("zoneadm install (from the cached image)", () => sh([bin("zoneadm"), "-z", z, "install"]));
    disk.push(Number(sh(["du", "-sk", zp(z)]).split("\t")[0]));
    S.timed("zoneadm boot, to systemd running", () => {
      sh([bin("zoneadm"), "-z", z, "boot"]);
      untilRunning(z);
    });
    S.timed("zlogin true", () => sh([bin("zlogin"), z, "true"]));
    S.timed("zoneadm shutdown (systemd powers off)", () => sh([bin("zoneadm"), "-z", z, "shutdown"]));
    S.timed("zoneadm clone", () => sh([bin("zoneadm"), "-z", c, "clone", z]));
  }
  S.report("debian zones (ms)", [
    ["zoneadm install (from the cached image)", []],
    ["zoneadm boot, to systemd running", []],
    ["zlogin true", []],
    ["zoneadm shutdown (systemd powers off)", []],
    ["zoneadm clone", []],
  ]);
  disk.sort((a, b) => a - b);
  console.log(`\ndisk of a fresh zone (du -sk of its zonepath): p50 ${disk[Math.floor(disk.length / 2)]} KiB`);
}

main()
  .catch((err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (let i = 0; i < rounds; i++) for (const z of [`d${i}`, `c${i}`]) {
      spawnSync(bin("zoneadm"), ["-z", z, "halt"], { env: root.env, stdio: "ignore" });
      release(z);
    }
    await removeBenchRoot(root);
  });
