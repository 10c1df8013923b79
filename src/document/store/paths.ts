/**
 * Where every piece of state lives. ZONES_ROOT relocates all of it, so tests,
 * benchmarks and a real installation never share a file or a host object name.
 */
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";

export interface ZonePaths {
  /** The root prefix ("" for the standard locations). */
  root: string;
  /** Zone repository: index + one file per zone (illumos /etc/zones). */
  configDir: string;
  /** Runtime state: daemon socket, pid files, consoles (illumos /var/run/zones). */
  runDir: string;
  /** Parent of default zone paths: a new zone's zonepath is <zonesDir>/<name>. */
  zonesDir: string;
  /**
   * Prefix of host-wide object names (cgroups, later bridges and netns): "zones" for
   * the standard root, "zones-<hash>" under a ZONES_ROOT, so two roots never share one.
   */
  hostPrefix: string;
}

export function zonePaths(env: NodeJS.ProcessEnv = process.env): ZonePaths {
  const root = env.ZONES_ROOT ?? "";
  if (root !== "") {
    if (!path.isAbsolute(root)) throw new ZoneError(`ZONES_ROOT must be an absolute path: ${q(root)}`);
    if (/[\0\n]/.test(root)) throw new ZoneError(`ZONES_ROOT holds a control character: ${q(root)}`);
  }
  const r = root === "" ? "/" : path.resolve(root);
  return {
    root: root === "" ? "" : r,
    configDir: path.join(r, "etc/zones"),
    runDir: path.join(r, "run/zones"),
    zonesDir: root === "" ? "/zones" : path.join(r, "zones"),
    hostPrefix: root === "" ? "zones" : `zones-${fnv1a(r).slice(0, 6)}`,
  };
}

/**
 * FNV-1a, 32 bits, as hex: enough to tell roots apart in host object names, and
 * without node:crypto, which costs every command ~2 ms to load.
 */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(text, "utf8")) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}
