/**
 * Random zones for the export round-trip property test (export.test.ts): a seeded PRNG
 * and a generator of every resource type, with values full of the characters the lexer
 * treats specially. Its own file so that the test reads apart from how its cases are made.
 */
import {
  type AdminResource,
  type ServiceResource,
  type AttrResource,
  type FsResource,
  type NetResource,
  type RctlResource,
  type SecurityFlags,
  type ZoneConfig,
} from "../../src/document/model.js";
import { BRAND_NAMES } from "../../src/document/brandnames.js";
import { ALL_CAPABILITIES, PROHIBITED_CAPABILITIES } from "../../src/document/capabilities.js";
import { RCTLS } from "../../src/document/rctls.js";
import { FS_TYPES } from "../../src/document/resources.js";

/** mulberry32: a small deterministic PRNG giving floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
  times<T>(lo: number, hi: number, f: () => T): T[] {
    return Array.from({ length: this.int(lo, hi) }, f);
  }
  /** A string of 1..max characters from `alphabet`. */
  str(alphabet: string, min: number, max: number): string {
    const chars = [...alphabet];
    let s = "";
    const n = this.int(min, max);
    for (let i = 0; i < n; i++) s += this.pick(chars);
    return s;
  }
}

const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/** Characters that the lexer treats specially, plus blanks and some non-ASCII. */
const NASTY = ' \t=,"\\[]();#-.:/*?!$&\'`~|<>{}@%^+é€\u00a0\u2003';
/** Awkward whole values. */
const NASTY_VALUES = ['"', "\\", '\\"', '""', "#", "# not a comment", ";", "end", "-F", "=", "[]", "()", "a,b", " ", "\t", "x=y=z", "(priv=basic)", "[ro,nodevices]", "'", "\\\\n"];

function freeText(g: Gen, min = 1, max = 24): string {
  if (g.chance(0.15)) {
    const v = g.pick(NASTY_VALUES);
    if (v.length >= min) return v;
  }
  return g.str(ALNUM + NASTY + NASTY, min, max);
}

/** An absolute path whose components may hold anything but '/' and control characters. */
function absPath(g: Gen): string {
  const segs = g.times(1, 4, () => {
    for (;;) {
      const s = g.chance(0.5) ? g.str(ALNUM + "_-.", 1, 10) : freeText(g, 1, 10).replace(/\//g, "_").replace(/\t/g, "_");
      if (s !== "." && s !== "..") return s;
    }
  });
  return "/" + segs.join("/");
}

function ipv4(g: Gen): string {
  return g.times(4, 4, () => String(g.int(0, 255))).join(".");
}

function ipv6(g: Gen): string {
  const groups = g.times(8, 8, () => g.int(0, 0xffff).toString(16));
  if (g.chance(0.5)) return groups.join(":");
  return `${groups[0]}:${groups[1]}::${groups[7]}`;
}

function cidr(g: Gen): string {
  if (g.chance(0.5)) return ipv4(g) + (g.chance(0.5) ? `/${g.int(0, 32)}` : "");
  return ipv6(g) + (g.chance(0.5) ? `/${g.int(0, 128)}` : "");
}

function limitpriv(g: Gen): string {
  const items: string[] = [];
  if (g.chance(0.6)) items.push("default");
  for (let i = g.int(items.length === 0 ? 1 : 0, 4); i > 0; i--) {
    const cap = g.pick(ALL_CAPABILITIES);
    let name = g.chance(0.3) ? `cap_${cap}` : cap;
    if (g.chance(0.2)) name = name.toUpperCase();
    const remove = PROHIBITED_CAPABILITIES.includes(cap) || g.chance(0.3);
    items.push(remove ? g.pick(["-", "!"]) + name : name);
  }
  return items.map((x) => (g.chance(0.1) ? ` ${x} ` : x)).join(",");
}

function hostid(g: Gen): string {
  const n = g.chance(0.1) ? 0xfffffffe : g.int(0, 0xfffffffe);
  let hex = n.toString(16);
  if (g.chance(0.5)) hex = hex.toUpperCase();
  if (g.chance(0.3)) hex = hex.padStart(8, "0");
  return (g.chance(0.3) ? g.pick(["0x", "0X"]) : "") + hex;
}

function fsAllowed(g: Gen): string {
  if (g.chance(0.1)) return "-";
  return (g.chance(0.3) ? "-" : "") + g.times(1, 3, () => g.str("abcdefghijklmnopqrstuvwxyz0123456789_", 1, 8)).join(",");
}

const OPTION_CHARS = ALNUM + "=[]();#-_.:/+@%";

function fs(g: Gen): FsResource {
  const type = g.pick(FS_TYPES);
  return {
    dir: absPath(g),
    special: type === "lofs" || g.chance(0.3) ? absPath(g) : freeText(g),
    raw: g.chance(0.3) ? absPath(g) : "",
    type,
    options: g.times(0, 4, () => (g.chance(0.2) ? g.pick(["ro", "nodevices", "size=10m", "mode=1777", "#x", "[a]", "(b)", "a;b"]) : g.str(OPTION_CHARS, 1, 12))),
  };
}

function net(g: Gen): NetResource {
  return {
    address: g.chance(0.6) ? cidr(g) : "",
    allowedAddress: g.chance(0.4) ? cidr(g) : "",
    physical: g.str(ALNUM, 1, 1) + g.str(ALNUM + "_.-", 0, 14),
    defrouter: g.chance(0.4) ? (g.chance(0.5) ? ipv4(g) : ipv6(g)) : "",
  };
}

function deviceMatch(g: Gen): string {
  const chars = ALNUM + '=,"\\[]();#-_.*?!{}:@%+';
  const segs = g.times(1, 3, () => {
    for (;;) {
      const s = g.str(chars, 1, 10);
      if (s !== "..") return s;
    }
  });
  return "/dev/" + segs.join("/");
}

const SIGNAL_ACTIONS = ["signal=SIGTERM", "signal=SIGKILL", "signal=term", "signal=XCPU", "signal=sighup", "signal=SIGXRES", "signal=ABRT"];

function rctls(g: Gen): RctlResource[] {
  const defs = g.shuffle(RCTLS).slice(0, g.int(0, 5));
  return defs.map((def) => ({
    name: def.name,
    values: g.times(1, 3, () => {
      const kind = g.pick(def.actions);
      return {
        priv: g.pick(["privileged", "basic"]),
        limit: g.chance(0.1) ? Number.MAX_SAFE_INTEGER : g.chance(0.5) ? g.int(0, 1000) : g.int(0, 2 ** 40),
        action: kind === "signal" ? g.pick(SIGNAL_ACTIONS) : kind,
      };
    }),
  }));
}

function attr(g: Gen): AttrResource {
  let name = g.str(ALNUM, 1, 1) + g.str(ALNUM + "_.:-", 0, 12);
  if (name.startsWith("zone")) name = "x" + name;
  const type = g.pick(["string", "string", "int", "uint", "boolean"]);
  const value =
    type === "string"
      ? g.chance(0.1)
        ? ""
        : freeText(g, 1, 40)
      : type === "int"
        ? String(g.chance(0.5) ? -g.int(0, 2 ** 40) : g.int(0, 2 ** 40))
        : type === "uint"
          ? String(g.int(0, 2 ** 40))
          : g.pick(["true", "false"]);
  return { name, type, value };
}

function admin(g: Gen): AdminResource {
  return {
    user: g.str("abcdefghijklmnopqrstuvwxyz_", 1, 1) + g.str("abcdefghijklmnopqrstuvwxyz0123456789_.-", 0, 12),
    auths: g.times(1, 3, () => g.pick(["login", "manage"])).join(","),
  };
}

const FLAGS = ["aslr", "forbidnullmap", "noexecstack"];

function flagString(g: Gen, set: Set<string>): string {
  if (set.size === 0) return "none";
  if (set.size === FLAGS.length && g.chance(0.5)) return "all";
  return g.shuffle([...set]).join(",");
}

function securityFlags(g: Gen): SecurityFlags {
  const upper = new Set(FLAGS.filter(() => g.chance(0.7)));
  const dflt = new Set([...upper].filter(() => g.chance(0.6)));
  const lower = new Set([...dflt].filter(() => g.chance(0.5)));
  return {
    // "" means: lower none, default = lower, upper all
    lower: lower.size === 0 && g.chance(0.4) ? "" : flagString(g, lower),
    default: g.chance(0.3) && [...dflt].every((f) => lower.has(f)) ? "" : flagString(g, dflt),
    upper: upper.size === FLAGS.length && g.chance(0.4) ? "" : flagString(g, upper),
  };
}

function service(g: Gen): ServiceResource {
  const word = (): string => g.str(ALNUM, 1, 1) + g.str(ALNUM + "_.-", 0, 12);
  // Distinct names: verify refuses two services of one name.
  return { name: `${word()}${g.int(0, 1e9)}`, caller: g.times(0, 3, word) };
}

export function randomZone(g: Gen, zonename: string): ZoneConfig {
  return {
    zonename,
    zonepath: g.chance(0.9) ? absPath(g) : "",
    brand: g.pick(BRAND_NAMES),
    autoboot: g.chance(0.5),
    bootargs: g.chance(0.5) ? freeText(g, 1, 60) : "",
    pool: g.chance(0.3) ? g.str(ALNUM, 1, 1) + g.str(ALNUM + "_.-", 0, 10) : "",
    limitpriv: g.chance(0.5) ? limitpriv(g) : "",
    schedulingClass: g.chance(0.4) ? g.pick(["FSS", "TS", "IA", "FX", "RT"]) : "",
    ipType: g.pick(["shared", "exclusive"] as const),
    hostid: g.chance(0.4) ? hostid(g) : "",
    fsAllowed: g.chance(0.3) ? fsAllowed(g) : "",
    nesting: g.chance(0.3),
    fs: g.times(0, 3, () => fs(g)),
    net: g.times(0, 3, () => net(g)),
    device: g.times(0, 3, () => ({ match: deviceMatch(g) })),
    rctl: rctls(g),
    attr: g.times(0, 3, () => attr(g)),
    dataset: g.times(0, 2, () => ({ name: absPath(g) })),
    dedicatedCpu: g.chance(0.4)
      ? (() => {
          const n = g.int(1, 64);
          return { ncpus: g.chance(0.5) ? String(n) : `${n}-${n + g.int(0, 64)}`, importance: g.chance(0.5) ? String(g.int(0, 1000)) : "" };
        })()
      : null,
    cappedMemory: g.chance(0.4) ? { physical: g.chance(0.5) ? g.int(1, 4096) * 1024 ** g.int(1, 4) : g.int(1, 2 ** 45) } : null,
    admin: g.times(0, 2, () => admin(g)),
    securityFlags: g.chance(0.4) ? securityFlags(g) : null,
    service: g.times(0, 2, () => service(g)),
  };
}
