/**
 * The resource types of zonecfg(8) §Resources, as one table. Each entry says which
 * properties a resource has and converts between the typed model and the generic
 * record that the editor works on while a resource is being added or selected.
 * `write` validates every value; cross-resource rules live in verify.ts.
 */
import { isIP } from "node:net";
import { ZoneError, q } from "../native/errors.js";
import type { Complex } from "./grammar.js";
import type { ZoneConfig, RctlValue } from "./model.js";
import { checkDeviceMatch } from "./devices.js";
import { checkAbsolutePath } from "./names.js";
import { rctlDef, rctlLimit, rctlValueFrom, removeRctl, setRctlLimit } from "./rctls.js";
import { formatBytes, parseBytes, parseCount } from "./units.js";

export type PropValue = string | string[] | Complex[];
export type Rec = Record<string, PropValue>;

export interface PropSpec {
  name: string;
  kind: "simple" | "list" | "complex-list";
}

export interface ResourceSpec {
  type: string;
  /** At most one per zone; selected without prop=value pairs. */
  singleton: boolean;
  props: PropSpec[];
  read(z: ZoneConfig): Rec[];
  write(z: ZoneConfig, recs: Rec[]): void;
}

const simple = (...names: string[]): PropSpec[] => names.map((name) => ({ name, kind: "simple" }));

function s(r: Rec, name: string): string {
  const v = r[name];
  return typeof v === "string" ? v : "";
}

function need(type: string, r: Rec, ...names: string[]): void {
  for (const n of names) if (s(r, n) === "") throw new ZoneError(`${type}: ${n} not specified`);
}

/** Drop unset properties so records compare and print cleanly. */
function rec(entries: Record<string, PropValue>): Rec {
  const out: Rec = {};
  for (const [k, v] of Object.entries(entries)) if (v !== "" && !(Array.isArray(v) && v.length === 0)) out[k] = v;
  return out;
}

/** File-system types a zone may be given. lofs is a bind mount of a host path. */
export const FS_TYPES = ["lofs", "tmpfs", "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "exfat", "squashfs", "iso9660"];
const FS_REFUSED = ["proc", "sysfs", "cgroup", "cgroup2", "devtmpfs", "devpts", "debugfs", "tracefs", "securityfs", "bpf", "autofs", "nfs", "nfs4", "mntfs", "mqueue", "configfs", "fusectl", "pstore", "efivarfs"];

export function checkFsType(t: string): void {
  if (FS_REFUSED.includes(t)) throw new ZoneError(`fs type ${q(t)} is not allowed in a zone: the zone gets its own instance or it reaches kernel-global state`);
  if (!FS_TYPES.includes(t)) throw new ZoneError(`unknown fs type ${q(t)}; allowed: ${FS_TYPES.join(", ")}`);
}

function checkMountOption(o: string): void {
  if (o === "" || /[,\s"\\]/.test(o)) throw new ZoneError(`fs option ${q(o)} is invalid: one option per entry, without commas, blanks, quotes or backslashes`);
}

/** An IPv4 or IPv6 address with an optional /prefix, as `address` and `allowed-address` take. */
export function checkCidr(what: string, v: string): void {
  const [ip, prefix, extra] = v.split("/");
  const family = isIP(ip ?? "");
  if (family === 0 || extra !== undefined) throw new ZoneError(`${what} must be an IP address with an optional /prefix: ${q(v)}`);
  if (prefix !== undefined) {
    const max = family === 4 ? 32 : 128;
    if (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > max) throw new ZoneError(`${what} has an invalid prefix length (0-${max}): ${q(v)}`);
  }
}

const LINK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;
const AUTHS = ["login", "manage", "clonefrom"];
const SECFLAGS = ["aslr", "forbidnullmap", "noexecstack"];

/** A security-flags set: none, all, or a comma list of flag names. Returns the flags. */
export function secflagSet(what: string, v: string): Set<string> {
  if (v === "none") return new Set();
  if (v === "all") return new Set(SECFLAGS);
  const out = new Set<string>();
  for (const f of v.split(",")) {
    if (!SECFLAGS.includes(f)) throw new ZoneError(`security-flags ${what}: unknown flag ${q(f)}; known: none, all, ${SECFLAGS.join(", ")}`);
    out.add(f);
  }
  return out;
}

export function checkAttrValue(type: string, value: string, name: string): void {
  const where = `attr ${q(name)}`;
  const ok =
    type === "string" ||
    (type === "boolean" && (value === "true" || value === "false")) ||
    (type === "int" && /^-?[0-9]+$/.test(value) && Number.isSafeInteger(Number(value))) ||
    (type === "uint" && /^[0-9]+$/.test(value) && Number.isSafeInteger(Number(value)));
  if (!["string", "boolean", "int", "uint"].includes(type)) throw new ZoneError(`${where}: type must be int, uint, boolean or string: ${q(type)}`);
  if (!ok) throw new ZoneError(`${where}: value is not a valid ${type}: ${q(value)}`);
}

/**
 * Store an alias resource's value in its rctl. An unchanged value leaves the rctl as it
 * is, so selecting and ending capped-cpu or capped-memory never rewrites rctl values
 * the administrator set by hand.
 */
function setAliasRctl(z: ZoneConfig, rctl: string, limit: number): void {
  if (rctlLimit(z, rctl) !== limit) setRctlLimit(z, rctl, limit);
}

function formatNcpus(capPercent: number): string {
  return (capPercent / 100).toFixed(2);
}

/** Service names: what `zchan offer NAME` and the broker's wire protocol carry. */
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const RESOURCES: readonly ResourceSpec[] = [
  {
    type: "fs",
    singleton: false,
    props: [...simple("dir", "special", "raw", "type"), { name: "options", kind: "list" }],
    read: (z) => z.fs.map((f) => rec({ dir: f.dir, special: f.special, raw: f.raw, type: f.type, options: [...f.options] })),
    write(z, recs) {
      z.fs = recs.map((r) => {
        need("fs", r, "dir", "special", "type");
        checkAbsolutePath("fs dir", s(r, "dir"));
        checkFsType(s(r, "type"));
        if (s(r, "type") === "lofs") checkAbsolutePath("fs special", s(r, "special"));
        if (s(r, "raw") !== "") checkAbsolutePath("fs raw", s(r, "raw"));
        const options = (r.options as string[] | undefined) ?? [];
        options.forEach(checkMountOption);
        return { dir: s(r, "dir"), special: s(r, "special"), raw: s(r, "raw"), type: s(r, "type"), options: [...options] };
      });
    },
  },
  {
    type: "net",
    singleton: false,
    props: simple("address", "allowed-address", "physical", "defrouter"),
    read: (z) => z.net.map((n) => rec({ address: n.address, "allowed-address": n.allowedAddress, physical: n.physical, defrouter: n.defrouter })),
    write(z, recs) {
      z.net = recs.map((r) => {
        need("net", r, "physical");
        if (!LINK_NAME.test(s(r, "physical"))) throw new ZoneError(`net physical must be a link name of 1-15 characters [A-Za-z0-9_.-]: ${q(s(r, "physical"))}`);
        if (s(r, "address") !== "") checkCidr("net address", s(r, "address"));
        if (s(r, "allowed-address") !== "") checkCidr("net allowed-address", s(r, "allowed-address"));
        if (s(r, "defrouter") !== "" && isIP(s(r, "defrouter")) === 0) throw new ZoneError(`net defrouter must be an IP address: ${q(s(r, "defrouter"))}`);
        return { address: s(r, "address"), allowedAddress: s(r, "allowed-address"), physical: s(r, "physical"), defrouter: s(r, "defrouter") };
      });
    },
  },
  {
    type: "device",
    singleton: false,
    props: simple("match", "allow-host-access"),
    read: (z) => z.device.map((d) => rec({ match: d.match, "allow-host-access": d.allowHostAccess ? "true" : "" })),
    write(z, recs) {
      z.device = recs.map((r) => {
        need("device", r, "match");
        const m = s(r, "match");
        checkDeviceMatch(m);
        const host = s(r, "allow-host-access");
        if (host !== "" && host !== "true" && host !== "false") throw new ZoneError(`device ${q(m)}: allow-host-access must be true or false: ${q(host)}`);
        return host === "true" ? { match: m, allowHostAccess: true } : { match: m };
      });
    },
  },
  {
    type: "rctl",
    singleton: false,
    props: [...simple("name"), { name: "value", kind: "complex-list" }],
    read: (z) =>
      z.rctl.map((r) =>
        rec({ name: r.name, value: r.values.map((v): Complex => [["priv", v.priv], ["limit", String(v.limit)], ["action", v.action]]) }),
      ),
    write(z, recs) {
      z.rctl = recs.map((r) => {
        need("rctl", r, "name");
        const def = rctlDef(s(r, "name"));
        const values = ((r.value as Complex[] | undefined) ?? []).map((parts): RctlValue => rctlValueFrom(def, parts));
        if (values.length === 0) throw new ZoneError(`rctl ${q(def.name)}: no value specified`);
        return { name: def.name, values };
      });
    },
  },
  {
    type: "attr",
    singleton: false,
    props: simple("name", "type", "value"),
    read: (z) => z.attr.map((a) => rec({ name: a.name, type: a.type, value: a.value })),
    write(z, recs) {
      z.attr = recs.map((r) => {
        need("attr", r, "name", "type");
        const name = s(r, "name");
        if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(name)) throw new ZoneError(`attr name must be letters, digits and _.:- : ${q(name)}`);
        if (name.startsWith("zone")) throw new ZoneError(`attr name ${q(name)} is reserved: names starting with 'zone' belong to the system`);
        checkAttrValue(s(r, "type"), s(r, "value"), name);
        return { name, type: s(r, "type"), value: s(r, "value") };
      });
    },
  },
  {
    type: "dataset",
    singleton: false,
    props: simple("name"),
    read: (z) => z.dataset.map((d) => rec({ name: d.name })),
    write(z, recs) {
      // Linux has no ZFS datasets to delegate: a dataset names a host directory.
      z.dataset = recs.map((r) => {
        need("dataset", r, "name");
        checkAbsolutePath("dataset name (a host directory)", s(r, "name"));
        return { name: s(r, "name") };
      });
    },
  },
  {
    type: "dedicated-cpu",
    singleton: true,
    props: simple("ncpus", "importance"),
    read: (z) => (z.dedicatedCpu ? [rec({ ncpus: z.dedicatedCpu.ncpus, importance: z.dedicatedCpu.importance })] : []),
    write(z, recs) {
      const r = recs[0];
      if (!r) return void (z.dedicatedCpu = null);
      need("dedicated-cpu", r, "ncpus");
      const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(s(r, "ncpus"));
      if (!m || Number(m[1]) < 1 || (m[2] !== undefined && Number(m[2]) < Number(m[1])))
        throw new ZoneError(`dedicated-cpu ncpus must be N or N-M with 1 <= N <= M: ${q(s(r, "ncpus"))}`);
      if (s(r, "importance") !== "") parseCount("dedicated-cpu importance", s(r, "importance"));
      z.dedicatedCpu = { ncpus: s(r, "ncpus"), importance: s(r, "importance") };
    },
  },
  {
    type: "capped-cpu",
    singleton: true,
    props: simple("ncpus"),
    read: (z) => {
      const cap = rctlLimit(z, "zone.cpu-cap");
      return cap === undefined ? [] : [rec({ ncpus: formatNcpus(cap) })];
    },
    write(z, recs) {
      const r = recs[0];
      if (!r) return removeRctl(z, "zone.cpu-cap");
      need("capped-cpu", r, "ncpus");
      const n = s(r, "ncpus");
      if (!/^([0-9]+(\.[0-9]*)?|\.[0-9]+)$/.test(n) || Number(n) <= 0)
        throw new ZoneError(`capped-cpu ncpus must be a positive number of CPUs such as .75 or 1.5: ${q(n)}`);
      setAliasRctl(z, "zone.cpu-cap", Math.round(Number(n) * 100));
    },
  },
  {
    type: "capped-memory",
    singleton: true,
    props: simple("physical", "swap", "locked"),
    read: (z) => {
      const swap = rctlLimit(z, "zone.max-swap");
      const locked = rctlLimit(z, "zone.max-locked-memory");
      if (!z.cappedMemory && swap === undefined && locked === undefined) return [];
      return [
        rec({
          physical: z.cappedMemory ? formatBytes(z.cappedMemory.physical) : "",
          swap: swap === undefined ? "" : formatBytes(swap),
          locked: locked === undefined ? "" : formatBytes(locked),
        }),
      ];
    },
    write(z, recs) {
      const r = recs[0] ?? {};
      if (recs[0] && s(r, "physical") === "" && s(r, "swap") === "" && s(r, "locked") === "")
        throw new ZoneError("capped-memory: set at least one of physical, swap and locked");
      // Parse everything first: a bad value must leave the zone as it was.
      const bytes = (prop: string): number | undefined => (s(r, prop) === "" ? undefined : parseBytes(`capped-memory ${prop}`, s(r, prop)));
      const [physical, swap, locked] = [bytes("physical"), bytes("swap"), bytes("locked")];
      if (physical === 0) throw new ZoneError("capped-memory physical must be more than 0");
      z.cappedMemory = physical === undefined ? null : { physical };
      for (const [limit, rctl] of [[swap, "zone.max-swap"], [locked, "zone.max-locked-memory"]] as const) {
        if (limit === undefined) removeRctl(z, rctl);
        else setAliasRctl(z, rctl, limit);
      }
    },
  },
  {
    type: "admin",
    singleton: false,
    props: simple("user", "auths"),
    read: (z) => z.admin.map((a) => rec({ user: a.user, auths: a.auths })),
    write(z, recs) {
      z.admin = recs.map((r) => {
        need("admin", r, "user", "auths");
        if (!USER_NAME.test(s(r, "user"))) throw new ZoneError(`admin user is not a valid user name: ${q(s(r, "user"))}`);
        for (const a of s(r, "auths").split(","))
          if (!AUTHS.includes(a)) throw new ZoneError(`admin auths: unknown authorization ${q(a)}; known: ${AUTHS.join(", ")}`);
        return { user: s(r, "user"), auths: s(r, "auths") };
      });
    },
  },
  {
    type: "security-flags",
    singleton: true,
    props: simple("lower", "default", "upper"),
    read: (z) => (z.securityFlags ? [rec({ lower: z.securityFlags.lower, default: z.securityFlags.default, upper: z.securityFlags.upper })] : []),
    write(z, recs) {
      const r = recs[0];
      if (!r) return void (z.securityFlags = null);
      const sets = (["lower", "default", "upper"] as const).map((k) => (s(r, k) === "" ? undefined : secflagSet(k, s(r, k))));
      const [lower, dflt, upper] = [sets[0] ?? new Set<string>(), sets[1] ?? sets[0] ?? new Set<string>(), sets[2] ?? new Set(SECFLAGS)];
      const subset = (a: Set<string>, b: Set<string>): boolean => [...a].every((f) => b.has(f));
      if (!subset(lower, dflt) || !subset(dflt, upper)) throw new ZoneError("security-flags must satisfy lower ⊆ default ⊆ upper");
      z.securityFlags = { lower: s(r, "lower"), default: s(r, "default"), upper: s(r, "upper") };
    },
  },
  {
    // Inter-zone channels (not in illumos): `add service; set name=db; set caller=web,app; end`.
    type: "service",
    singleton: false,
    props: simple("name", "caller"),
    read: (z) => z.service.map((v) => rec({ name: v.name, caller: v.caller.join(",") })),
    write(z, recs) {
      z.service = recs.map((r) => {
        need("service", r, "name");
        const name = s(r, "name");
        if (!SERVICE_NAME.test(name)) throw new ZoneError(`service name must be 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit: ${q(name)}`);
        const caller = s(r, "caller") === "" ? [] : s(r, "caller").split(",");
        for (const c of caller)
          if (!SERVICE_NAME.test(c)) throw new ZoneError(`service ${q(name)}: caller must be a comma list of zone names: ${q(c)}`);
        return { name, caller };
      });
    },
  },
];

export function resourceSpec(type: string): ResourceSpec | undefined {
  return RESOURCES.find((r) => r.type === type);
}

/** Re-validate every resource of a zone (used by verify on documents read from disk). */
export function checkAllResources(z: ZoneConfig): void {
  // On a copy: writing an alias resource (capped-memory) rewrites its rctls.
  const copy = structuredClone(z);
  for (const spec of RESOURCES) spec.write(copy, spec.read(copy));
}
