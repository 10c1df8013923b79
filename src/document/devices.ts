/**
 * Which host devices a zone may be given (`add device; set match=...`), as the
 * document can tell: the syntax of a match, and the device classes that would give
 * the host away. platform/devices.ts applies the same rules to the nodes a match
 * finds on the host, by device number as well as by name, so an alias
 * (/dev/block/8:0, /dev/disk/by-id/...) is refused like the node it points at.
 */
import { ZoneError, q } from "../native/errors.js";
import type { ZoneConfig } from "./model.js";

/** `cdi:VENDOR/CLASS=NAME`, a device of a Container Device Interface spec (cdi.ts). */
export const CDI_MATCH = /^cdi:([A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*)=([A-Za-z0-9][A-Za-z0-9_.:-]*)$/;

export function checkDeviceMatch(m: string): void {
  if (m.startsWith("cdi:")) {
    if (!CDI_MATCH.test(m)) throw new ZoneError(`device match ${q(m)} is not a CDI device name: cdi:VENDOR/CLASS=NAME, e.g. cdi:nvidia.com/gpu=0`);
    return;
  }
  if (!m.startsWith("/dev/") || m.split("/").includes("..") || /[\0-\x1f\s]/.test(m))
    throw new ZoneError(`device match must be a pattern under /dev without '..' or blanks, or cdi:VENDOR/CLASS=NAME: ${q(m)}`);
}

/** A glob of zonecfg's device match (*, ?, [...]; no '/' inside a wildcard) as a regular expression. */
export function globRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    const end = c === "[" ? glob.indexOf("]", i + 2) : -1;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (end > 0) {
      const body = glob.slice(i + 1, end);
      re += "[" + (body.startsWith("!") ? "^" + body.slice(1) : body).replace(/[\\\]]/g, "\\$&") + "]";
      i = end;
    } else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

export interface DeviceRule {
  /** Host names it covers (globs). */
  names: string[];
  /** Names a match pattern is tried against in zonecfg verify, where no host is looked at. */
  samples: string[];
  /** Device numbers it covers, whatever the node is called. */
  id?: (type: "b" | "c", major: number, minor: number) => boolean;
  why: string;
  /** No opt-in: the zone would own the whole host (and needs sys_rawio, which no zone gets). */
  never?: boolean;
}

const chr = (maj: number, ...minors: number[]) => (t: "b" | "c", M: number, m: number): boolean => t === "c" && M === maj && (minors.length === 0 || minors.includes(m));

/** The devices refused without `set allow-host-access=true` (all but `never` ones). Order: first match names the reason. */
export const DEVICE_RULES: readonly DeviceRule[] = [
  { names: ["/dev/mem", "/dev/kmem", "/dev/port"], samples: ["/dev/mem", "/dev/kmem", "/dev/port"], id: chr(1, 1, 2, 4), why: "reads and writes the host's physical memory and I/O ports", never: true },
  { names: ["/dev/cpu/*/msr"], samples: ["/dev/cpu/0/msr"], id: chr(202), why: "writes the host CPUs' model-specific registers", never: true },
  {
    names: ["/dev/sd*", "/dev/hd*", "/dev/vd*", "/dev/xvd*", "/dev/nvme*n*", "/dev/mmcblk*", "/dev/dm-*", "/dev/md*", "/dev/loop[0-9]*", "/dev/mapper/*", "/dev/sr*", "/dev/zram*", "/dev/nbd*"],
    samples: ["/dev/sda", "/dev/sda1", "/dev/hda", "/dev/vda", "/dev/xvda", "/dev/nvme0n1", "/dev/nvme0n1p1", "/dev/mmcblk0", "/dev/dm-0", "/dev/md0", "/dev/loop0", "/dev/mapper/root", "/dev/sr0", "/dev/zram0", "/dev/nbd0"],
    id: (t) => t === "b",
    why: "is a block device (a host disk, partition or loop device): the zone would read and write it beneath every host file system",
  },
  { names: ["/dev/nvme[0-9]*", "/dev/ng[0-9]*", "/dev/sg[0-9]*", "/dev/bsg/*"], samples: ["/dev/nvme0", "/dev/ng0n1", "/dev/sg0", "/dev/bsg/0:0:0:0"], id: chr(21), why: "sends raw commands to a host disk or its controller" },
  { names: ["/dev/loop-control", "/dev/mapper/control", "/dev/btrfs-control"], samples: ["/dev/loop-control", "/dev/mapper/control", "/dev/btrfs-control"], id: chr(10, 234, 236, 237), why: "creates and changes the host's loop, device-mapper or btrfs devices" },
  { names: ["/dev/kmsg"], samples: ["/dev/kmsg"], id: chr(1, 11), why: "reads and writes the host's kernel log" },
  { names: ["/dev/kvm"], samples: ["/dev/kvm"], id: chr(10, 232), why: "runs virtual machines, kernel work that the zone's limits do not cover" },
  {
    // The host's pseudo-terminals too (136-143): the zone has its own devpts instance.
    names: ["/dev/console", "/dev/tty[0-9]*", "/dev/ttyS*", "/dev/vcs*", "/dev/pts/*"],
    samples: ["/dev/console", "/dev/tty0", "/dev/tty1", "/dev/ttyS0", "/dev/vcs1", "/dev/vcsa", "/dev/pts/0"],
    id: (t, M, m) => t === "c" && ((M === 5 && m === 1) || M === 4 || M === 7 || (M >= 136 && M <= 143)),
    why: "is the host's console or one of its terminals",
  },
  { names: ["/dev/watchdog*"], samples: ["/dev/watchdog", "/dev/watchdog0"], id: chr(10, 130), why: "reboots the host when the zone stops writing it" },
  { names: ["/dev/uinput", "/dev/input/*", "/dev/hidraw*"], samples: ["/dev/uinput", "/dev/input/event0", "/dev/input/mice", "/dev/hidraw0"], id: (t, M, m) => chr(10, 223)(t, M, m) || chr(13)(t, M, m), why: "reads or forges the host's keyboard, mouse and other input" },
  { names: ["/dev/snapshot"], samples: ["/dev/snapshot"], id: chr(10, 231), why: "holds the host's hibernation image, all of its memory" },
  { names: ["/dev/rtc*"], samples: ["/dev/rtc", "/dev/rtc0"], why: "sets the host's hardware clock and alarms" },
  { names: ["/dev/vfio/*", "/dev/tpm*", "/dev/tpmrm*", "/dev/ipmi*", "/dev/mei*"], samples: ["/dev/vfio/vfio", "/dev/vfio/0", "/dev/tpm0", "/dev/tpmrm0", "/dev/ipmi0", "/dev/mei0"], why: "reaches host firmware or a host PCI device's memory (TPM, IPMI, MEI, VFIO)" },
];

/** The rule that refuses a host node, by its names (the matched path, the kernel's name) or its number. */
export function ruleFor(names: string[], node?: { type: "b" | "c"; major: number; minor: number }): DeviceRule | undefined {
  return DEVICE_RULES.find((r) => (node && r.id?.(node.type, node.major, node.minor)) || r.names.some((g) => names.some((n) => globRegExp(g).test(n))));
}

/** Why a device match cannot be given, or undefined; `allowHostAccess` lifts all but the `never` rules. */
export function refusal(what: string, rule: DeviceRule | undefined, allowHostAccess: boolean): string | undefined {
  if (!rule || (allowHostAccess && !rule.never)) return undefined;
  return rule.never
    ? `device ${what} ${rule.why}; it is never given to a zone`
    : `device ${what} ${rule.why}; add 'set allow-host-access=true' to the device resource to give it anyway`;
}

/** zonecfg verify: a match that names (or whose pattern covers) a refused device. */
export function deviceDocProblems(z: ZoneConfig): string[] {
  const out: string[] = [];
  for (const d of z.device) {
    if (d.match.startsWith("cdi:")) continue;
    const re = globRegExp(d.match);
    const rule = DEVICE_RULES.find((r) => r.samples.some((s) => re.test(s)) || r.names.includes(d.match));
    const sample = rule?.samples.find((s) => re.test(s));
    const what = sample && sample !== d.match ? `match ${q(d.match)} covers ${q(sample)}, which` : `match ${q(d.match)}`;
    const why = refusal(what, rule, d.allowHostAccess === true);
    if (why) out.push(why);
  }
  return out;
}
