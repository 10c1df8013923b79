/**
 * zoneadm detach and attach (illumos detach_func, attach_func), with the manifest of
 * detach.ts. Detach: installed → (incomplete) → configured, the tree left in the zonepath (closed to
 * everyone but host root, since its owners' slot is released and may go to another
 * zone), the manifest beside root/. Attach: configured + a manifest → installed, with
 * a uid slot of this host; when it is not the manifest's slot, every owner is shifted.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { checkOperation } from "../document/store/state.js";
import { brand as brandOf } from "./brands.js";
import { checkNoMounts, entryOf, ownTree, slotOf, type ZoneOps } from "./clone.js";
import { hasManifest, makeManifest, manifestText, readManifest, removeManifest, writeManifest, type Manifest } from "./detach.js";
import { verifyOnHost } from "./hostcheck.js";
import { scanTree, shiftEntries } from "./shift.js";
import { SLOT_SIZE } from "./slots.js";
import { pinZonepath } from "./zonepath.js";

/** The manifest detach would write for zone `name` (detach -n prints it). */
export function detachPlan(ops: ZoneOps, name: string): Manifest {
  const e = entryOf(ops, name);
  checkOperation("detach", e.state);
  return makeManifest(ops.repo.load(name), e.uuid, slotOf(ops, e));
}

/** Give the pinned zonepath its owner, group and mode through a descriptor. */
function setZonepath(zonepath: string, gid: number, mode: number): void {
  const pin = pinZonepath(zonepath);
  if (!pin) throw new ZoneError(`zonepath ${q(zonepath)} does not exist`);
  try {
    const st = fs.fstatSync(pin.fd);
    if (st.uid !== 0) throw new ZoneError(`zonepath ${q(zonepath)} is owned by uid ${st.uid}, not root`);
    fs.chownSync(`/proc/self/fd/${pin.fd}`, 0, gid);
    fs.chmodSync(`/proc/self/fd/${pin.fd}`, mode);
  } finally {
    fs.closeSync(pin.fd);
    fs.closeSync(pin.parent);
  }
}

/**
 * Manifest first, then incomplete: a kill before the state change leaves an installed
 * zone (its next detach writes the manifest again); one after it, an incomplete zone
 * with a manifest, which detach (or attach) finishes, and whose uninstall refuses once
 * the zonepath is closed (zonepath.ts: it is no longer the directory install made).
 */
export async function detachZone(ops: ZoneOps, name: string): Promise<void> {
  const e = entryOf(ops, name);
  const z = ops.repo.load(name);
  const resume = e.state === "incomplete" && hasManifest(z.zonepath);
  if (!resume) {
    const m = detachPlan(ops, name);
    checkNoMounts(z.zonepath);
    writeManifest(z.zonepath, m);
    ops.repo.setStateIfUnchanged(name, "incomplete", z);
  }
  setZonepath(z.zonepath, 0, 0o700);
  const slot = ops.slots.find(e.uuid, ops.paths.configDir)?.slot;
  ops.slots.release(e.uuid, ops.paths.configDir);
  ops.repo.setState(name, "configured");
  ops.log(`zone '${name}': detached${slot === undefined ? "" : ` (was uid slot ${slot})`}; manifest in ${q(z.zonepath)}`);
}

export interface AttachPlan {
  manifest: Manifest;
  /** The slot the tree will be in; its owners are shifted when it is not the manifest's. */
  slot: number | undefined;
}

/** attach -n PATH: what attaching the zonepath at `zonepath` would do, changing nothing. */
export function attachPlan(zonepath: string): string[] {
  const m = readManifest(zonepath);
  const out = [`zonepath ${q(zonepath)} holds detached zone '${m.zonename}' (brand ${m.brand}, uid slot ${m.slot})`];
  const root = path.join(zonepath, "root");
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(root);
  } catch {
    st = undefined;
  }
  out.push(st?.isDirectory() ? `its tree ${q(root)} would be attached; owners shifted if slot ${m.slot} is taken here` : `its tree ${q(root)} is missing or not a directory: attach would refuse`);
  return out;
}

export async function attachZone(ops: ZoneOps, name: string, force: boolean): Promise<void> {
  const e = entryOf(ops, name);
  const z = ops.repo.load(name);
  // An attach killed half-way left the zone incomplete with its manifest: run it again.
  if (!(e.state === "incomplete" && hasManifest(z.zonepath))) checkOperation("attach", e.state);
  // -F: a zonepath with no manifest (a tree copied by hand) is taken as this zone's
  // brand; the walk below still checks the tree, and shifts it to this host's slot.
  const manifested = !force || hasManifest(z.zonepath);
  const m = manifested ? readManifest(z.zonepath) : makeManifest(z, e.uuid, 0);
  if (m.brand !== z.brand) throw new ZoneError(`the detached zone in ${q(z.zonepath)} is of brand ${q(m.brand)}, but zone '${name}' is configured with brand ${q(z.brand)}`);
  verifyOnHost(z, ops.repo.list().filter((x) => x.name !== name), false);
  const root = ownTree(z.zonepath, z.brand);
  const pin = pinZonepath(root);
  if (!pin) throw new ZoneError(`${q(root)} is missing or not a directory: nothing to attach`);
  fs.closeSync(pin.fd);
  fs.closeSync(pin.parent);
  checkNoMounts(z.zonepath);
  // Device nodes and hard links out of the tree (a zonepath from elsewhere may hold
  // them) are refused here, before anything changes: the zone stays configured.
  const scan = scanTree(root, "zone root", { noDevices: true });
  brandOf(z.brand)?.attach?.(z.zonepath);
  if (e.state !== "incomplete") ops.repo.setStateIfUnchanged(name, "incomplete", z);
  ops.log(`zone '${name}': incomplete (attaching ${q(z.zonepath)})`);
  const slot = ops.slots.allocate(e.uuid, ops.paths.configDir, name);
  const base = slot * SLOT_SIZE;
  setZonepath(z.zonepath, base, 0o750);
  // Idempotent (shift.ts): a resumed attach finishes a cut-short one.
  if (slot !== m.slot) ops.log(`zone '${name}': uid slot ${m.slot} → ${slot}: shifting the tree's owners`);
  shiftEntries(scan, base);
  if (manifested) removeManifest(z.zonepath);
  ops.repo.setState(name, "installed");
  ops.log(`zone '${name}': installed (attached, uid slot ${slot})`);
}

export { manifestText };
