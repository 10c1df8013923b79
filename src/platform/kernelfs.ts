/**
 * A zone's procfs and sysfs for masks.ts, made from zoneadmd itself, host root's, in the
 * host's mount namespace: no helper process per mount (two nsenter+mount runs cost
 * ~20 ms of every systemd zone's boot on a loaded host).
 * - procfs shows the pid namespace named at its creation: the `pidns` parameter
 *   (a recent kernel's: 6.18 here has it) takes the zone's init's, through a descriptor of it.
 * - sysfs shows the network namespace of the task that opens its context: the main
 *   thread enters the zone's for the one fsopen call and returns at once (as
 *   network/netlink.ts does for a socket); nothing else runs on it meanwhile, and a
 *   failed return ends the daemon rather than leave it in the zone's namespace.
 * A kernel without `pidns` gets the helper (nsenter + mount) as before; either way the
 * mount lands on the host-only scratch directory, never on a path of the zone.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { ZoneError } from "../native/errors.js";
import { errnoText, sys } from "../native/sys.js";
import { ATTR_NODEV, ATTR_NOEXEC, ATTR_NOSUID, ATTR_RDONLY, moveOnto } from "./mountapi.js";

const SYS_FSOPEN = 430;
const SYS_FSCONFIG = 431;
const SYS_FSMOUNT = 432;
const FSOPEN_CLOEXEC = 1;
const FSMOUNT_CLOEXEC = 1;
const FSCONFIG_SET_FD = 5;
const FSCONFIG_CMD_CREATE = 6;
const CLONE_NEWNET = 0x40000000;
const O_PATH = 0o10000000;
const O_NOFOLLOW = 0o400000;
const EINVAL = 22;
const TOOLS_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

const FS = {
  proc: { type: "proc", ns: "--pid", options: "nosuid,nodev,noexec", attrs: ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC },
  sys: { type: "sysfs", ns: "--net", options: "ro,nosuid,nodev,noexec", attrs: ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC },
} as const;

/** Set once a kernel refused `pidns`: later zones go to the helper at once. */
let noPidns = false;

let setnsCall: ((fd: number, nstype: number) => number) | undefined;
/** The daemon's own network namespace, held open: the way back. */
let ownNetns: number | undefined;

/**
 * Mount `dir`'s file system of zone init `pid`'s namespace on the host-only directory
 * `scratch`, with the flags masks.ts gives it.
 */
export function mountZoneKernelFs(dir: "proc" | "sys", pid: number, scratch: string, label: string): void {
  const kind = FS[dir];
  const fsfd = dir === "proc" ? procContext(pid, label) : sysfsContext(pid, label);
  if (fsfd === undefined) return helper(dir, pid, scratch, label);
  let m: number;
  try {
    const s = sys();
    if (Number(s.syscall(SYS_FSCONFIG, "int", fsfd, "uint", FSCONFIG_CMD_CREATE, "void *", null, "void *", null, "int", 0)) < 0)
      throw new ZoneError(`${label}: cannot create ${kind.type}: ${errnoText(s.errno())}`);
    m = Number(s.syscall(SYS_FSMOUNT, "int", fsfd, "uint", FSMOUNT_CLOEXEC, "uint", kind.attrs));
    if (m < 0) throw new ZoneError(`${label}: fsmount ${kind.type}: ${errnoText(s.errno())}`);
  } finally {
    fs.closeSync(fsfd);
  }
  try {
    const at = fs.openSync(scratch, O_PATH | O_NOFOLLOW);
    try {
      moveOnto(m, at, label);
    } finally {
      fs.closeSync(at);
    }
  } finally {
    fs.closeSync(m);
  }
}

/** A procfs context for `pid`'s pid namespace; undefined where the kernel has no `pidns`. */
function procContext(pid: number, label: string): number | undefined {
  if (noPidns) return undefined;
  const s = sys();
  const ns = openNs(pid, "pid", label);
  let fsfd = -1;
  try {
    fsfd = Number(s.syscall(SYS_FSOPEN, "str", "proc", "uint", FSOPEN_CLOEXEC));
    if (fsfd < 0) throw new ZoneError(`${label}: fsopen proc: ${errnoText(s.errno())}`);
    if (Number(s.syscall(SYS_FSCONFIG, "int", fsfd, "uint", FSCONFIG_SET_FD, "str", "pidns", "void *", null, "int", ns)) < 0) {
      const errno = s.errno();
      // EINVAL: an older kernel, which has no such parameter.
      if (errno !== EINVAL) throw new ZoneError(`${label}: pidns refused by proc: ${errnoText(errno)}`);
      noPidns = true;
      fs.closeSync(fsfd);
      return undefined;
    }
    return fsfd;
  } catch (err) {
    if (fsfd >= 0) fs.closeSync(fsfd);
    throw err;
  } finally {
    fs.closeSync(ns);
  }
}

/** A sysfs context opened in `pid`'s network namespace. */
function sysfsContext(pid: number, label: string): number {
  const s = sys();
  setnsCall ??= s.koffi.load("libc.so.6").func("int setns(int fd, int nstype)") as (fd: number, nstype: number) => number;
  const own = (ownNetns ??= fs.openSync("/proc/thread-self/ns/net", "r"));
  const target = openNs(pid, "net", label);
  try {
    if (setnsCall(target, CLONE_NEWNET) !== 0) throw new ZoneError(`${label}: cannot enter the zone's network namespace: ${errnoText(s.errno())}`);
    let fsfd: number;
    let errno = 0;
    try {
      fsfd = Number(s.syscall(SYS_FSOPEN, "str", "sysfs", "uint", FSOPEN_CLOEXEC));
      if (fsfd < 0) errno = s.errno();
    } finally {
      // Staying in the zone's namespace would put every later socket of zoneadmd there.
      if (setnsCall(own, CLONE_NEWNET) !== 0) {
        process.stderr.write(`zoneadmd: cannot return to the global zone's network namespace (${errnoText(s.errno())})\n`);
        process.abort();
      }
    }
    if (fsfd < 0) throw new ZoneError(`${label}: fsopen sysfs: ${errnoText(errno)}`);
    return fsfd;
  } finally {
    fs.closeSync(target);
  }
}

function openNs(pid: number, ns: "pid" | "net", label: string): number {
  try {
    return fs.openSync(`/proc/${pid}/ns/${ns}`, "r");
  } catch (err) {
    throw new ZoneError(`${label}: cannot open the ${ns} namespace of zone init ${pid}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** The helper way: a mount run in the zone's namespace, with the host's credentials and mount namespace. */
function helper(dir: "proc" | "sys", pid: number, scratch: string, label: string): void {
  const kind = FS[dir];
  const args = ["--target", String(pid), kind.ns, "--", "mount", "-t", kind.type, "-o", kind.options, kind.type, scratch];
  const r = spawnSync("nsenter", args, { encoding: "utf8", env: { PATH: TOOLS_PATH }, timeout: 10_000 });
  if (r.status !== 0) throw new ZoneError(`${label}: nsenter ${args.join(" ")} failed: ${(r.stderr || r.error?.message || `status ${r.status}`).trim().split("\n")[0]}`);
}
