/**
 * What an `add fs` may say, checked without the host: the options each type takes
 * (zonecfg refuses the others at `end`), and the zone directories a file system may
 * not be mounted on. The platform turns the parsed options into mount flags
 * (src/platform/fsmounts.ts), so the two can never disagree.
 */
import { ZoneError, q } from "../native/errors.js";
import type { ZoneConfig } from "./model.js";
import { pathWithin } from "./names.js";

/** Generic flags every type takes (illumos spells nodev "nodevices"). */
const FLAGS = ["ro", "rw", "nosuid", "suid", "nodevices", "nodev", "noexec", "exec"];
/** lofs and block types: the tree is shown id-mapped through the zone's uid slot (host root's files are the zone root's). */
export const IDMAP_OPTION = "idmap";
/** Options of block file systems passed on to mount(8); errors=panic is not: a zone's image could stop the host. */
const BLOCK_PASSED = /^(noatime|relatime|nodiratime|strictatime|sync|dirsync|discard|nodiscard|barrier|nobarrier|errors=(remount-ro|continue)|data=(ordered|journal|writeback)|(uid|gid|umask|dmask|fmask)=[0-9]{1,10}|utf8|shortname=(lower|win95|winnt|mixed)|iocharset=[a-z0-9-]{1,20}|norecovery|noload)$/;

export interface FsOptions {
  readonly: boolean;
  nosuid: boolean;
  noexec: boolean;
  idmap: boolean;
  /** tmpfs size= (as written: k/m/g suffix or %); "" unset. */
  size: string;
  /** tmpfs mode=, octal; "" unset. */
  mode: string;
  /** Options for mount(8) -o of a block file system. */
  passed: string[];
}

/** Parse the options of an fs resource of type `type`, refusing any that type cannot honour. */
export function parseFsOptions(dir: string, type: string, options: readonly string[]): FsOptions {
  // squashfs and iso9660 have no write support: read-only whatever is written.
  const always = type === "squashfs" || type === "iso9660";
  const o: FsOptions = { readonly: always, nosuid: false, noexec: false, idmap: false, size: "", mode: "", passed: [] };
  for (const opt of options) {
    const bad = (why: string): ZoneError => new ZoneError(`fs ${q(dir)}: option ${q(opt)} ${why}`);
    if (FLAGS.includes(opt)) {
      if (opt === "ro" || opt === "rw") o.readonly = always || opt === "ro";
      else if (opt === "nosuid" || opt === "suid") o.nosuid = opt === "nosuid";
      else if (opt === "noexec" || opt === "exec") o.noexec = opt === "noexec";
      // nodevices/nodev: every zone file system is nodev; devices come from `add device`.
      continue;
    }
    if (opt === IDMAP_OPTION) {
      if (type === "tmpfs") throw bad(`is for lofs and block file systems (a zone's tmpfs is its root's already)`);
      o.idmap = true;
    } else if (opt.startsWith("size=")) {
      if (type !== "tmpfs") throw bad(`is for tmpfs only`);
      if (!/^size=[1-9][0-9]{0,15}[kmgKMG]?$|^size=[1-9][0-9]?%$/.test(opt)) throw bad(`must be size=N with an optional k, m or g suffix, or a percentage`);
      o.size = opt.slice(5);
    } else if (opt.startsWith("mode=")) {
      if (type !== "tmpfs") throw bad(`is for tmpfs only`);
      if (!/^mode=0?[0-7]{3,4}$/.test(opt)) throw bad(`must be an octal mode such as mode=1777`);
      o.mode = opt.slice(5);
    } else if (type !== "lofs" && type !== "tmpfs" && BLOCK_PASSED.test(opt)) {
      o.passed.push(opt);
    } else throw bad(`is not supported for type ${q(type)}`);
  }
  return o;
}

/**
 * Zone directories no fs may be mounted at or below: the runtime mounts its own /proc,
 * /dev, /sys and /run over whatever was there (so the fs would silently vanish), and
 * /etc/zonename is the global zone's.
 */
const SYSTEM_WITHIN = ["/proc", "/dev", "/sys", "/run"];
// "/" itself is refused by verify.ts.
const SYSTEM_EXACT = ["/etc/zonename"];

/** `what` names the resource in the message: `fs "/data": dir` or `dataset "/srv/ds": name`. */
export function dirProblem(what: string, dir: string): string | undefined {
  if (SYSTEM_EXACT.includes(dir) || SYSTEM_WITHIN.some((d) => pathWithin(dir, d)))
    return `${what} ${q(dir)} is a system directory of the zone (${SYSTEM_EXACT.join(", ")}, and ${SYSTEM_WITHIN.join(", ")} and below, are not allowed)`;
  return undefined;
}

/** Host trees a dataset may not be, hold, or lie in: delegation changes the owners of every file. */
const HOST_SYSTEM = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run", "/sbin", "/sys", "/usr", "/var/lib", "/var/log", "/var/spool", "/var/cache"];

/** Problems of the zone's fs and dataset resources that the document alone shows. */
export function fsProblems(z: ZoneConfig): string[] {
  const out: string[] = [];
  for (const f of z.fs) {
    const p = dirProblem("fs dir", f.dir);
    if (p) out.push(p);
    try {
      parseFsOptions(f.dir, f.type, f.options);
    } catch (e) {
      if (!(e instanceof ZoneError)) throw e;
      out.push(e.message);
    }
    if (f.type !== "lofs" && f.type !== "tmpfs" && f.special === "") out.push(`fs ${q(f.dir)}: special (a block device or an image file) not specified`);
    // Nothing is silently ignored: raw means fsck, which only block file systems have.
    if ((f.type === "lofs" || f.type === "tmpfs") && f.raw !== "") out.push(`fs ${q(f.dir)}: raw is for block file systems (fsck before mount); a ${f.type} has none`);
    if (f.type === "tmpfs" && f.special !== "swap" && f.special !== "tmpfs") out.push(`fs ${q(f.dir)}: a tmpfs has no special; write special=swap as illumos does (it is ${q(f.special)})`);
  }
  for (const d of z.dataset) {
    // A dataset appears at its host path in the zone.
    const p = dirProblem("dataset", d.name);
    if (p) out.push(p);
    // Its files are handed to the zone's uid slot (datasets.ts): never the host's own.
    const sys = HOST_SYSTEM.find((h) => pathWithin(d.name, h) || pathWithin(h, d.name));
    if (sys) out.push(`dataset ${q(d.name)}: a dataset is handed to the zone, and ${q(sys)} is the host's system directory`);
  }
  // A missing mount point below a host tree would be made in the host's directory.
  const hostTrees = [...z.fs.filter((f) => f.type === "lofs").map((f) => f.dir), ...z.dataset.map((d) => d.name)];
  for (const f of z.fs) {
    const over = hostTrees.find((t) => t !== f.dir && pathWithin(f.dir, t));
    if (over) out.push(`fs ${q(f.dir)}: dir lies inside ${q(over)}, a host directory shown in the zone; mount it elsewhere`);
  }
  for (const [i, a] of z.dataset.entries())
    for (const b of z.dataset.slice(i + 1)) if (a.name !== b.name && (pathWithin(a.name, b.name) || pathWithin(b.name, a.name))) out.push(`dataset ${q(a.name)} and dataset ${q(b.name)} are nested`);
  return out;
}
