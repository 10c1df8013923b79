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
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";
import type { ZoneConfig } from "../../document/model.js";
import { debianImageDir, holdCurrentTree, releaseTree } from "../images.js";
import { layerPaths, makeLayers, mountOverlayRoot } from "../overlay.js";
import { identityFiles, ZoneTree } from "./tree.js";

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
  return { mode: r.mode, tree: r.tree, hold: typeof r.hold === "string" ? r.hold : "" };
}

export async function installDebian(root: string, base: number, z: ZoneConfig, opts: InstallOptions = {}): Promise<void> {
  const hold = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const image = holdCurrentTree(debianImageDir(), hold);
  // The build takes a minute and prints progress: zoneadm runs it before asking zoneadmd.
  if (!image) throw new ZoneError(`the Debian base image is not built in ${q(debianImageDir())}; 'zoneadm -z ${z.zonename} install' as root builds it`);
  const zonepath = path.dirname(root);
  if (opts.copy) {
    const tree = new ZoneTree(root, base);
    try {
      tree.copyFromHost(image, "");
      identityFiles(tree, z.zonename, z.hostid);
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
