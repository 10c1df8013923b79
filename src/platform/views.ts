/**
 * What a zone sees of its own resources (a Solaris zone with caps sees its cap in
 * prtconf, swap, prstat): lxcfs's cgroup-aware /proc and /sys files bound over the
 * zone's own, so /proc/meminfo shows the zone's memory cap, /proc/cpuinfo and
 * /sys/devices/system/cpu/online its CPUs, /proc/uptime the zone's own uptime.
 *
 * lxcfs (one per ZONES_ROOT, src/daemon/lxcfs.ts) is a FUSE file system mounted at
 * <runDir>/lxcfs. Zones never bind its files directly: a zone bound to a FUSE file
 * keeps that connection, and once lxcfs dies every read fails with ENOTCONN until the
 * zone reboots. Instead each view file is first bound onto a file of the "stage", a
 * small tmpfs at <runDir>/views marked shared, and the zones bind the stage's files.
 * Each zone's bind is then a slave of the stage's (the runtime makes the zone's mounts
 * slaves, its default rootfs propagation), so when a restarted lxcfs is bound on top
 * of the stage's files, the kernel propagates that mount into every running zone, on
 * top of the dead one: no zone needs entering. Each restart stacks one mount per view
 * file in each running zone; they go with the zone at halt.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { errnoText, sys } from "../native/sys.js";
import type { ZonePaths } from "../document/store/paths.js";
import type { OciMount } from "./oci/spec.js";

/** The files lxcfs 5 virtualizes that we show, relative to / in the zone and to lxcfs's mount. */
export const VIEW_FILES = ["proc/meminfo", "proc/cpuinfo", "proc/stat", "proc/uptime", "proc/loadavg", "proc/diskstats", "proc/swaps", "sys/devices/system/cpu/online"] as const;

const SYS_MOUNT = 165;
const MS_BIND = 4096;
const MS_SHARED = 1 << 20;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;

/** Where lxcfs's FUSE file system is mounted for this root. */
export function lxcfsDir(paths: ZonePaths): string {
  return path.join(paths.runDir, "lxcfs");
}

/** The shared stage whose files the zones bind (see the module comment). */
export function stageDir(paths: ZonePaths): string {
  return path.join(paths.runDir, "views");
}

function mount(source: string, target: string, type: string | null, flags: number, data: string | null): void {
  const s = sys();
  if (Number(s.syscall(SYS_MOUNT, "str", source, "str", target, "str", type, "ulong", flags, "str", data)) !== 0)
    throw new ZoneError(`mount ${q(source)} on ${q(target)}: ${errnoText(s.errno())}`);
}

/** Mount points of /proc/self/mountinfo, with their file system type, as found now. */
function mountTypes(): Array<{ at: string; type: string }> {
  const out: Array<{ at: string; type: string }> = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (dash < 0 || f[4] === undefined) continue;
    out.push({ at: f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), type: f[dash + 1] ?? "" });
  }
  return out;
}

/** Is a FUSE lxcfs mounted at `dir` (whether or not its process still answers)? */
export function lxcfsMounted(dir: string): boolean {
  return mountTypes().some((m) => m.at === dir && m.type === "fuse.lxcfs");
}

/**
 * The stage: a shared tmpfs holding one empty file per view file, made once per root
 * (it outlives zoneadmd, like the zones that bind it). Safe to repeat.
 */
export function ensureStage(paths: ZonePaths): string {
  const dir = stageDir(paths);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (mountTypes().some((m) => m.at === dir && m.type === "tmpfs")) return dir;
  mount("views", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=755");
  mount("none", dir, null, MS_SHARED, null);
  // Only on a fresh stage: once bound, a file's stat asks lxcfs, which may be dead.
  for (const f of VIEW_FILES) {
    fs.mkdirSync(path.join(dir, path.dirname(f)), { recursive: true, mode: 0o755 });
    fs.closeSync(fs.openSync(path.join(dir, f), "a", 0o444));
  }
  return dir;
}

/**
 * Bind lxcfs's files (mounted at `lxcfs`) on top of the stage's: the zones that bind
 * the stage receive the new mounts by propagation. The stage's file is reached by
 * lookup in the tmpfs and by crossing mounts, never by asking a dead FUSE server.
 */
export function bindViews(lxcfs: string, stage: string): void {
  for (const f of VIEW_FILES) mount(path.join(lxcfs, f), path.join(stage, f), null, MS_BIND, null);
}

/**
 * Are the stage's files bound to something (lxcfs's, live or dead)? Before the first
 * bind they are empty tmpfs files, which must never be shown to a zone.
 */
export function stageBound(stage: string): boolean {
  const at = new Set(mountTypes().map((m) => m.at));
  return VIEW_FILES.every((f) => at.has(path.join(stage, f)));
}

/**
 * The stage if it is mounted and every file of it is bound (ensureStage and stageBound
 * both true), from one read of /proc/self/mountinfo: each zone's ready asks, and on a
 * host with many zones that file is long (the kernel writes it out on every read).
 */
export function boundStage(paths: ZonePaths): string | undefined {
  const dir = stageDir(paths);
  const mounts = mountTypes();
  if (!mounts.some((m) => m.at === dir && m.type === "tmpfs")) return undefined;
  const at = new Set(mounts.map((m) => m.at));
  return VIEW_FILES.every((f) => at.has(path.join(dir, f))) ? dir : undefined;
}

/** The zone's binds of the stage's files, after its /proc and /sys (spec.ts). */
export function viewMounts(stage: string | undefined): OciMount[] {
  if (!stage) return [];
  // No propagation option: the runtime's default (rslave) makes each a slave of the stage.
  return VIEW_FILES.map((f) => ({ destination: `/${f}`, type: "bind", source: path.join(stage, f), options: ["bind", "nosuid", "nodev", "noexec"] }));
}
