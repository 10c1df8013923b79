/**
 * Brand `debian`: a whole Debian system of the host's release, systemd as its init.
 * The root is the host-wide base image (images.ts) under the zone's own layer
 * (overlay.ts): an install writes a few identity files and costs on disk only what the
 * zone changes later. `install -x copy` makes a full private copy of the image instead,
 * owners shifted into the zone's slot, for a zone that must outlive the cache.
 *
 * Which it is, and which image generation the overlay uses, is recorded in
 * <zonepath>/image.json: host root's, outside the root, so the zone cannot change it.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";
import { writeFileAtomic } from "../../native/atomic.js";
import type { ZoneConfig } from "../../document/model.js";
import { debianImageDir, holdCurrentTree, holdTree, isImageTree, releaseTree } from "../images.js";
import { layerPaths, makeLayers, mountOverlayRoot } from "../overlay.js";
import { identityFiles, ZoneTree } from "./tree.js";
import { writeAptProxy } from "./aptproxy.js";
import { mappedUserns } from "../idmap.js";
import { ATTR_IDMAP, cloneTree, setAttrs } from "../mountapi.js";
import { SLOT_SIZE } from "../slots.js";

export const IMAGE_RECORD = "image.json";

interface ImageRecord {
  mode: "overlay" | "copy";
  /** The image generation the zone was made from (the overlay's lower layer). */
  tree: string;
  /** This zone's hold on that generation (images.ts), so that no rebuild prunes it. */
  hold: string;
}

export interface InstallOptions {
  /** A full private copy of the image (`-x copy`), not an overlay on it. */
  copy?: boolean;
}

function record(zonepath: string): ImageRecord {
  const file = path.join(zonepath, IMAGE_RECORD);
  let r: Partial<ImageRecord>;
  try {
    r = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<ImageRecord>;
  } catch (err) {
    throw new ZoneError(`${q(file)} cannot be read (${(err as Error).message}); the zone must be installed again`);
  }
  if ((r.mode !== "overlay" && r.mode !== "copy") || typeof r.tree !== "string") throw new ZoneError(`${q(file)} is not an image record; the zone must be installed again`);
  if (!isImageTree(r.tree)) throw new ZoneError(`${q(file)} names ${q(r.tree)}, which is no image generation under /var/lib/zones/images; refusing it as the zone's lower layer`);
  return { mode: r.mode, tree: r.tree, hold: typeof r.hold === "string" ? r.hold : "" };
}

export async function installDebian(root: string, base: number, z: ZoneConfig, opts: InstallOptions = {}): Promise<void> {
  const hold = newHold();
  const image = holdCurrentTree(debianImageDir(), hold);
  // The build takes a minute and prints progress: zoneadm runs it before asking zoneadmd.
  if (!image) throw new ZoneError(`the Debian base image is not built in ${q(debianImageDir())}; 'zoneadm -z ${z.zonename} install' as root builds it`);
  const zonepath = path.dirname(root);
  if (opts.copy) {
    await copyImage(image, root, base);
    const tree = new ZoneTree(root, base);
    try {
      identityFiles(tree, z.zonename, z.hostid);
      writeAptProxy(tree, z);
    } finally {
      tree.close();
    }
  } else {
    makeLayers(zonepath, base);
    // The zone's identity is its first change to the image, written in its own layer.
    const upper = new ZoneTree(layerPaths(zonepath).upper, base);
    try {
      upper.dir("etc");
      identityFiles(upper, z.zonename, z.hostid);
      // apt through the global zone's package proxy (daemon/proxy.ts), if the zone reaches one.
      writeAptProxy(upper, z);
    } finally {
      upper.close();
    }
  }
  // A copy needs the image no more: its hold goes at once (and the record keeps none).
  const rec: ImageRecord = { mode: opts.copy ? "copy" : "overlay", tree: image, hold: opts.copy ? "" : hold };
  if (opts.copy) releaseTree(image, hold);
  fs.writeFileSync(path.join(zonepath, IMAGE_RECORD), JSON.stringify(rec) + "\n", { mode: 0o600 });
}

/** At ready: an overlay zone's root is mounted from its image and its layer; a copy has nothing to mount. */
export function mountDebianRoot(zonepath: string, root: string, _base: number, userns: number): void {
  const rec = record(zonepath);
  if (rec.mode === "overlay") mountOverlayRoot(zonepath, root, rec.tree, userns);
}

/**
 * At uninstall, read before the zonepath goes: the release of the zone's hold on its
 * image generation, for once the tree is removed.
 */
export function uninstallDebian(zonepath: string): (() => void) | undefined {
  let rec: ImageRecord;
  try {
    rec = record(zonepath);
  } catch {
    return undefined; // an install cut short before its record: its hold, if any, stays (harmless)
  }
  return rec.hold === "" ? undefined : () => releaseTree(rec.tree, rec.hold);
}

/**
 * `-x copy`: the image copied into the new zone root through a clone of that root
 * id-mapped the inverse way (slot uid base+N shows as N, so host uid N written through
 * it lands as base+N), so `cp -a` keeps
 * owners shifted, modes, hard links, xattrs and file capabilities in one pass. The clone
 * is detached and reaches cp as its descriptor 3: attached at no path, gone with cp.
 */
async function copyImage(image: string, root: string, base: number): Promise<void> {
  // Root-owned, the new root would show through the inverse map as nobody's: unwritable.
  fs.chownSync(root, base, base);
  const ns = await mappedUserns(base, SLOT_SIZE, true);
  let target: number;
  try {
    target = cloneTree(root, `copy of the image into ${root}`);
    try {
      setAttrs(target, ATTR_IDMAP, `id-mapped copy target ${root}`, ns.fd);
    } catch (err) {
      fs.closeSync(target);
      throw err;
    }
  } finally {
    ns.release();
  }
  try {
    await new Promise<void>((resolve, reject) => {
      let err = "";
      const cp = spawn("cp", ["-a", "--", `${image}/.`, "/proc/self/fd/3/"], { stdio: ["ignore", "ignore", "pipe", target] });
      cp.stderr?.on("data", (d: Buffer) => (err += d.toString()));
      cp.on("error", (e) => reject(new ZoneError(`copying the image ${q(image)} into ${q(root)}: ${e.message}`)));
      cp.on("close", (code, sig) => (code === 0 ? resolve() : reject(new ZoneError(`copying the image ${q(image)} into ${q(root)}: cp ended with ${sig ?? `status ${code}`}: ${err.trim().split("\n")[0] ?? ""}`))));
    });
  } finally {
    fs.closeSync(target);
  }
}

/** A name of a zone's own for its hold on an image generation. */
function newHold(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A halted zone's own files: its upper layer, or its private copy. */
export function debianOwnTree(zonepath: string): string {
  return record(zonepath).mode === "overlay" ? layerPaths(zonepath).upper : path.join(zonepath, "root");
}

/**
 * After clone copied another zone's zonepath (its record included) here: a hold of this
 * zone's own on the image generation, so the source's uninstall cannot prune the clone's
 * lower layer, nor the clone's release the source's.
 */
export function adoptDebian(zonepath: string): void {
  const rec = record(zonepath);
  if (rec.mode !== "overlay") return;
  takeHold(zonepath, rec, `image generation ${q(rec.tree)} of the source zone is gone; the clone cannot use it`);
}

/**
 * At attach, before anything changes: the detached zone's hold was taken where it was
 * installed (on another host it names nothing here); the attaching zone takes one of its
 * own, refusing when this host lacks the generation its layer lies on, then drops the old.
 */
export function attachDebian(zonepath: string): void {
  // The zonepath may come from elsewhere: a link (or a second name) for its record could
  // make the hold taken here, and the one dropped, another zone's.
  const file = path.join(zonepath, IMAGE_RECORD);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    throw new ZoneError(`${q(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}); the detached zone has no image record`);
  }
  if (!st.isFile() || st.uid !== 0 || st.nlink !== 1) throw new ZoneError(`${q(file)} is not a regular file of root's with one name; refusing it as the detached zone's image record`);
  const rec = record(zonepath);
  if (rec.mode !== "overlay") return;
  takeHold(zonepath, rec, `the detached zone's layer lies on image generation ${q(rec.tree)}, which this host does not have; attach it where that generation is, or install the zone again`);
  if (rec.hold !== "") releaseTree(rec.tree, rec.hold);
}

/** A new hold on `rec.tree`, recorded in the zonepath; `gone` when the generation is not here. */
function takeHold(zonepath: string, rec: ImageRecord, gone: string): void {
  const hold = newHold();
  if (!holdTree(rec.tree, hold)) throw new ZoneError(gone);
  // Replaced, never written through: whatever the name was, it becomes a file of its own.
  writeFileAtomic(path.join(zonepath, IMAGE_RECORD), JSON.stringify({ ...rec, hold }) + "\n", 0o600);
}
