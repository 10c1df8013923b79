/**
 * Installing and uninstalling a zone's tree, the Platform's first transitions
 * (platform.ts holds the state they share): install claims the zonepath and a uid slot
 * and lets the brand fill the root; uninstall removes it all through the pinned zonepath.
 * Its own file so that the tree's life reads apart from the ready/boot/halt of a zone.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { brand as brandOf, type InstallOptions } from "./brands.js";
import { ZoneError, q } from "../native/errors.js";
import { verifyOnHost } from "./hostcheck.js";
import { mountsBelow } from "./idmap.js";
import { consoleLogFile } from "../document/store/runstate.js";
import { SLOT_SIZE } from "./slots.js";
import { checkOperation } from "../document/store/state.js";
import { claimZonepath, removeInstalledTree } from "./zonepath.js";
import { markTopDir } from "./topdir.js";
import { undoInstall, zonepathBefore } from "./installundo.js";
import type { Platform } from "./platform.js";
import { traceSpan } from "../native/trace.js";

export async function install(this: Platform, name: string, opts: InstallOptions = {}): Promise<void> {
  const t = traceSpan(`install ${name}`);
  const e = this.entry(name);
  checkOperation("install", e.state);
  const z = this.repo.load(name);
  const brand = brandOf(z.brand);
  if (!brand) throw new ZoneError(`unknown brand ${q(z.brand)}`);
  if (opts.image !== undefined && !brand.image) throw new ZoneError(`brand ${q(z.brand)} installs no image; -i ${q(opts.image)} is for brand oci`);
  if (opts.image === undefined && brand.image) throw new ZoneError(`brand ${q(z.brand)} installs from an image: zoneadm -z ${name} install -i IMAGE`);
  const before = zonepathBefore(z.zonepath);
  // Addresses in use by running zones matter at boot, not at install.
  verifyOnHost(z, this.repo.list().filter((x) => x.name !== name), false);
  const root = this.root(z);
  if (fs.existsSync(root)) throw new ZoneError(`${root} already exists; remove it before installing`);
  // Install changes the zonepath's group and mode, and uninstall removes it: never someone's files.
  if (fs.existsSync(z.zonepath) && fs.readdirSync(z.zonepath).length > 0) throw new ZoneError(`zonepath ${q(z.zonepath)} is not empty; install needs an empty or new directory`);
  // From here a failure or a kill leaves the zone incomplete, which says so; and
  // from here its zonepath is fixed, so it must still be the one read above.
  t.step("checks");
  await this.changeState(name, "incomplete", z);
  t.step("incomplete");
  const slot = await this.slotCommits.submit({ uuid: e.uuid, configDir: this.paths.configDir, zonename: name });
  t.step("slot");
  // Closed to host users; the zone's root group may pass, since the runtime mounts
  // the root tree from inside the zone's user namespace.
  fs.mkdirSync(path.dirname(z.zonepath), { recursive: true, mode: 0o755 });
  if (path.dirname(z.zonepath) === this.paths.zonesDir) markTopDir(this.paths.zonesDir);
  fs.mkdirSync(z.zonepath, { recursive: true, mode: 0o700 });
  claimZonepath(z.zonepath, slot * SLOT_SIZE);
  fs.mkdirSync(root, { mode: 0o755 });
  try {
    await brand.install(root, slot * SLOT_SIZE, z, opts);
    t.step("tree");
  } catch (err) {
    // A failed image install leaves the zone configured and its zonepath as it found it.
    if (brand.image) {
      undoInstall(z.zonepath, slot * SLOT_SIZE, before);
      this.slots.release(e.uuid, this.paths.configDir);
      this.setState(name, "configured");
    }
    throw err;
  }
  await this.changeState(name, "installed");
  this.usernsAhead.prepare(name, slot * SLOT_SIZE);
  t.end();
}

export async function uninstall(this: Platform, name: string): Promise<void> {
  // A zone halted on a full disk is installed, though its record may not say so yet.
  this.retryUnrecorded(name);
  const unrecorded = this.unrecorded.has(name);
  const e = this.entry(name);
  const state = unrecorded ? "installed" : e.state;
  checkOperation("uninstall", state);
  const z = this.repo.load(name);
  // Never delete through a mount: a host tree mounted in the zone would go with it.
  const mounted = mountsBelow(z.zonepath);
  if (mounted.length > 0) throw new ZoneError(`${q(mounted[0]!)} is still mounted; halt the zone first`);
  // "incomplete" first, so a crash mid-removal says so. On a full disk that write
  // fails, and removing the tree is what makes room: remove first, record after.
  if (state === "installed" && !unrecorded) {
    try {
      this.setState(name, "incomplete");
    } catch (err) {
      if (!/ENOSPC/.test((err as Error).message)) throw err;
      this.log(`zone '${name}': uninstall: no room to record incomplete; removing the tree first`);
    }
  }
  // Through the zonepath pinned and checked: it may have been swapped since install.
  const slot = this.slots.find(e.uuid, this.paths.configDir);
  const release = brandOf(z.brand)?.uninstall?.(z.zonepath);
  if (slot) removeInstalledTree(z.zonepath, slot.slot * SLOT_SIZE);
  release?.();
  this.usernsAhead.drop(name);
  this.slots.release(e.uuid, this.paths.configDir);
  fs.rmSync(consoleLogFile(this.paths, name), { force: true });
  if (unrecorded) this.recordHalted(name);
  this.setState(name, "configured");
}
