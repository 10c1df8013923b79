/**
 * A peer's root for the debian bench: the cached image tree under a throwaway layer of
 * the peer's own, mounted exactly as a debian zone's root is (platform/overlay.ts: the
 * tree id-mapped to a uid range as the read-only lower, upper and work in `dir`), so
 * nspawn and LXC boot the same files as the zone, the cache is never written, and the
 * peer runs in a user namespace mapping that range, as the zone does.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { mappedUserns, unmount } from "../../src/platform/idmap.js";
import { makeLayers, mountOverlayRoot } from "../../src/platform/overlay.js";
import { SLOT_SIZE } from "../../src/platform/slots.js";

export class PeerRoot {
  readonly root: string;

  private constructor(readonly dir: string) {
    this.root = path.join(dir, "root");
  }

  /** Mount a fresh overlay of `tree` for uid range `base`..+65536 at `dir`/root. */
  static async make(dir: string, tree: string, base: number, hostname: string): Promise<PeerRoot> {
    const p = new PeerRoot(dir);
    fs.mkdirSync(p.root, { recursive: true, mode: 0o755 });
    makeLayers(dir, base);
    // The zone gets its hostname in its layer at install (brands/tree.ts); so does the peer.
    fs.mkdirSync(path.join(dir, "upper", "etc"), { mode: 0o755 });
    fs.chownSync(path.join(dir, "upper", "etc"), base, base);
    fs.writeFileSync(path.join(dir, "upper", "etc", "hostname"), `${hostname}\n`);
    fs.chownSync(path.join(dir, "upper", "etc", "hostname"), base, base);
    const ns = await mappedUserns(base, SLOT_SIZE);
    try {
      mountOverlayRoot(dir, p.root, tree, ns.fd);
    } finally {
      ns.release();
    }
    return p;
  }

  /** Unmount the overlay and remove the layer; the tree below is untouched. */
  remove(): void {
    try {
      unmount(this.root);
    } catch {
      // already unmounted; removal below reports nothing either way
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
