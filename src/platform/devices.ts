/**
 * The zone's device resources on this host: each `match` glob is resolved over the
 * host's /dev when the zone is made ready (devices may appear after zonecfg), each
 * CDI device through its spec (cdi.ts). Every node found must pass DEVICE_RULES
 * (document/devices.ts), by its names and by its device number; it then appears in
 * the zone at its host path (zoneDevices), and the zone's device cgroup admits
 * exactly its type and major:minor. A match that finds nothing is refused: a zone
 * booted without the device it was configured with would fail later, unseen.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { globRegExp, hasGlob, refusal, ruleFor } from "../document/devices.js";
import type { ZoneConfig } from "../document/model.js";
import { cdiDirs, cdiEdits } from "./cdi.js";
import { errnoText, sys } from "../native/sys.js";
import type { DeviceEdits, OciMount } from "./oci/spec.js";

export interface HostNode {
  path: string;
  type: "b" | "c";
  major: number;
  minor: number;
  mode: number;
}

/** The character or block node at `p` (symbolic links followed), or undefined. */
export function hostNode(p: string): HostNode | undefined {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(p, { bigint: true });
  } catch {
    return undefined;
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return undefined;
  const r = st.rdev;
  // glibc's major()/minor(): 12 bits of major and 20 of minor, split across the dev_t.
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return { path: p, type: st.isBlockDevice() ? "b" : "c", major, minor, mode: Number(st.mode & 0o7777n) };
}

/** The device nodes of the host that glob `match` names, in name order. */
export function resolveMatch(match: string): HostNode[] {
  let paths = ["/"];
  for (const seg of match.split("/").filter(Boolean)) {
    if (!hasGlob(seg)) {
      paths = paths.map((p) => path.join(p, seg));
      continue;
    }
    const re = globRegExp(seg);
    paths = paths.flatMap((p) => {
      try {
        return fs.readdirSync(p).filter((n) => re.test(n) && !(n.startsWith(".") && !seg.startsWith("."))).sort().map((n) => path.join(p, n));
      } catch {
        return [];
      }
    });
  }
  return paths.flatMap((p) => hostNode(p) ?? []);
}

/** The kernel's name of a node (/sys/dev/char/M:m/uevent DEVNAME), whatever link it was reached by. */
function kernelName(n: HostNode): string | undefined {
  try {
    const uevent = fs.readFileSync(`/sys/dev/${n.type === "b" ? "block" : "char"}/${n.major}:${n.minor}/uevent`, "utf8");
    const m = /^DEVNAME=(.*)$/m.exec(uevent);
    return m ? `/dev/${m[1]}` : undefined;
  } catch {
    return undefined;
  }
}

function checkNode(what: string, n: HostNode, allowHostAccess: boolean): void {
  const names = [n.path, fs.realpathSync(n.path), kernelName(n)].filter((x): x is string => x !== undefined);
  const label = n.path === what ? `${q(what)} (${n.type} ${n.major}:${n.minor})` : `${q(what)} (${q(n.path)}, ${n.type} ${n.major}:${n.minor})`;
  const why = refusal(label, ruleFor(names, n), allowHostAccess);
  if (why) throw new ZoneError(why);
}

interface DevicePlan {
  nodes: Array<{ node: HostNode; access: string }>;
  mounts: OciMount[];
  env: string[];
}

/** The zone's device resources checked against this host: the nodes, CDI mounts and env they give. */
function planDevices(z: ZoneConfig, root: string): DevicePlan {
  const out: DevicePlan = { nodes: [], mounts: [], env: [] };
  const add = (what: string, n: HostNode, access: string, allowHostAccess: boolean): void => {
    checkNode(what, n, allowHostAccess);
    if (!out.nodes.some((o) => o.node.path === n.path)) out.nodes.push({ node: n, access });
  };
  for (const d of z.device) {
    const host = d.allowHostAccess === true;
    if (d.match.startsWith("cdi:")) {
      const e = cdiEdits(d.match, cdiDirs(root));
      for (const c of e.nodes) {
        const n = hostNode(c.hostPath);
        if (!n) throw new ZoneError(`device ${q(d.match)}: its CDI device node ${q(c.hostPath)} is not a device on this host`);
        add(d.match, n, c.permissions, host);
      }
      out.mounts.push(...e.mounts.filter((m) => !out.mounts.some((o) => o.destination === m.destination)));
      out.env.push(...e.env);
      continue;
    }
    const nodes = resolveMatch(d.match);
    if (nodes.length === 0) throw new ZoneError(`device match ${q(d.match)} matches no device node on this host`);
    for (const n of nodes) add(d.match, n, "rwm", host);
  }
  return out;
}

/**
 * Where a zone's device nodes are made: <zonepath>/dev, beside its root (illumos keeps
 * a zone's /dev there too). The zonepath's file system allows devices (hostcheck.ts),
 * it belongs to host root and only the zone's root group may search it, and nothing in
 * the zone reaches it: the zone sees each node only through its bind at /dev/....
 */
export function deviceDir(z: ZoneConfig): string {
  return path.join(z.zonepath, "dev");
}

/** Remove the zone's device nodes (teardown; also before each ready makes them afresh). */
export function removeDeviceNodes(z: ZoneConfig): void {
  if (z.zonepath !== "") fs.rmSync(deviceDir(z), { recursive: true, force: true });
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

/** makedev() as glibc packs it. */
function makedev(major: number, minor: number): bigint {
  const [M, m] = [BigInt(major), BigInt(minor)];
  return ((M & 0xfffn) << 8n) | ((M & ~0xfffn) << 32n) | (m & 0xffn) | ((m & ~0xffn) << 12n);
}

/**
 * What the zone's device resources add to its OCI spec, with their nodes made. Each
 * node is made by host root under deviceDir with the host node's type, numbers and
 * mode, owned by the zone's root (host uid `base`), and bind-mounted at its path in
 * the zone's /dev. Not the runtime's linux.devices: in a user namespace runc binds the
 * host's own node, whose owner (host root) the zone cannot use, so a 0600 node such
 * as /dev/fuse could not be opened, and a devtmpfs node cannot be id-mapped.
 * `root` is the ZONES_ROOT prefix ("" for the standard one): where the CDI specs are.
 */
export function zoneDevices(z: ZoneConfig, root: string, base: number): DeviceEdits {
  const plan = planDevices(z, root);
  const out: DeviceEdits = { allow: [], mounts: [], env: plan.env };
  removeDeviceNodes(z);
  if (plan.nodes.length === 0) return { ...out, mounts: plan.mounts };
  const dir = deviceDir(z);
  fs.mkdirSync(dir, { mode: 0o755 });
  const s = sys();
  for (const { node: n, access } of plan.nodes) {
    const made = path.join(dir, path.relative("/dev", n.path));
    fs.mkdirSync(path.dirname(made), { recursive: true, mode: 0o755 });
    if (s.mknod(made, (n.type === "b" ? S_IFBLK : S_IFCHR) | n.mode, makedev(n.major, n.minor)) !== 0)
      throw new ZoneError(`device ${q(n.path)}: cannot make its node ${q(made)}: ${errnoText(s.errno())}`);
    fs.chownSync(made, base, base);
    fs.chmodSync(made, n.mode);
    out.mounts.push({ destination: n.path, type: "bind", source: made, options: ["bind", "nosuid", "noexec"] });
    out.allow.push({ allow: true, type: n.type, major: n.major, minor: n.minor, access });
  }
  out.mounts.push(...plan.mounts);
  return out;
}

/** zoneadm verify: the device resources' problems on this host, one line each. */
export function deviceProblems(z: ZoneConfig, root: string): string[] {
  const out: string[] = [];
  for (const d of z.device) {
    try {
      planDevices({ ...z, device: [d] }, root);
    } catch (e) {
      if (!(e instanceof ZoneError)) throw e;
      out.push(e.message);
    }
  }
  return out;
}

/**
 * runc before 1.2 admits /dev/net/tun (c 10:200) in every container's device cgroup,
 * after the rules the spec gives, so the spec cannot take it back: a zone not given
 * the device would open a tun node that the host left in its tree. Under cgroup v1 the
 * rule is withdrawn here, as soon as the runtime has made the group (a zone started
 * in the same runtime call runs for those few milliseconds with it); under v2 the
 * runtime's eBPF program keeps it until runc is 1.2 or later, which no longer adds it.
 */
export function withdrawRuntimeDefaults(prefix: string, name: string, given: DeviceEdits): void {
  if (given.allow.some((a) => a.type === "c" && a.major === 10 && a.minor === 200)) return;
  const deny = path.join("/sys/fs/cgroup/devices", prefix, name, "devices.deny");
  if (fs.existsSync(deny)) fs.writeFileSync(deny, "c 10:200 rwm");
}
