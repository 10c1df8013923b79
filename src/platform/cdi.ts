/**
 * Container Device Interface specs (github.com/cncf-tags/container-device-interface):
 * the JSON or YAML files in /etc/cdi and /var/run/cdi that say what giving a device
 * such as `nvidia.com/gpu=0` takes: device nodes, host files to mount, environment.
 * `add device; set match=cdi:nvidia.com/gpu=0` merges the edits of the spec's kind
 * and of that device into the zone. Under a ZONES_ROOT the directories are
 * <ZONES_ROOT>/etc/cdi and <ZONES_ROOT>/var/run/cdi, so tests bring their own specs.
 *
 * Refused, never skipped: hooks (a CDI hook is a host program the runtime runs as
 * host root in the host's namespaces at create; a zone never gets host root, so its
 * spec must be generated without them, and the zone runs ldconfig itself), and the
 * edits a zone has no place for (additionalGIDs, intelRdt, netDevices).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { CDI_MATCH } from "../document/devices.js";
import { parseYaml, YamlError, type Yaml } from "./cdiyaml.js";
import type { OciMount } from "./oci/spec.js";

/** A device node a CDI spec names: the zone sees it at `path`, the host's is `hostPath`. */
export interface CdiNode {
  path: string;
  hostPath: string;
  /** cgroup access, a subset of "rwm". */
  permissions: string;
}

export interface CdiEdits {
  nodes: CdiNode[];
  mounts: OciMount[];
  env: string[];
}

/** In order of priority, lowest first: a device in /var/run/cdi wins over /etc/cdi. */
export function cdiDirs(root: string): string[] {
  const r = root === "" ? "/" : root;
  return [path.join(r, "etc/cdi"), path.join(r, "var/run/cdi")];
}

type Obj = { [k: string]: Yaml };
const isObj = (v: Yaml | undefined): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function readSpec(file: string): Obj {
  const text = fs.readFileSync(file, "utf8");
  let v: Yaml;
  try {
    v = file.endsWith(".json") ? (JSON.parse(text) as Yaml) : parseYaml(text);
  } catch (e) {
    const why = e instanceof YamlError || e instanceof SyntaxError ? e.message : String(e);
    throw new ZoneError(`CDI spec ${q(file)} cannot be read: ${why}`);
  }
  if (!isObj(v) || typeof v.kind !== "string" || !Array.isArray(v.devices)) throw new ZoneError(`CDI spec ${q(file)} has no "kind" and "devices"`);
  return v;
}

/** The spec file holding device `kind=name`, and the device's entry in it. */
function findDevice(kind: string, name: string, dirs: string[]): { file: string; spec: Obj; device: Obj } | undefined {
  let found: { file: string; spec: Obj; device: Obj } | undefined;
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((n) => /\.(json|ya?ml)$/.test(n)).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const file = path.join(dir, n);
      const spec = readSpec(file);
      if (spec.kind !== kind) continue;
      const device = (spec.devices as Yaml[]).find((d) => isObj(d) && String(d.name) === name);
      if (device && isObj(device)) found = { file, spec, device };
    }
  }
  return found;
}

const KNOWN_EDITS = ["env", "deviceNodes", "mounts", "hooks", "additionalGIDs", "intelRdt", "netDevices"];

function strings(v: Yaml | undefined, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw new ZoneError(`${what} must be a list of strings`);
  return v as string[];
}

function absolute(v: Yaml | undefined, what: string): string {
  if (typeof v !== "string" || !path.isAbsolute(v) || v.split("/").includes("..") || /[\0\n]/.test(v)) throw new ZoneError(`${what} must be an absolute path without '..': ${q(String(v))}`);
  return path.normalize(v);
}

/** Add one containerEdits object to `out`; `where` names it in messages. */
function merge(out: CdiEdits, edits: Yaml | undefined, where: string): void {
  if (edits === undefined || edits === null) return;
  if (!isObj(edits)) throw new ZoneError(`${where}: containerEdits must be a mapping`);
  for (const k of Object.keys(edits)) {
    const v = edits[k];
    const empty = v === null || (Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0);
    if (!KNOWN_EDITS.includes(k)) throw new ZoneError(`${where}: unknown containerEdits field ${q(k)}`);
    if (k === "hooks" && !empty) {
      const first = Array.isArray(v) && isObj(v[0]) ? strings(v[0].args, `${where}: hook args`).slice(0, 2).join(" ") || String(v[0].path) : "";
      throw new ZoneError(`${where} has hooks (${first}): a CDI hook runs as host root, which a zone never gets; generate the spec without hooks (nvidia-ctk cdi generate --disable-hook=all) and run ldconfig in the zone`);
    }
    if (["additionalGIDs", "intelRdt", "netDevices"].includes(k) && !empty) throw new ZoneError(`${where}: containerEdits ${q(k)} cannot be given to a zone`);
  }
  for (const e of strings(edits.env, `${where}: env`)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(e) || /[\0\n]/.test(e)) throw new ZoneError(`${where}: env entry must be NAME=VALUE: ${q(e)}`);
    out.env.push(e);
  }
  for (const n of (edits.deviceNodes as Yaml[] | null | undefined) ?? []) {
    if (!isObj(n)) throw new ZoneError(`${where}: a deviceNodes entry must be a mapping`);
    const p = absolute(n.path, `${where}: deviceNodes path`);
    const hostPath = n.hostPath === undefined || n.hostPath === null ? p : absolute(n.hostPath, `${where}: deviceNodes hostPath`);
    // The runtime bind-mounts the host's node at the same path (a zone cannot mknod one).
    if (hostPath !== p) throw new ZoneError(`${where}: device node ${q(p)} has hostPath ${q(hostPath)}; a zone gets a host node at its own path only`);
    const permissions = typeof n.permissions === "string" ? n.permissions : "rwm";
    if (!/^[rwm]{1,3}$/.test(permissions)) throw new ZoneError(`${where}: device node ${q(p)}: permissions must be letters of "rwm": ${q(permissions)}`);
    if (!p.startsWith("/dev/")) throw new ZoneError(`${where}: device node ${q(p)} is not under /dev`);
    out.nodes.push({ path: p, hostPath, permissions });
  }
  for (const m of (edits.mounts as Yaml[] | null | undefined) ?? []) {
    if (!isObj(m)) throw new ZoneError(`${where}: a mounts entry must be a mapping`);
    const type = m.type === undefined || m.type === null ? "bind" : String(m.type);
    if (type !== "bind" && type !== "none") throw new ZoneError(`${where}: mount ${q(String(m.containerPath))} has type ${q(type)}; a zone gets host files by read-only bind mounts only`);
    const source = absolute(m.hostPath, `${where}: mount hostPath`);
    const destination = absolute(m.containerPath, `${where}: mount containerPath`);
    const asked = strings(m.options, `${where}: mount options`);
    // Host files, read-only whatever the spec asks: the zone must not change the host's drivers.
    const options = [asked.includes("rbind") ? "rbind" : "bind", "ro", "nosuid", "nodev"];
    out.mounts.push({ destination, type: "bind", source, options });
  }
}

/** The edits of CDI device `match` (cdi:VENDOR/CLASS=NAME): its kind's, then its own. */
export function cdiEdits(match: string, dirs: string[]): CdiEdits {
  const m = CDI_MATCH.exec(match);
  if (!m) throw new ZoneError(`device match ${q(match)} is not a CDI device name: cdi:VENDOR/CLASS=NAME`);
  const [kind, name] = [m[1]!, m[2]!];
  const found = findDevice(kind, name, dirs);
  if (!found) throw new ZoneError(`device ${q(match)}: no CDI spec in ${dirs.map(q).join(" or ")} has device ${q(name)} of kind ${q(kind)}`);
  const out: CdiEdits = { nodes: [], mounts: [], env: [] };
  merge(out, found.spec.containerEdits, `CDI spec ${q(found.file)}`);
  merge(out, found.device.containerEdits, `CDI spec ${q(found.file)} device ${q(name)}`);
  return out;
}
