/**
 * zoneadm verify: the configuration checks of zonecfg verify, plus what only the host
 * can tell (illumos crosscheck_zonepath): the zonepath, where it exists, is a
 * root-owned directory closed to others on a file system that allows set-uid programs
 * and devices; each dataset is a host directory. (illumos wants mode 700; an installed
 * zone's path is 750 with the group of the zone's root, whose runtime must reach the
 * root tree through it.)
 */
import { adminUserProblems } from "./hostusers.js";
import * as fs from "node:fs";
import { ZoneError, q } from "../native/errors.js";
import { sys } from "../native/sys.js";
import type { ZoneConfig } from "../document/model.js";
import type { OtherZone } from "../document/verify.js";
import { checkZonepath, verifyZone } from "../document/verify.js";
import { deviceProblems } from "./devices.js";
import { networkProblems } from "./network/plan.js";
import { readNets } from "./network/netrecords.js";
import { zonePaths } from "../document/store/paths.js";
import { Repository } from "../document/store/repository.js";
import { SLOT_SIZE, SlotRegistry } from "./slots.js";
import { fsHostProblems } from "./fscheck.js";
import { rctlProblems } from "./rctlcheck.js";

/**
 * Mount flags of the file system holding `p`, from statvfs(3): the kernel's answer for
 * the very mount the path is on (a bind mount included), with no read of the host's
 * mountinfo, which grows with every running zone's mounts.
 */
export function mountFlagsOf(p: string): { nosuid: boolean; nodev: boolean } {
  const buf = Buffer.alloc(112);
  if (sys().statvfs(p, buf) !== 0) return { nosuid: false, nodev: false };
  // struct statvfs on 64-bit Linux: ten 8-byte fields before f_flag's.
  const flag = Number(buf.readBigUInt64LE(72));
  return { nosuid: (flag & ST_NOSUID) !== 0, nodev: (flag & ST_NODEV) !== 0 };
}

const ST_NOSUID = 2;
const ST_NODEV = 4;

/**
 * Each directory above the zonepath must be one only root can change (ancestorOpenTo).
 * Each directory from / down to the zonepath must let the zone's root search it: the
 * runtime mounts the root tree from inside the zone's user namespace, where the zone's
 * root is `rootUid` on the host, an unprivileged uid (runc otherwise fails with a bare
 * "permission denied"). `rootUid` undefined: the zone is not installed yet, its uid slot
 * will be a fresh one, so only "others" bits count, and the zonepath itself, which
 * install gives the zone root's group, is not checked. Walked with lstat: a symbolic
 * link on the way is verify.ts's rule (checkZonepath), and nothing past it is looked at.
 */
export function zonepathSearchProblems(zonepath: string, rootUid: number | undefined): string[] {
  const who = rootUid === undefined ? "the zone's root (an unprivileged host uid)" : `the zone's root (host uid ${rootUid})`;
  const parts = zonepath.split("/").filter(Boolean);
  const dirs = ["/", ...parts.map((_, i) => "/" + parts.slice(0, i + 1).join("/"))];
  for (const [i, dir] of dirs.entries()) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(dir);
    } catch {
      return []; // made by install, mode 755
    }
    if (!st.isDirectory()) return [];
    if (dir !== zonepath) {
      const open = ancestorOpenTo(dir, st, dirs[i + 1]!);
      if (open) return [`zonepath ${q(zonepath)}: ${open}; choose a zonepath whose every ancestor only root can change`];
    } else if (rootUid === undefined) return [];
    const [bit, cls] = st.uid === rootUid ? [0o100, "u"] : st.gid === rootUid ? [0o010, "g"] : [0o001, "o"];
    if ((st.mode & bit) !== 0) continue;
    const mode = (st.mode & 0o777).toString(8);
    // The zonepath itself stays closed to others: install gives it the zone root's group.
    if (dir === zonepath) return [`zonepath ${q(dir)} is mode ${mode}, group ${st.gid}; ${who} must be able to search it: chgrp ${rootUid} ${q(dir)} and chmod 750 ${q(dir)}`];
    const what = i === parts.length - 1 ? "zonepath's parent" : "zonepath's ancestor";
    return [`${what} ${q(dir)} is mode ${mode}; ${who} must be able to search it: chmod ${cls}+x ${q(dir)}, or choose another zonepath`];
  }
  return [];
}

/**
 * Why an ordinary user could change what ancestor `dir` holds, if one could (illumos
 * crosscheck_zonepath): it must be root's, and not writable by group or others, or
 * the zonepath could be swapped for a link to a host tree that uninstall deletes. A
 * sticky directory (/tmp) is accepted when the entry below it already exists and is
 * root's: nobody else may rename or remove it there. If that entry does not exist yet,
 * any user could make it first, as a link or a directory of their own.
 */
function ancestorOpenTo(dir: string, st: fs.Stats, below: string): string | undefined {
  const mode = (st.mode & 0o7777).toString(8);
  if (st.uid !== 0) return `ancestor ${q(dir)} is owned by uid ${st.uid}, not root`;
  if ((st.mode & 0o022) === 0) return undefined;
  const who = (st.mode & 0o002) !== 0 ? "others" : `group ${st.gid}`;
  if ((st.mode & 0o1000) === 0) return `ancestor ${q(dir)} is writable by ${who} (mode ${mode})`;
  let owner: number | undefined;
  try {
    owner = fs.lstatSync(below).uid;
  } catch {
    return `ancestor ${q(dir)} is writable by ${who} (sticky, mode ${mode}) and ${q(below)} does not exist yet: make it as root first`;
  }
  return owner === 0 ? undefined : `ancestor ${q(dir)} is writable by ${who} (sticky, mode ${mode}) and ${q(below)} in it is owned by uid ${owner}, not root`;
}

/** The host uid of the zone's root, once it is installed (its uid slot). */
function installedRootUid(zonename: string): number | undefined {
  const paths = zonePaths();
  const e = new Repository(paths).find(zonename);
  const slot = e ? new SlotRegistry().find(e.uuid, paths.configDir) : undefined;
  return slot ? slot.slot * SLOT_SIZE : undefined;
}

/** At ready and boot: the zonepath rules that the host can break after install. */
export function checkZonepathOnHost(z: ZoneConfig, rootUid: number): void {
  checkZonepath(z.zonepath);
  const problems = zonepathSearchProblems(z.zonepath, rootUid);
  if (problems.length > 0) throw new ZoneError(problems[0]!);
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
  problems.push(...zonepathSearchProblems(z.zonepath, installedRootUid(z.zonename)));
  const flags = mountFlagsOf(existing);
  for (const bad of ["nosuid", "nodev"] as const)
    if (flags[bad]) problems.push(`zonepath ${q(z.zonepath)} is on a file system mounted ${bad}; set-uid programs and devices must work in a zone`);
  problems.push(...deviceProblems(z, zonePaths().root));
  for (const d of z.dataset) {
    let ok = false;
    try {
      ok = fs.statSync(d.name).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) problems.push(`dataset ${q(d.name)} is not a directory on this host`);
  }
  problems.push(...adminUserProblems(z));
  problems.push(...rctlProblems(z));
  return problems;
}

/** `inUse`: also refuse addresses and links that running zones hold (boot, zoneadm verify). */
export function verifyOnHost(z: ZoneConfig, others: readonly OtherZone[], inUse = true): void {
  const problems = verifyZone(z, others);
  if (problems.length === 0) problems.push(...hostChecks(z));
  if (problems.length === 0) problems.push(...fsHostProblems(z));
  // Networking (network.ts): physical links, defrouters, addresses of running zones.
  if (problems.length === 0) problems.push(...networkProblems(zonePaths().hostPrefix, z, readNets(zonePaths()), inUse));
  if (problems.length > 0) throw new ZoneError(problems.join("\n"));
}
