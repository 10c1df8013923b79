/**
 * The zone model: one typed document per zone, the single source of truth that every
 * other module reads (illumos: the zonecfg XML document owned by libzonecfg).
 *
 * Aliases are not stored twice: cpu-shares, max-lwps, ..., capped-cpu and the swap and
 * locked parts of capped-memory live only as rctls (see rctls.ts), so the alias and
 * its rctl can never disagree.
 */

export type IpType = "shared" | "exclusive";

export interface FsResource {
  dir: string;
  special: string;
  raw: string;
  type: string;
  options: string[];
}

export interface NetResource {
  address: string;
  allowedAddress: string;
  physical: string;
  defrouter: string;
}

export interface DeviceResource {
  /** A glob over the host's /dev, or cdi:VENDOR/CLASS=NAME (devices.ts). */
  match: string;
  /** Gives a device that reaches the host (disks, /dev/kvm, ...: DEVICE_RULES) anyway. */
  allowHostAccess?: boolean;
}

export interface RctlValue {
  priv: string;
  limit: number;
  action: string;
}

export interface RctlResource {
  name: string;
  values: RctlValue[];
}

export interface AttrResource {
  name: string;
  type: string;
  value: string;
}

export interface DatasetResource {
  name: string;
}

export interface DedicatedCpu {
  ncpus: string;
  importance: string;
}

export interface CappedMemory {
  /** Bytes; 0 means not set. swap and locked are the rctls zone.max-swap / zone.max-locked-memory. */
  physical: number;
}

export interface AdminResource {
  user: string;
  auths: string;
}

export interface SecurityFlags {
  lower: string;
  default: string;
  upper: string;
}

/**
 * An inter-zone service this zone offers through the broker (src/daemon/broker.ts):
 * which other zones may call it. The global zone may always call; nothing else crosses.
 */
export interface ServiceResource {
  name: string;
  /** Zone names allowed to call, in the order written. */
  caller: string[];
}

export interface ZoneConfig {
  zonename: string;
  zonepath: string;
  brand: string;
  autoboot: boolean;
  bootargs: string;
  pool: string;
  limitpriv: string;
  schedulingClass: string;
  ipType: IpType;
  hostid: string;
  fsAllowed: string;
  /**
   * Whether the zone may make user namespaces of its own (containers inside the zone).
   * Off by default, for what it costs: a nested user namespace holds every capability
   * over the namespaces it makes, which opens to any zone user kernel code a zone root
   * otherwise cannot reach (netfilter and other network administration, mounts of the
   * file-system types that allow user-namespace mounts, ...). New IPC namespaces stay
   * refused either way, so the zone's IPC limits and zipcs cover nested containers.
   */
  nesting: boolean;
  fs: FsResource[];
  net: NetResource[];
  device: DeviceResource[];
  rctl: RctlResource[];
  attr: AttrResource[];
  dataset: DatasetResource[];
  dedicatedCpu: DedicatedCpu | null;
  cappedMemory: CappedMemory | null;
  admin: AdminResource[];
  securityFlags: SecurityFlags | null;
  service: ServiceResource[];
}

/** The brand a zone gets when none is set; export omits it (illumos: the native brand). */
export const NATIVE_BRAND = "sparse";

/** What `create -b` gives: nothing but the name. */
export function blankZone(zonename: string): ZoneConfig {
  return {
    zonename,
    zonepath: "",
    brand: NATIVE_BRAND,
    autoboot: false,
    bootargs: "",
    pool: "",
    limitpriv: "",
    schedulingClass: "",
    ipType: "shared",
    hostid: "",
    fsAllowed: "",
    nesting: false,
    fs: [],
    net: [],
    device: [],
    rctl: [],
    attr: [],
    dataset: [],
    dedicatedCpu: null,
    cappedMemory: null,
    admin: [],
    securityFlags: null,
    service: [],
  };
}

export function cloneZone(z: ZoneConfig): ZoneConfig {
  return structuredClone(z);
}
