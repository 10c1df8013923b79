/**
 * A zone root made of a shared read-only image and the zone's own layer: overlayfs
 * whose lower layer is the image tree id-mapped to the zone's uid slot (so the image's
 * root-owned files appear owned by the zone's root, and copy-ups keep that owner) and
 * whose upper and work directories live in the zonepath. Idmapping the overlay mount
 * itself is refused by this kernel; an id-mapped lower is not.
 *
 *   <zonepath>/upper   the zone's writes (zone-controlled content)
 *   <zonepath>/work    overlayfs's scratch directory
 *
 * The lower is a detached id-mapped clone of the image (open_tree), never attached at
 * any path; overlayfs keeps a private clone of each layer. The overlay is made in host
 * root's namespace and moved onto <zonepath>/root before the runtime creates the zone;
 * the runtime's recursive bind of the root carries it, and teardown's unmount of
 * everything below the root removes it, and with it the last reference to the lower.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { ATTR_IDMAP, ATTR_NODEV, ATTR_RDONLY, cloneTree, freshMount, moveOnto, setAttrs } from "./mountapi.js";

const O_PATH = 0o10000000;
const DIR_PATH = O_PATH | fs.constants.O_NOFOLLOW | fs.constants.O_DIRECTORY;

/** The zonepath entries an overlay zone has beside root/ (uninstall removes them). */
export const LAYER_DIRS = ["upper", "work"] as const;

export function layerPaths(zonepath: string): { upper: string; work: string } {
  return { upper: path.join(zonepath, "upper"), work: path.join(zonepath, "work") };
}

/** Make the layer directories of a new zone: upper is the zone root's, work host root's. */
export function makeLayers(zonepath: string, base: number): void {
  const l = layerPaths(zonepath);
  fs.mkdirSync(l.upper, { mode: 0o755 });
  fs.chownSync(l.upper, base, base);
  fs.chmodSync(l.upper, 0o755);
  fs.mkdirSync(l.work, { mode: 0o700 });
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
  const fds: number[] = [];
  try {
    const rootFd = pin(root, "zone root");
    fds.push(rootFd);
    // Every layer by descriptor (/proc/self/fd/N): the paths overlayfs resolves are the
    // ones pinned here, and the zone's mountinfo shows those names, not the zonepath.
    const upper = pin(l.upper, "the zone's upper layer");
    fds.push(upper);
    const work = pin(l.work, "the zone's work directory");
    fds.push(work);
    // The lower is the id-mapped tree itself, detached: overlayfs takes a private
    // clone of it, so it is attached nowhere a host path could name.
    const tree = cloneTree(image, `lower layer ${image}`);
    fds.push(tree);
    setAttrs(tree, ATTR_IDMAP | ATTR_RDONLY | ATTR_NODEV, `id-mapped lower layer ${image}`, userns);
    const fd = (n: number): string => `/proc/self/fd/${n}`;
    const ovl = freshMount("overlay", [["source", "zone"], ["lowerdir", fd(tree)], ["upperdir", fd(upper)], ["workdir", fd(work)], ["metacopy", "off"]], ATTR_NODEV, `overlay root of ${zonepath}`);
    fds.push(ovl);
    moveOnto(ovl, rootFd, `overlay at ${root}`);
  } finally {
    for (const f of fds) fs.closeSync(f);
  }
}
