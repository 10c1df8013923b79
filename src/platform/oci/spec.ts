/**
 * The OCI runtime configuration (config.json) of a zone: its namespaces, its uid slot,
 * its mounts, its privileges and its limits, all derived from the zone document. The
 * types cover the subset of the runtime spec we use (no npm package carries them).
 */
import { ipcSysctls } from "../ipclimits.js";
import type { ZoneConfig } from "../../document/model.js";
import { MASKED_PATHS, READONLY_PATHS, ociCapabilities, seccompProfile, type LinuxSeccomp } from "../security.js";
import { SLOT_SIZE } from "../slots.js";
import { viewMounts } from "../views.js";
import { ociResources, type OciResourceLimits } from "../cgroups/oci.js";
import { memlockAnnotation } from "../cgroups/memlock.js";

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

/** An entry of the zone's device cgroup (v1 devices.allow, v2 the runtime's eBPF program). */
export interface OciDeviceRule {
  allow: boolean;
  type?: "b" | "c";
  major?: number;
  minor?: number;
  access?: string;
}

/** What the zone's device resources add (platform/devices.ts): binds of their nodes and CDI files, cgroup entries, env. */
export interface DeviceEdits {
  allow: OciDeviceRule[];
  mounts: OciMount[];
  env: string[];
}

export interface OciProcess {
  terminal: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: { bounding: string[]; effective: string[]; permitted: string[] };
  rlimits?: Array<{ type: string; soft: number; hard: number }>;
  noNewPrivileges: boolean;
  /** A terminal's size from the start (the API's pty sessions: src/daemon/login.ts). */
  consoleSize?: { height: number; width: number };
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  annotations: Record<string, string>;
  linux: {
    uidMappings: Array<{ containerID: number; hostID: number; size: number }>;
    gidMappings: Array<{ containerID: number; hostID: number; size: number }>;
    namespaces: Array<{ type: string; path?: string }>;
    cgroupsPath: string;
    resources: {
      devices: OciDeviceRule[];
    } & OciResourceLimits;
    seccomp: LinuxSeccomp;
    /** Namespaced sysctls the runtime writes in the zone (ipclimits.ts). */
    sysctl?: Record<string, string>;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

export const ZONE_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface SpecInput {
  zone: ZoneConfig;
  /** Host uid of the zone's root: slot * 65536. */
  base: number;
  /** The zone root on the host (zonepath/root). */
  root: string;
  init: string[];
  /** cgroup parent name for this ZONES_ROOT (paths.hostPrefix). */
  cgroupParent: string;
  zoneId: number;
  /**
   * Host directory of the zone's inter-zone broker endpoint (src/daemon/broker.ts),
   * bind-mounted at BROKER_MOUNT in the zone; none: no endpoint (runtime tests).
   */
  brokerDir?: string;
  /**
   * A user namespace for the zone to join (`/proc/PID/ns/user`), made by the caller and
   * owned by the zone's slot uid (idmap.ts mappedUserns); none: the runtime makes one,
   * owned by host root.
   */
  userns?: string;
  /** Memory all zones of the root share (reserve.ts): the base of the default shm bound. */
  zonesMemory?: number;
  /** The zone's device resources (devices.ts); none: only the runtime's default nodes. */
  devices?: DeviceEdits;
  /** The lxcfs stage whose files show the zone its own memory, CPUs and uptime (views.ts); none: host-wide. */
  viewsDir?: string;
  /** The CPUs dedicated to the zone (cpusets.ts), if it has dedicated-cpu. */
  cpus?: string;
  /** The host runs pure cgroup v2 (cgroups/cgroup.ts isV2). */
  cgroupV2?: boolean;
  /** Brand oci's image: the init's environment, working directory and user. */
  image?: ProcessImage;
}

/** What an image sets for its processes (brands/oci.ts ImageRecord). */
export interface ProcessImage {
  env: string[];
  cwd: string;
  user: { uid: number; gid: number };
}

/** `later` entries replace `earlier` ones of the same name: one PATH, the image's. */
function mergeEnv(earlier: string[], later: string[]): string[] {
  const key = (e: string): string => e.split("=", 1)[0]!;
  const names = new Set(later.map(key));
  return [...earlier.filter((e) => !names.has(key(e))), ...later];
}

/** Where a zone sees its broker endpoint directory (the socket is broker.sock in it). */
export const BROKER_MOUNT = "/run/zones";

/** The process of a zone's processes, as zlogin and init start them. */
export function zoneProcess(zone: ZoneConfig, args: string[], user = { uid: 0, gid: 0 }, extraEnv: string[] = [], image?: ProcessImage): OciProcess {
  const caps = ociCapabilities(zone.limitpriv, zone.ipType);
  return {
    terminal: false,
    user,
    args,
    env: mergeEnv(mergeEnv([ZONE_PATH_ENV, "TERM=xterm"], image?.env ?? []), extraEnv),
    cwd: image?.cwd ?? "/",
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    // A zone is a whole system: su, sudo and passwd need set-uid to work.
    noNewPrivileges: false,
  };
}

export function zoneSpec(i: SpecInput): OciSpec {
  const z = i.zone;
  const map = [{ containerID: 0, hostID: i.base, size: SLOT_SIZE }];
  const sysctl = ipcSysctls(z, i.zonesMemory);
  return {
    ociVersion: "1.0.2",
    // init runs on the zone console: a terminal the runtime hands to zoneadmd.
    process: { ...zoneProcess(z, i.init, i.image?.user ?? { uid: 0, gid: 0 }, [`container=zone`, ...(i.devices?.env ?? [])], i.image), terminal: true },
    root: { path: i.root, readonly: false },
    hostname: z.zonename,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      { destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755", "size=65536k"] },
      // The broker's socket: a host directory the zone cannot write (owned by host root).
      ...(i.brokerDir ? [{ destination: BROKER_MOUNT, type: "bind", source: i.brokerDir, options: ["bind", "nosuid", "nodev", "noexec"] }] : []),
      ...(i.devices?.mounts ?? []),
      ...viewMounts(i.viewsDir),
    ],
    annotations: { "org.illumos.zone.name": z.zonename, "org.illumos.zone.id": String(i.zoneId), ...memlockAnnotation(z) },
    linux: {
      uidMappings: map,
      gidMappings: map,
      namespaces: ["pid", "ipc", "uts", "mount", "user", "network", "cgroup"].map((type) => (type === "user" && i.userns ? { type, path: i.userns } : { type })),
      cgroupsPath: `/${i.cgroupParent}/${z.zonename}`,
      resources: {
        // Deny every device, then the runtime adds its safe defaults (null, zero, full,
        // random, urandom, tty, ptmx, pts): the zone's /dev allow-list.
        devices: [{ allow: false, access: "rwm" }, ...(i.devices?.allow ?? [])],
        // Silent configurations get the defaults (defaults.ts); the parent cgroup bounds all zones.
        ...ociResources(z, i.cpus, i.cgroupV2 === true),
      },
      seccomp: seccompProfile({ nesting: z.nesting }),
      ...(Object.keys(sysctl).length > 0 ? { sysctl } : {}),
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
}
