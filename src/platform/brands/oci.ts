/**
 * Brand `oci`: a zone whose tree is an OCI image (`zoneadm -z z install -i IMAGE`).
 * The layers are applied in order with owners shifted into the zone's slot (oci/layers.ts)
 * after every digest is checked (oci/image.ts); the image config's Entrypoint + Cmd
 * become the zone's init, with its Env, WorkingDir, User and StopSignal. Those and the
 * image digest are recorded in <zonepath>/image.json: root's, outside the zone's root,
 * so the zone cannot change what boot reads.
 */
import * as fs from "node:fs";
import { constants } from "node:os";
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";
import { writeFileAtomic } from "../../native/atomic.js";
import type { ZoneConfig } from "../../document/model.js";
import { openImage, sha256 } from "../oci/image.js";
import { applyLayer, layerTar } from "../oci/layers.js";
import { SLOT_SIZE } from "../slots.js";
import { identityFiles, ZoneTree } from "./tree.js";
import { ZoneRoot } from "../zonefs.js";

/** What boot takes from the image, as install recorded it. */
export interface ImageRecord {
  source: string;
  digest: string;
  ref?: string;
  init: string[];
  env: string[];
  cwd: string;
  /** Zone-side ids the init runs as. */
  user: { uid: number; gid: number };
  /** Signal number that asks the init to stop. */
  stopSignal: number;
}

export const IMAGE_RECORD = "image.json";

export function imageRecordFile(zonepath: string): string {
  return path.join(zonepath, IMAGE_RECORD);
}

/** "SIGTERM", "TERM", "15", "SIGRTMIN+3" as a number; glibc's SIGRTMIN is 34. */
export function signalNumber(s: string): number {
  const t = s.trim().toUpperCase();
  if (/^\d+$/.test(t) && Number(t) >= 1 && Number(t) <= 64) return Number(t);
  const rt = /^(?:SIG)?RTM(IN|AX)([+-]\d+)?$/.exec(t);
  if (rt) {
    const n = (rt[1] === "IN" ? 34 : 64) + Number(rt[2] ?? 0);
    if (n >= 34 && n <= 64) return n;
  }
  const n = (constants.signals as Record<string, number>)[t.startsWith("SIG") ? t : `SIG${t}`];
  if (n === undefined) throw new ZoneError(`image StopSignal ${q(s)} is not a signal`);
  return n;
}

/** An id from the zone's own passwd/group file by name, or a number; capped to the slot. */
function zoneId(zr: ZoneRoot, v: string, file: string, what: string): number {
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n >= SLOT_SIZE) throw new ZoneError(`image User ${what} ${q(v)} is outside the zone's ${SLOT_SIZE} ids`);
    return n;
  }
  let text = "";
  try {
    text = zr.readFile(file, 1 << 20).toString("utf8");
  } catch {
    // no such file in the image: the name is unknown
  }
  const line = text.split("\n").find((l) => l.split(":")[0] === v);
  const id = Number(line?.split(":")[2]);
  if (!line || !Number.isInteger(id) || id < 0 || id >= SLOT_SIZE) throw new ZoneError(`image User ${what} ${q(v)} is not in the image's /${file}`);
  return id;
}

function user(zr: ZoneRoot, spec: string | undefined): { uid: number; gid: number } {
  if (!spec) return { uid: 0, gid: 0 };
  const [u, g] = spec.split(":", 2) as [string, string | undefined];
  const uid = zoneId(zr, u, "etc/passwd", "user");
  if (g !== undefined) return { uid, gid: zoneId(zr, g, "etc/group", "group") };
  // No group: the user's primary group, as runc and docker take it.
  let gid = 0;
  try {
    const line = zr.readFile("etc/passwd", 1 << 20).toString("utf8").split("\n").find((l) => Number(l.split(":")[2]) === uid && l !== "");
    gid = Math.min(Number(line?.split(":")[3] ?? 0) || 0, SLOT_SIZE - 1);
  } catch {
    // no passwd file: group 0
  }
  return { uid, gid };
}

/** Mount points and directories the platform writes at ready, made if the image lacks them. */
const NEEDED: [string, number][] = [["etc", 0o755], ["proc", 0o555], ["sys", 0o555], ["dev", 0o755], ["run", 0o755], ["tmp", 0o1777]];

export async function installOci(root: string, base: number, z: ZoneConfig, image?: string): Promise<void> {
  if (image === undefined) throw new ZoneError(`brand oci installs from an image: zoneadm -z ${z.zonename} install -i IMAGE`);
  const img = openImage(image);
  const zr = ZoneRoot.open(root);
  let record: ImageRecord;
  try {
    for (const [i, l] of img.layers.entries()) {
      const what = `image ${q(image)}: layer ${i} ${l.desc.digest}`;
      const tar = layerTar(l.blob, l.desc.mediaType, what);
      if (l.diffId !== undefined && sha256(tar) !== l.diffId) throw new ZoneError(`${what}: uncompressed digest is not the config's diff_id ${l.diffId}`);
      applyLayer(zr, tar, base, what);
    }
    for (const [d, mode] of NEEDED) if (zr.kind(d) === undefined) zr.mkdir(d, mode, base, base);
    const c = img.config;
    const cwd = c.WorkingDir && c.WorkingDir.startsWith("/") ? c.WorkingDir : "/";
    // The working directory is made if the image lacks it, as docker does, or the init could not start.
    const steps = cwd.split("/").filter((p) => p !== "" && p !== ".");
    if (steps.includes("..")) throw new ZoneError(`image ${q(image)}: WorkingDir ${q(cwd)} has a ".." component`);
    for (let i = 1; i <= steps.length; i++) if (zr.kind(steps.slice(0, i).join("/")) === undefined) zr.mkdir(steps.slice(0, i).join("/"), 0o755, base, base);
    const init = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
    if (init.length === 0) throw new ZoneError(`image ${q(image)} has neither Entrypoint nor Cmd: nothing to run as the zone's init`);
    record = {
      source: image,
      digest: img.digest,
      ...(img.ref !== undefined ? { ref: img.ref } : {}),
      init,
      env: c.Env ?? [],
      cwd,
      user: user(zr, c.User),
      stopSignal: signalNumber(c.StopSignal ?? "SIGTERM"),
    };
  } finally {
    zr.close();
  }
  const tree = new ZoneTree(root, base);
  try {
    identityFiles(tree, z.zonename, z.hostid); // its own hostname and machine-id, not the image's
  } finally {
    tree.close();
  }
  writeFileAtomic(imageRecordFile(path.dirname(root)), JSON.stringify(record, null, 1) + "\n", 0o600);
}

/** The record install wrote; undefined for a zone installed without one. */
export function readImageRecord(zonepath: string): ImageRecord | undefined {
  let text: string;
  try {
    text = fs.readFileSync(imageRecordFile(zonepath), "utf8");
  } catch {
    return undefined;
  }
  let r: Partial<ImageRecord> | null;
  try {
    r = JSON.parse(text) as Partial<ImageRecord> | null;
  } catch {
    r = null;
  }
  const list = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === "string");
  if (!r || !list(r.init) || !list(r.env) || typeof r.cwd !== "string" || typeof r.stopSignal !== "number" || typeof r.user?.uid !== "number" || typeof r.user.gid !== "number")
    throw new ZoneError(`${q(imageRecordFile(zonepath))} is not an image record; reinstall the zone`);
  return r as ImageRecord;
}

/** The recorded StopSignal; a missing or damaged record leaves shutdown to the init's convention. */
export function recordedStopSignal(zonepath: string): number | undefined {
  try {
    return readImageRecord(zonepath)?.stopSignal;
  } catch {
    return undefined;
  }
}
