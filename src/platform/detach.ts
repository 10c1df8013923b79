/**
 * Detach and attach (illumos zoneadm detach/attach, SUNWdetached.xml): a detached zone
 * is configured, its tree stays in its zonepath, and a manifest beside root/ (never
 * inside it: root/ is the zone's) says what attach needs: the configuration, the brand,
 * the uid slot the tree's owners are in, and a checksum. Attach reads it as untrusted
 * input (a zonepath may come from another host): size-limited, every field checked,
 * read through the pinned zonepath with no link followed.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { ZoneError, q } from "../native/errors.js";
import { writeFileAtomic } from "../native/atomic.js";
import { BRAND_NAMES } from "../document/brandnames.js";
import { checkZoneName } from "../document/names.js";
import { parseZone, serializeZone } from "../document/store/document.js";
import type { ZoneConfig } from "../document/model.js";
import { pinZonepath } from "./zonepath.js";

export const MANIFEST = "zone-detached.json";
const FORMAT = "zones-detached 1";
const MAX_BYTES = 1 << 20;
const O_PATH = 0o10000000;

export interface Manifest {
  format: typeof FORMAT;
  zonename: string;
  brand: string;
  uuid: string;
  /** The uid slot the tree's owners are in (host uid = slot*65536 + zone uid). */
  slot: number;
  /** The configuration, as the repository stores it (zonecfg export form). */
  document: string;
  /** sha256 of the fields above: a truncated or edited manifest is refused. */
  sha256: string;
}

function digest(m: Omit<Manifest, "sha256">): string {
  return createHash("sha256").update(JSON.stringify([m.format, m.zonename, m.brand, m.uuid, m.slot, m.document])).digest("hex");
}

export function makeManifest(z: ZoneConfig, uuid: string, slot: number): Manifest {
  const m = { format: FORMAT, zonename: z.zonename, brand: z.brand, uuid, slot, document: serializeZone(z) } as const;
  return { ...m, sha256: digest(m) };
}

export function manifestText(m: Manifest): string {
  return JSON.stringify(m, null, 1) + "\n";
}

/** Write the manifest into the (pinned, root's) zonepath, root-only. */
export function writeManifest(zonepath: string, m: Manifest): void {
  const pin = pinZonepath(zonepath);
  if (!pin) throw new ZoneError(`zonepath ${q(zonepath)} does not exist`);
  try {
    writeFileAtomic(`/proc/self/fd/${pin.fd}/${MANIFEST}`, manifestText(m), 0o600);
  } finally {
    fs.closeSync(pin.fd);
    fs.closeSync(pin.parent);
  }
}

export function removeManifest(zonepath: string): void {
  const pin = pinZonepath(zonepath);
  if (!pin) return;
  try {
    fs.rmSync(`/proc/self/fd/${pin.fd}/${MANIFEST}`, { force: true });
  } finally {
    fs.closeSync(pin.fd);
    fs.closeSync(pin.parent);
  }
}

/** Is there a manifest (a regular file, not a link) in the zonepath? */
export function hasManifest(zonepath: string): boolean {
  const pin = pinZonepath(zonepath);
  if (!pin) return false;
  try {
    return fs.lstatSync(`/proc/self/fd/${pin.fd}/${MANIFEST}`).isFile();
  } catch {
    return false;
  } finally {
    fs.closeSync(pin.fd);
    fs.closeSync(pin.parent);
  }
}

/** The manifest in `zonepath`, checked field by field; every refusal is one line naming the file. */
export function readManifest(zonepath: string): Manifest {
  const file = `${zonepath.replace(/\/+$/, "")}/${MANIFEST}`;
  const pin = pinZonepath(zonepath);
  if (!pin) throw new ZoneError(`${q(zonepath)} is not a directory: no detached zone there`);
  let text: string;
  try {
    let p: number;
    try {
      p = fs.openSync(`/proc/self/fd/${pin.fd}/${MANIFEST}`, O_PATH | fs.constants.O_NOFOLLOW);
    } catch (err) {
      throw new ZoneError(`${q(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}); is the zone detached (zoneadm detach)?`);
    }
    try {
      const st = fs.fstatSync(p);
      if (!st.isFile()) throw new ZoneError(`${q(file)} is not a regular file`);
      if (st.uid !== 0) throw new ZoneError(`${q(file)} is owned by uid ${st.uid}, not root`);
      if (st.size > MAX_BYTES) throw new ZoneError(`${q(file)} is larger than ${MAX_BYTES} bytes`);
      text = fs.readFileSync(`/proc/self/fd/${p}`, "utf8").slice(0, MAX_BYTES + 1);
      if (text.length > MAX_BYTES) throw new ZoneError(`${q(file)} is larger than ${MAX_BYTES} bytes`);
    } finally {
      fs.closeSync(p);
    }
  } finally {
    fs.closeSync(pin.fd);
    fs.closeSync(pin.parent);
  }
  return checkManifest(text, file);
}

/** Parse and check a manifest's text (exported for tests of hostile manifests). */
export function checkManifest(text: string, file: string): Manifest {
  const bad = (why: string): ZoneError => new ZoneError(`${q(file)} is not a valid detached-zone manifest: ${why}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message.split("\n")[0]})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad("not an object");
  const o = v as Record<string, unknown>;
  const str = (k: string): string => {
    const x = o[k];
    if (typeof x !== "string") throw bad(`field ${q(k)} is not a string`);
    return x;
  };
  if (o.format !== FORMAT) throw bad(`format is not ${q(FORMAT)}`);
  const zonename = str("zonename");
  try {
    checkZoneName(zonename);
  } catch (err) {
    throw bad((err as Error).message);
  }
  const brand = str("brand");
  if (!(BRAND_NAMES as readonly string[]).includes(brand)) throw bad(`unknown brand ${q(brand)}`);
  const uuid = str("uuid");
  if (!/^[0-9a-f-]{1,64}$/.test(uuid)) throw bad(`uuid ${q(uuid)} is not a uuid`);
  const slot = o.slot;
  if (typeof slot !== "number" || !Number.isInteger(slot) || slot < 1 || slot > 65534) throw bad(`slot ${q(String(slot))} is not in 1-65534`);
  const document = str("document");
  const sha256 = str("sha256");
  const m: Manifest = { format: FORMAT, zonename, brand, uuid, slot, document, sha256 };
  if (digest(m) !== sha256) throw bad("its sha256 does not match its content (truncated or edited)");
  let z: ZoneConfig;
  try {
    z = parseZone(zonename, document, file);
  } catch (err) {
    throw bad(`its configuration does not parse: ${(err as Error).message.split("\n")[0]}`);
  }
  if (z.brand !== brand) throw bad(`its configuration's brand ${q(z.brand)} is not its brand ${q(brand)}`);
  return m;
}

/** The configuration a manifest carries, renamed to `name` at `zonepath` (zonecfg create -a). */
export function manifestZone(m: Manifest, name: string, zonepath: string): ZoneConfig {
  const z = parseZone(m.zonename, m.document, MANIFEST);
  z.zonename = name;
  z.zonepath = zonepath;
  return z;
}
