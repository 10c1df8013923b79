/**
 * The global zone's reserve. Every zone of a root lives under one parent cgroup
 * (paths.hostPrefix: "zones", or "zones-<hash>" under a ZONES_ROOT, so each root has a
 * parent and a reserve of its own), and that parent's limits are the host's size minus
 * the reserve: all zones together can never take the global zone's last memory or pids,
 * whatever each zone's own limits say. Open files and SysV shm / tmpfs pages are charged
 * to the memory cgroup of the process that makes them, so the memory limit bounds them
 * too.
 *
 * Defaults: memory max(512 MiB, 10 % of MemTotal), pids max(1024, 10 % of pid_max), each
 * at most half the host. `<configDir>/zoneadmd.conf` (a root-owned regular file) may set
 * `reserve-memory=2G` and `reserve-pids=4096` (and the package proxy's `proxy-*` keys, archives.ts;
 * the API's `api-*` keys, daemon/api/tcpsettings.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import type { ZonePaths } from "../document/store/paths.js";
import { parseBytes, parseCount } from "../document/units.js";

export const SETTINGS_FILE = "zoneadmd.conf";

const PAGE_SIZE = 4096;
const MIB = 1024 * 1024;

/** What the host has, or what the global zone keeps of it. */
export interface Amounts {
  /** Bytes of memory. */
  memory: number;
  /** Tasks (processes and threads). */
  pids: number;
}

/** What all zones of one root share (their parent's limits), and the reserve it leaves. */
export interface ZonesLimits extends Amounts {
  reserve: Amounts;
}

export function hostSize(): Amounts {
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(fs.readFileSync("/proc/meminfo", "utf8"));
  const pidMax = Number(fs.readFileSync("/proc/sys/kernel/pid_max", "utf8").trim());
  if (!m || !Number.isSafeInteger(pidMax) || pidMax <= 0) throw new ZoneError("cannot read the host's size from /proc/meminfo and /proc/sys/kernel/pid_max");
  return { memory: Number(m[1]) * 1024, pids: pidMax };
}

/** The reserve when the setting file says nothing (at most half, for a tiny host). */
export function defaultReserve(host: Amounts): Amounts {
  return {
    memory: Math.min(Math.max(512 * MIB, Math.floor(host.memory / 10)), Math.floor(host.memory / 2)),
    pids: Math.min(Math.max(1024, Math.floor(host.pids / 10)), Math.floor(host.pids / 2)),
  };
}

/** Open the setting file without following a link; undefined when there is none. */
export function readSettingFile(file: string): string | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO put there must not hang the daemon.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new ZoneError(`${file} is a symbolic link; refusing it`);
    throw new ZoneError(`cannot read ${file}: ${code ?? (e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new ZoneError(`${file} is not a regular file; refusing it`);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) throw new ZoneError(`${file} must be owned by root and writable by root only; refusing it`);
    return fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
}

/** A line of the setting file that is not blank or a comment; `name` is "" where it has no `=`. */
export interface SettingLine {
  name: string;
  value: string;
  /** The file and line, for messages. */
  where: string;
  text: string;
}

/** The setting file's lines (reserve, the package proxy and the API each read their keys). */
export function settingLines(file: string): SettingLine[] {
  const text = readSettingFile(file);
  if (text === undefined) return [];
  const out: SettingLine[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    out.push({ name: eq < 0 ? "" : line.slice(0, eq).trim(), value: eq < 0 ? "" : line.slice(eq + 1).trim(), where: `${file} line ${i + 1}`, text: line });
  });
  return out;
}

/** The reserve as the setting file sets it over the defaults; one line per mistake. */
export function readReserve(file: string, host: Amounts): Amounts {
  const reserve = defaultReserve(host);
  settingLines(file).forEach(({ name, value, where, text }) => {
    if (name === "") throw new ZoneError(`${where}: expected name=value: ${q(text)}`);
    // The package proxy's settings (archives.ts proxySettings reads them).
    if (name === "proxy" || name.startsWith("proxy-")) return;
    // The API's TCP settings (daemon/api/tcpsettings.ts reads them).
    if (name.startsWith("api-")) return;
    if (name === "reserve-memory") {
      reserve.memory = parseBytes(`${where}: reserve-memory`, value);
      if (reserve.memory >= host.memory) throw new ZoneError(`${where}: reserve-memory leaves zones no memory: the host has ${host.memory} bytes: ${q(value)}`);
    } else if (name === "reserve-pids") {
      reserve.pids = parseCount(`${where}: reserve-pids`, value);
      if (reserve.pids >= host.pids) throw new ZoneError(`${where}: reserve-pids leaves zones no pids: pid_max is ${host.pids}: ${q(value)}`);
    } else throw new ZoneError(`${where}: unknown setting ${q(name)}; known: reserve-memory, reserve-pids`);
  });
  return reserve;
}

/** The limits of the parent cgroup of a root's zones. */
export function zonesLimits(paths: ZonePaths): ZonesLimits {
  const host = hostSize();
  const reserve = readReserve(path.join(paths.configDir, SETTINGS_FILE), host);
  return { memory: Math.floor((host.memory - reserve.memory) / PAGE_SIZE) * PAGE_SIZE, pids: host.pids - reserve.pids, reserve };
}

interface Hierarchy {
  /** Where it is mounted. */
  dir: string;
  v2: boolean;
  /** Of memory and pids, the controllers it has. */
  controllers: string[];
}

const CONTROLLERS = ["memory", "pids"];

let hierarchies: Hierarchy[] | undefined;

/**
 * The cgroup hierarchies with a memory or pids controller, from the daemon's mount
 * table; read once, since the host's cgroup mounts do not change under a running daemon.
 */
export function cgroupHierarchies(): Hierarchy[] {
  if (hierarchies) return hierarchies;
  const out: Hierarchy[] = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const [fstype, , superOpts = ""] = line.slice(sep + 3).split(" ");
    const mountpoint = line.slice(0, sep).split(" ")[4];
    if (mountpoint === undefined || (fstype !== "cgroup" && fstype !== "cgroup2")) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const dir = mountpoint.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const v2 = fstype === "cgroup2";
    const have = v2 ? readWords(path.join(dir, "cgroup.controllers")) : superOpts.split(",");
    const controllers = CONTROLLERS.filter((c) => have.includes(c));
    if (controllers.length > 0 && !out.some((h) => h.dir === dir)) out.push({ dir, v2, controllers });
  }
  hierarchies = out;
  return out;
}

function readWords(file: string): string[] {
  try {
    return fs.readFileSync(file, "utf8").trim().split(/\s+/);
  } catch {
    return [];
  }
}

/** Write a control file unless it already holds the value: cheap when nothing changed. */
function setControl(file: string, value: string): void {
  try {
    if (fs.readFileSync(file, "utf8").trim() === value) return;
    fs.writeFileSync(file, value);
  } catch (e) {
    throw new ZoneError(`cannot set ${file} to ${q(value)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** cgroup v2: let the groups below `dir` have the controllers (cgroup.subtree_control). */
function enableBelow(dir: string, controllers: string[]): void {
  const file = path.join(dir, "cgroup.subtree_control");
  const missing = controllers.filter((c) => !readWords(file).includes(c));
  if (missing.length > 0) setControl(file, missing.map((c) => `+${c}`).join(" "));
}

/**
 * cgroup v1 memory: RAM and RAM+swap (memsw, where swap accounting is on) both bounded
 * by the limit, so zones cannot spill into swap beyond it either. The kernel wants memsw
 * >= memory at every step: raise memsw first, else lower memory first.
 */
function setV1Memory(dir: string, limit: number): void {
  const mem = path.join(dir, "memory.limit_in_bytes");
  const memsw = path.join(dir, "memory.memsw.limit_in_bytes");
  if (!fs.existsSync(memsw)) return setControl(mem, String(limit));
  const order = readWords(memsw).map(Number)[0]! < limit ? [memsw, mem] : [mem, memsw];
  for (const f of order) setControl(f, String(limit));
}

/**
 * Give the parent cgroup of a root's zones its limits in every hierarchy that has the
 * controller. `create`: make the parent where it is missing (before a zone's runtime
 * create); otherwise only fix existing ones (daemon start: zones that outlived it).
 * Pure cgroup v2: memory.max, memory.swap.max=0 (v2 cannot bound RAM and swap together,
 * so zones get no swap), pids.max, with the controllers enabled for the zones below.
 */
export function applyLimits(prefix: string, limits: Amounts, create: boolean): void {
  for (const h of cgroupHierarchies()) {
    const dir = path.join(h.dir, prefix);
    if (!fs.existsSync(dir)) {
      if (!create) continue;
      if (h.v2) enableBelow(h.dir, h.controllers);
      fs.mkdirSync(dir, { mode: 0o755 });
    }
    if (h.v2) enableBelow(dir, h.controllers);
    if (h.controllers.includes("memory")) {
      if (!h.v2) setV1Memory(dir, limits.memory);
      else {
        setControl(path.join(dir, "memory.max"), String(limits.memory));
        if (fs.existsSync(path.join(dir, "memory.swap.max"))) setControl(path.join(dir, "memory.swap.max"), "0");
      }
    }
    if (h.controllers.includes("pids")) setControl(path.join(dir, "pids.max"), String(limits.pids));
  }
}

/** At daemon start: apply the reserve to zones already running; the line to log. */
export function applyReserveAtStart(paths: ZonePaths): string {
  try {
    const l = zonesLimits(paths);
    applyLimits(paths.hostPrefix, l, false);
    const mib = (n: number): string => `${Math.round(n / MIB)}M`;
    return `reserve: the global zone keeps ${mib(l.reserve.memory)} and ${l.reserve.pids} pids; zones of this root share ${mib(l.memory)} and ${l.pids} pids`;
  } catch (e) {
    return `reserve not applied: ${(e as Error).message}`;
  }
}
