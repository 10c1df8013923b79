/**
 * Brands: how a zone's root tree is made and what its platform needs (illumos brands,
 * here installers). Each brand installs a tree whose owners are shifted into the
 * zone's uid slot, names its default init, and lists host trees to share into it.
 */
import { BRAND_NAMES, type BrandName } from "../document/brandnames.js";
import type { ZoneConfig } from "../document/model.js";
import { BUSYBOX_TREE, installMinimal } from "./brands/minimal.js";
import { installSparse, SPARSE_SHARED } from "./brands/sparse.js";
import { installOci, readImageRecord, recordedStopSignal, type ImageRecord } from "./brands/oci.js";
import { adoptDebian, attachDebian, debianOwnTree, installDebian, mountDebianRoot, uninstallDebian } from "./brands/debian.js";

/** What `zoneadm install` asks of a brand: an OCI image (-i), a private copy (-x copy). */
export interface InstallOptions {
  image?: string;
  copy?: boolean;
}

export interface SharedTree {
  /** Host directory. */
  source: string;
  /** Path inside the zone. */
  target: string;
}

export interface Brand {
  name: string;
  description: string;
  /** Build the zone's tree at `root`; `base` is the host uid of the zone's root. */
  install(root: string, base: number, z: ZoneConfig, opts?: InstallOptions): Promise<void>;
  /** Installs from an image (`zoneadm install -i`); a failed install then leaves the zone configured. */
  image?: true;
  /** What install recorded for boot (init, env, user, stop signal), if the brand records it. */
  record?(zonepath: string): ImageRecord | undefined;
  /** The signal that stops this zone's init, if the brand knows it (the image's StopSignal). */
  stopSignal?(zonepath: string): number | undefined;
  /**
   * clone's "copy my tree": from the halted zone's zonepath `from` into the new zone's
   * `to` (made and claimed, empty). None: root/ and the brand's files beside it copied
   * whole (clone.ts copyZonepath). An overlay brand copies its upper layer only.
   */
  copy?(from: string, to: string): Promise<void>;
  /**
   * Where a halted zone's own files are (None: <zonepath>/root): clone and attach shift
   * their owners to the zone's slot, and clone makes the machine's identity anew there.
   */
  ownTree?(zonepath: string): string;
  /** After clone copied another zone's zonepath here: take what the brand holds for it (its image). */
  adopt?(zonepath: string): void;
  /** At attach, before the zone changes state: take what the brand holds on this host for the tree (its image), or refuse. */
  attach?(zonepath: string): void;
  /** The zone's init, unless `zoneadm boot -- -i PATH` names another. */
  init: string[];
  /** Host trees mounted read-only and id-mapped into the zone at ready. */
  shared: SharedTree[];
  /** Its init is systemd whatever its path (systemd.ts). */
  systemd?: boolean;
  /**
   * At ready, before anything else is mounted in it: mount the zone's root itself (an
   * overlay on a shared image); teardown's unmount of the root removes it.
   */
  mountRoot?(zonepath: string, root: string, base: number, userns: number): void;
  /**
   * At uninstall, before the zonepath is removed: what the install took beyond it, as a
   * release to run once the tree is gone.
   */
  uninstall?(zonepath: string): (() => void) | undefined;
}

/** Every brand the document library names (document/brandnames.ts), in its order. */
const TABLE: Record<BrandName, Omit<Brand, "name">> = {
  sparse: {
    description: "own /etc, /var, /tmp, /root, /home; the host's /usr shared read-only (default)",
    install: installSparse,
    init: ["/bin/busybox", "init"],
    shared: SPARSE_SHARED,
  },
  minimal: {
    description: "a static busybox tree with busybox init, for small and dense zones",
    install: installMinimal,
    init: ["/sbin/init"],
    shared: [{ source: BUSYBOX_TREE, target: "/bin" }],
  },
  oci: {
    description: "the tree of an OCI image (zoneadm install -i IMAGE); its entrypoint is the init",
    install: (root, base, z, opts) => installOci(root, base, z, opts?.image),
    init: [],
    shared: [],
    image: true,
    record: readImageRecord,
    stopSignal: recordedStopSignal,
  },
  debian: {
    description: "a whole Debian system with systemd, on the host-wide cached base image (install -x copy: a private copy)",
    install: installDebian,
    init: ["/lib/systemd/systemd"],
    shared: [],
    mountRoot: mountDebianRoot,
    uninstall: uninstallDebian,
    ownTree: debianOwnTree,
    adopt: adoptDebian,
    attach: attachDebian,
  },
};

export const BRANDS: readonly Brand[] = BRAND_NAMES.map((name) => ({ name, ...TABLE[name] }));

export function brand(name: string): Brand | undefined {
  return BRANDS.find((b) => b.name === name);
}
