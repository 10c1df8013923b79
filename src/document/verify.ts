/**
 * `verify`: everything a zone document must satisfy before it is committed (illumos
 * zonecfg verify). Returns every problem found, one line each, so the administrator
 * sees them all at once.
 */
import * as fs from "node:fs";
import { ZoneError } from "../native/errors.js";
import { q } from "../native/errors.js";
import type { ZoneConfig } from "./model.js";
import { checkAbsolutePath, checkZoneName, pathWithin } from "./names.js";
import { zonePaths } from "./store/paths.js";
import { GLOBAL_PROPS } from "./properties.js";
import { deviceDocProblems } from "./devices.js";
import { checkAllResources } from "./resources.js";
import { fsProblems } from "./fsrules.js";
import { linuxMeaningProblems } from "./linuxmeaning.js";

/** Another zone's name and path, for the overlap checks. */
export interface OtherZone {
  name: string;
  zonepath: string;
}

/** Host directories a zonepath may not be, or lie below. */
const FORBIDDEN_WITHIN = ["/proc", "/sys", "/dev", "/run/zones", "/etc/zones"];
/**
 * The state directories of this root, wherever ZONES_ROOT puts them, and the standard
 * ones: a zonepath there is deleted along with another zone's run state, or rewrites
 * the repository.
 */
function stateDirs(): string[] {
  const p = zonePaths();
  return [p.runDir, p.configDir, "/var/lib/zones"];
}
const FORBIDDEN_EXACT = ["/bin", "/boot", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/root", "/run", "/sbin", "/srv", "/tmp", "/usr", "/var"];

function attempt(problems: string[], fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ZoneError)) throw e;
    problems.push(e.message);
  }
}

/** The first existing component of `p` that is a symbolic link, if any. */
export function symlinkOnPath(p: string): string | undefined {
  let cur = "";
  for (const part of p.split("/").filter(Boolean)) {
    cur += "/" + part;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) return cur;
  }
  return undefined;
}

export function checkZonepath(zonepath: string): void {
  if (zonepath === "") throw new ZoneError("zonepath not specified");
  checkAbsolutePath("zonepath", zonepath);
  if (zonepath === "/") throw new ZoneError(`zonepath must not be "/"`);
  if (FORBIDDEN_EXACT.includes(zonepath) || FORBIDDEN_WITHIN.some((d) => pathWithin(zonepath, d)))
    throw new ZoneError(`zonepath must not be a host system directory: ${q(zonepath)}`);
  const state = stateDirs().find((d) => pathWithin(zonepath, d));
  if (state) throw new ZoneError(`zonepath ${q(zonepath)} lies in the zones' state directory ${q(state)}`);
  const link = symlinkOnPath(zonepath);
  if (link) throw new ZoneError(`zonepath must not pass through a symbolic link: ${q(link)}`);
}

export function verifyZone(z: ZoneConfig, others: readonly OtherZone[]): string[] {
  const problems: string[] = [];
  const check = (fn: () => void): void => attempt(problems, fn);
  check(() => checkZoneName(z.zonename));
  check(() => checkZonepath(z.zonepath));
  for (const o of others) {
    if (o.name === z.zonename || o.zonepath === "" || z.zonepath === "") continue;
    if (pathWithin(z.zonepath, o.zonepath) || pathWithin(o.zonepath, z.zonepath))
      problems.push(`zonepath ${q(z.zonepath)} overlaps the zonepath of zone '${o.name}': ${q(o.zonepath)}`);
  }
  for (const p of GLOBAL_PROPS) {
    if (p.name === "zonename" || p.name === "zonepath") continue;
    const v = p.get(z);
    if (v !== "") check(() => p.set(structuredClone(z), v));
  }
  check(() => checkAllResources(z));

  const dup = (what: string, keys: string[]): void => {
    const seen = new Set<string>();
    for (const k of keys) {
      if (k !== "" && seen.has(k)) problems.push(`${what} ${q(k)} appears more than once`);
      seen.add(k);
    }
  };
  dup("fs dir", z.fs.map((f) => f.dir));
  dup("net address", z.net.map((n) => n.address));
  if (z.ipType === "exclusive") dup("net physical", z.net.map((n) => n.physical));
  dup("device match", z.device.map((d) => d.match));
  problems.push(...deviceDocProblems(z));
  dup("rctl", z.rctl.map((r) => r.name));
  dup("attr", z.attr.map((a) => a.name));
  dup("service", z.service.map((v) => v.name));
  dup("dataset", z.dataset.map((d) => d.name));
  dup("admin user", z.admin.map((a) => a.user));

  for (const f of z.fs) if (f.dir === "/") problems.push(`fs dir must not be "/"`);
  problems.push(...fsProblems(z));
  for (const n of z.net) {
    if (z.ipType === "shared") {
      if (n.address === "") problems.push(`net physical=${n.physical}: address not specified (required for a shared-IP zone)`);
      if (n.allowedAddress !== "") problems.push(`net physical=${n.physical}: allowed-address is for exclusive-IP zones; use address`);
    } else if (n.address !== "") {
      problems.push(`net physical=${n.physical}: address cannot be set for an exclusive-IP zone; use allowed-address`);
    }
  }
  if (z.dedicatedCpu) {
    if (z.pool !== "") problems.push("dedicated-cpu and pool are incompatible");
    if (z.rctl.some((r) => r.name === "zone.cpu-shares")) problems.push("dedicated-cpu and cpu-shares are incompatible");
    if (z.rctl.some((r) => r.name === "zone.cpu-cap")) problems.push("dedicated-cpu and capped-cpu are incompatible");
  }
  problems.push(...linuxMeaningProblems(z));
  return problems;
}
