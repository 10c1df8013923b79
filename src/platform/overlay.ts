/**
 * A zone root made of a shared read-only image and the zone's own layer: overlayfs
 * whose lower layer is the image tree id-mapped to the zone's uid slot (so the image's
 * root-owned files appear owned by the zone's root, and copy-ups keep that owner) and
 * whose upper and work directories live in the zonepath. Idmapping the overlay mount
 * itself is refused by this kernel; an id-mapped lower is not.
 *
 *   <zonepath>/upper   the zone's writes (zone-controlled content)
 *   <zonepath>/work    overlayfs's scratch directory
 *   <zonepath>/lower   where the id-mapped image is attached while the overlay is made
 *
 * The overlay is made in host root's namespace and moved onto <zonepath>/root before
 * the runtime creates the zone; the runtime's recursive bind of the root carries it,
 * and teardown's unmount of everything below the root removes it. overlayfs keeps its
 * own private clone of each layer, so the lower's attachment is detached at once and
 * nothing of the image is mounted anywhere a host path names.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { ATTR_IDMAP, ATTR_NODEV, ATTR_RDONLY, cloneTree, freshMount, moveOnto, setAttrs } from "./mountapi.js";
import { unmount } from "./idmap.js";

const O_PATH = 0o10000000;
const DIR_PATH = O_PATH | fs.constants.O_NOFOLLOW | fs.constants.O_DIRECTORY;

/** The zonepath entries an overlay zone has beside root/ (uninstall removes them). */
export const LAYER_DIRS = ["upper", "work", "lower"] as const;

export function layerPaths(zonepath: string): { upper: string; work: string; lower: string } {
  return { upper: path.join(zonepath, "upper"), work: path.join(zonepath, "work"), lower: path.join(zonepath, "lower") };
}

/** Make the layer directories of a new zone: upper is the zone root's, the others host root's. */
export function makeLayers(zonepath: string, base: number): void {
  const l = layerPaths(zonepath);
  fs.mkdirSync(l.upper, { mode: 0o755 });
  fs.chownSync(l.upper, base, base);
  fs.chmodSync(l.upper, 0o755);
  fs.mkdirSync(l.work, { mode: 0o700 });
  fs.mkdirSync(l.lower, { mode: 0o700 });
}

function pin(dir: string, what: string): number {
  try {
    return fs.openSync(dir, DIR_PATH);
  } catch (err) {
    throw new ZoneError(`${what} ${q(dir)} cannot be opened as a directory: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

/**
 * Mount the overlay of `image` (read-only, id-mapped through the zone's user namespace
 * `userns`) and the zone's layer onto the zone root `root`. Options: metacopy off
 * (the kernel's advice for an upper layer it cannot trust), nodev.
 */
export function mountOverlayRoot(zonepath: string, root: string, image: string, userns: number): void {
  const l = layerPaths(zonepath);
  if (!fs.existsSync(image)) throw new ZoneError(`base image tree ${q(image)} of the zone is missing; the zone must be installed again`);
  unmount(l.lower); // left attached by a ready killed half-way
  const lowerFd = pin(l.lower, "the zone's lower layer mount point");
  const rootFd = pin(root, "zone root");
  try {
    const tree = cloneTree(image, `lower layer ${image}`);
    try {
      setAttrs(tree, ATTR_IDMAP | ATTR_RDONLY | ATTR_NODEV, `id-mapped lower layer ${image}`, userns);
      moveOnto(tree, lowerFd, `lower layer at ${l.lower}`);
    } finally {
      fs.closeSync(tree);
    }
    let ovl: number;
    try {
      ovl = freshMount("overlay", [["source", "zone"], ["lowerdir", l.lower], ["upperdir", l.upper], ["workdir", l.work], ["metacopy", "off"]], ATTR_NODEV, `overlay root of ${zonepath}`);
    } finally {
      unmount(l.lower);
    }
    try {
      moveOnto(ovl, rootFd, `overlay at ${root}`);
    } finally {
      fs.closeSync(ovl);
    }
  } finally {
    fs.closeSync(lowerFd);
    fs.closeSync(rootFd);
  }
}
