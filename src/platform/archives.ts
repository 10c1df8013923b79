/**
 * The host's Debian archives: what the zones' package proxy (src/daemon/proxy.ts) may
 * fetch, read from the global zone's apt sources (/etc/apt/sources.list and
 * /etc/apt/sources.list.d/*.list one-line entries, *.sources deb822 stanzas). Only
 * http and https archives count: the proxy fetches nothing else. Each archive is
 * served to the zones at a mount path, its own path on its host (/debian,
 * /debian-security), or /<host><path> when that path is "/" or another host's archive
 * has it already.
 *
 * Also the proxy's settings in zoneadmd.conf (reserve.ts reads the same root-owned
 * file). The apt configuration a zone needs to use the proxy is brands/aptproxy.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { parseBytes } from "../document/units.js";
import { settingLines } from "./reserve.js";

/** One archive the host's apt uses. */
export interface Archive {
  scheme: "http" | "https";
  /** host[:port], lower case. */
  host: string;
  /** Path on the host, no trailing slash ("" for the host's root). */
  path: string;
  /** Where the proxy serves it: "/debian". */
  mount: string;
}

/** One apt source entry of the host, with the archive it names. */
export interface SourceEntry {
  types: string[];
  uri: string;
  suites: string[];
  components: string[];
  /** Signed-By when it names a keyring file (an inline key is not carried over). */
  signedBy?: string;
}

export interface HostSources {
  archives: Archive[];
  entries: SourceEntry[];
}

const SOURCES_LIST = "/etc/apt/sources.list";
const SOURCES_DIR = "/etc/apt/sources.list.d";

function readOptional(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** `deb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian bookworm main` lines. */
export function parseOneLine(text: string): SourceEntry[] {
  const out: SourceEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)(.*)$/.exec(line);
    if (!m) continue;
    const opts = (m[2] ?? "").trim().split(/\s+/);
    const signed = opts.find((o) => o.startsWith("signed-by="))?.slice("signed-by=".length);
    out.push({ types: [m[1]!], uri: m[3]!, suites: [m[4]!], components: m[5]!.trim().split(/\s+/).filter((c) => c !== ""), signedBy: signed?.startsWith("/") ? signed : undefined });
  }
  return out;
}

/** deb822 stanzas (sources.list(5)); `Enabled: no` ones are left out. */
export function parseDeb822(text: string): SourceEntry[] {
  const out: SourceEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = "";
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      // A continuation line (an inline key) belongs to the field before it.
      if (/^[ \t]/.test(line)) {
        if (last !== "") fields.set(last, `${fields.get(last)}\n${line.trim()}`);
        continue;
      }
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      fields.set(last, line.slice(colon + 1).trim());
    }
    if ((fields.get("enabled") ?? "yes").toLowerCase() === "no") continue;
    const words = (k: string): string[] => (fields.get(k) ?? "").split(/\s+/).filter((w) => w !== "");
    const signed = fields.get("signed-by");
    for (const uri of words("uris"))
      out.push({ types: words("types"), uri, suites: words("suites"), components: words("components"), signedBy: signed && /^\/\S+$/.test(signed) ? signed : undefined });
  }
  return out;
}

/** The archive a source URI names, or undefined for one the proxy cannot fetch (file:, cdrom:, ...). */
export function archiveOf(uri: string): Omit<Archive, "mount"> | undefined {
  const m = /^(https?):\/\/([A-Za-z0-9.-]+(?::\d{1,5})?)(\/[A-Za-z0-9._~+\-/%]*)?$/i.exec(uri);
  if (!m) return undefined;
  const p = (m[3] ?? "").replace(/\/+$/, "");
  if (p.split("/").some((s) => s === "." || s === "..")) return undefined;
  return { scheme: m[1]!.toLowerCase() as "http" | "https", host: m[2]!.toLowerCase(), path: p };
}

/** The allow-list: each distinct archive once, with its mount, in the order the sources name them. */
export function archivesOf(entries: readonly SourceEntry[]): Archive[] {
  const out: Archive[] = [];
  for (const e of entries) {
    const a = archiveOf(e.uri);
    if (!a || out.some((o) => o.host === a.host && o.path === a.path)) continue;
    const taken = (m: string): boolean => out.some((o) => o.mount === m);
    const mount = a.path !== "" && !taken(a.path) ? a.path : `/${a.host}${a.path}`;
    if (!taken(mount)) out.push({ ...a, mount });
  }
  return out;
}

/** The host's sources, from its apt configuration (`etc` for tests). */
export function hostSources(etc = "/etc"): HostSources {
  const entries: SourceEntry[] = [];
  const list = readOptional(path.join(etc, path.relative("/etc", SOURCES_LIST)));
  if (list !== undefined) entries.push(...parseOneLine(list));
  const dir = path.join(etc, path.relative("/etc", SOURCES_DIR));
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    // no directory: only sources.list
  }
  for (const n of names) {
    const text = /^[A-Za-z0-9_.-]+\.(list|sources)$/.test(n) ? readOptional(path.join(dir, n)) : undefined;
    if (text !== undefined) entries.push(...(n.endsWith(".list") ? parseOneLine(text) : parseDeb822(text)));
  }
  const usable = entries.filter((e) => archiveOf(e.uri) !== undefined);
  return { archives: archivesOf(usable), entries: usable };
}

/** The proxy's settings (zoneadmd.conf `proxy-*` keys). */
export interface ProxySettings {
  /** false: `proxy=off`. */
  enabled: boolean;
  /** Zone bridges route nowhere (network/filters.ts); `proxy-only=off` lets the host route them (NAT). */
  only: boolean;
  port: number;
  /** A local directory served instead of the archives (`proxy-mirror=file:///srv/mirror`). */
  mirror?: string;
  /** Upstream fetches at once, over all zones. */
  fetches: number;
  /** Where fetched .deb files are kept ("" : not kept), and how many bytes at most. */
  cache: string;
  cacheSize: number;
}

export const PROXY_PORT = 3142;
const PROXY_KEYS = ["proxy", "proxy-only", "proxy-port", "proxy-mirror", "proxy-fetches", "proxy-cache", "proxy-cache-size"];
/** Host-wide: every root's daemon shares the packages it fetched. */
export const PROXY_CACHE = "/var/cache/zones-proxy";
const GIB = 1 << 30;

/** The proxy's settings from `file` over the defaults; one line per mistake. */
export function proxySettings(file: string): ProxySettings {
  const s: ProxySettings = { enabled: true, only: true, port: PROXY_PORT, fetches: 16, cache: PROXY_CACHE, cacheSize: GIB };
  settingLines(file).forEach(({ name, value, where: line }) => {
    if (name === "") return;
    const where = `${line}: ${name}`;
    if (name === "proxy" || name === "proxy-only") {
      if (value !== "on" && value !== "off") throw new ZoneError(`${where} must be on or off: ${q(value)}`);
      if (name === "proxy") s.enabled = value === "on";
      else s.only = value === "on";
    } else if (name === "proxy-port" || name === "proxy-fetches") {
      const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
      const max = name === "proxy-port" ? 65535 : 1024;
      if (!(n >= 1 && n <= max)) throw new ZoneError(`${where} must be a number from 1 to ${max}: ${q(value)}`);
      if (name === "proxy-port") s.port = n;
      else s.fetches = n;
    } else if (name === "proxy-mirror") {
      const m = /^file:\/\/(\/[^\0]*)$/.exec(value);
      if (!m || m[1]!.split("/").some((p) => p === "..")) throw new ZoneError(`${where} must be a file:///absolute/directory URL: ${q(value)}`);
      s.mirror = m[1]!.replace(/\/+$/, "") || "/";
    } else if (name === "proxy-cache") {
      if (value !== "off" && !/^\/[^\0]*$/.test(value)) throw new ZoneError(`${where} must be an absolute directory or off: ${q(value)}`);
      s.cache = value === "off" ? "" : value.replace(/\/+$/, "") || "/";
    } else if (name === "proxy-cache-size") {
      s.cacheSize = parseBytes(where, value);
    } else if (name.startsWith("proxy-")) throw new ZoneError(`${line}: unknown setting ${q(name)}; known: ${PROXY_KEYS.join(", ")}`);
  });
  return s;
}
