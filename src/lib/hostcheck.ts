/**
 * zoneadm verify: the configuration checks of zonecfg verify, plus what only the host
 * can tell (illumos crosscheck_zonepath): the zonepath, where it exists, is a
 * root-owned directory closed to others on a file system that allows set-uid programs
 * and devices; each dataset is a host directory. (illumos wants mode 700; an installed
 * zone's path is 750 with the group of the zone's root, whose runtime must reach the
 * root tree through it.)
 */
import * as fs from "node:fs";
import { ZoneError, q } from "./errors.js";
import type { ZoneConfig } from "./model.js";
import { pathWithin } from "./names.js";
import type { OtherZone } from "./verify.js";
import { verifyZone } from "./verify.js";
import { networkProblems } from "./network.js";
import { readNets } from "./netrecords.js";
import { zonePaths } from "./paths.js";

/** Mount options of the file system holding `p` (the longest mount point above it). */
export function mountOptionsOf(p: string): string[] {
  let best = "";
  let opts: string[] = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const mnt = f[4]?.replace(/\\040/g, " ");
    if (mnt === undefined || !pathWithin(p, mnt) || mnt.length < best.length) continue;
    best = mnt;
    opts = (f[5] ?? "").split(",");
  }
  return opts;
}

function hostChecks(z: ZoneConfig): string[] {
  const problems: string[] = [];
  let existing = z.zonepath;
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(z.zonepath);
  } catch {
    while (existing !== "/" && !fs.existsSync(existing)) existing = existing.slice(0, existing.lastIndexOf("/")) || "/";
  }
  if (st) {
    if (!st.isDirectory()) problems.push(`zonepath ${q(z.zonepath)} exists and is not a directory`);
    else {
      if (st.uid !== 0) problems.push(`zonepath ${q(z.zonepath)} must be owned by root (it is owned by uid ${st.uid})`);
      if ((st.mode & 0o007) !== 0) problems.push(`zonepath ${q(z.zonepath)} must not be accessible to others (mode ${(st.mode & 0o777).toString(8)}; chmod 700)`);
    }
  }
  const opts = mountOptionsOf(existing);
  for (const bad of ["nosuid", "nodev"])
    if (opts.includes(bad)) problems.push(`zonepath ${q(z.zonepath)} is on a file system mounted ${bad}; set-uid programs and devices must work in a zone`);
  for (const d of z.dataset) {
    let ok = false;
    try {
      ok = fs.statSync(d.name).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) problems.push(`dataset ${q(d.name)} is not a directory on this host`);
  }
  return problems;
}

/** `inUse`: also refuse addresses and links that running zones hold (boot, zoneadm verify). */
export function verifyOnHost(z: ZoneConfig, others: readonly OtherZone[], inUse = true): void {
  const problems = verifyZone(z, others);
  if (problems.length === 0) problems.push(...hostChecks(z));
  // Networking (network.ts): physical links, defrouters, addresses of running zones.
  if (problems.length === 0) problems.push(...networkProblems(zonePaths().hostPrefix, z, readNets(zonePaths()), inUse));
  if (problems.length > 0) throw new ZoneError(problems.join("\n"));
}
