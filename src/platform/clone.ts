/**
 * zoneadm clone (illumos zoneadm clone_func). Clone copies an
 * installed, halted zone's tree to a configured zone: the brand's copy hook (default a
 * full copy), then every owner moved from the source's uid slot to the clone's own
 * (shift.ts), then what makes a machine itself made anew: hostname, machine-id, SSH host
 * keys. Move is in move.ts.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import type { ZonePaths } from "../document/store/paths.js";
import type { IndexEntry, Repository } from "../document/store/repository.js";
import { checkOperation } from "../document/store/state.js";
import { brand as brandOf } from "./brands.js";
import { ZoneTree } from "./brands/tree.js";
import { verifyOnHost } from "./hostcheck.js";
import { mountsBelow } from "./idmap.js";
import { shiftTree } from "./shift.js";
import { MANIFEST } from "./detach.js";
import { SLOT_SIZE, type SlotRegistry } from "./slots.js";
import { claimZonepath, pinZonepath } from "./zonepath.js";

/** What the zone operations outside platform.ts need of it. */
export interface ZoneOps {
  paths: ZonePaths;
  repo: Repository;
  slots: SlotRegistry;
  log(line: string): void;
}

export function entryOf(ops: ZoneOps, name: string): IndexEntry {
  const e = ops.repo.find(name);
  if (!e) throw new ZoneError(`zone '${name}' is not configured`);
  return e;
}

export function slotOf(ops: ZoneOps, e: IndexEntry): number {
  const s = ops.slots.find(e.uuid, ops.paths.configDir);
  if (!s) throw new ZoneError(`zone '${e.name}' has no uid slot; uninstall and install it again`);
  return s.slot;
}

/** No mount may be left below a zonepath that is about to be copied, moved or detached. */
export function checkNoMounts(zonepath: string): void {
  const m = mountsBelow(zonepath);
  if (m.length > 0) throw new ZoneError(`${q(m[0]!)} is still mounted; halt the zone first`);
}

/**
 * The default "copy my tree": a full copy keeping modes, owners, links (never followed:
 * cp -a is -P), hard links within the tree, set-id bits and extended attributes; one
 * file system only; reflinks where the file system has them. `to` must not exist.
 */
export function copyTree(from: string, to: string): void {
  // cp dies with zoneadmd (setpriv --pdeathsig): after a kill -9 nothing goes on writing
  // into a zonepath that the incomplete zone's uninstall is about to remove.
  const cp = ["cp", "-a", "-x", "--reflink=auto", "--no-target-directory", from, to];
  const argv = fs.existsSync("/usr/bin/setpriv") ? ["/usr/bin/setpriv", "--pdeathsig", "KILL", ...cp] : cp;
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new ZoneError(`cannot copy ${q(from)} to ${q(to)}: ${(r.stderr || r.error?.message || "cp failed").trim().split("\n")[0]}`);
}

/** Where a halted zone's own files lie: the brand's answer, or <zonepath>/root. */
export function ownTree(zonepath: string, brandName: string): string {
  return brandOf(brandName)?.ownTree?.(zonepath) ?? path.join(zonepath, "root");
}

/** A zonepath's own entries that are no part of a copy: device nodes (made at each ready) and the records of a detach or a move. */
const NOT_COPIED = new Set(["dev", MANIFEST, "zone-moving.json"]);

/**
 * The default copy of a zonepath (clone, move across file systems): root/ and whatever
 * else the brand keeps beside it (the oci brand's image.json), each with copyTree. `to`
 * exists (claimed) and holds none of them.
 */
export function copyZonepath(from: string, to: string): void {
  const pin = pinZonepath(from);
  if (!pin) throw new ZoneError(`zonepath ${q(from)} is gone`);
  let names: string[];
  try {
    names = fs.readdirSync(`/proc/self/fd/${pin.fd}`);
  } finally {
    fs.closeSync(pin.fd);
    fs.closeSync(pin.parent);
  }
  // root/ first: a kill mid-copy leaves what a cut-short install would.
  for (const n of names.sort((a, b) => (a === "root" ? -1 : b === "root" ? 1 : a.localeCompare(b)))) if (!NOT_COPIED.has(n)) copyTree(path.join(from, n), path.join(to, n));
}

/** The words of `text` equal to `from` become `to` (host names in /etc/hosts). */
function renameHost(text: string, from: string, to: string): string {
  return text
    .split("\n")
    .map((l) => (l.startsWith("#") ? l : l.replace(/[^\s]+/g, (w) => (w === from ? to : w))))
    .join("\n");
}

/** What `rel` is, or undefined when it, or a directory on the way, is absent or a link (never entered). */
function kindOf(tree: ZoneTree, rel: string | Buffer): ReturnType<ZoneTree["zr"]["kind"]> {
  try {
    return tree.zr.kind(rel);
  } catch {
    return undefined;
  }
}

/** Remove `rel` if it is a file, link or FIFO (the entry itself); a directory is the zone's business. */
function removeEntry(tree: ZoneTree, rel: string | Buffer): void {
  const k = kindOf(tree, rel);
  if (k !== undefined && k !== "dir") tree.zr.remove(rel);
}

/**
 * A copied tree's machine identity, made anew: hostname = the new zone's name, /etc/hosts
 * lines naming the old zone name the new one, a new /etc/machine-id (D-Bus's own copy
 * removed), SSH host keys removed (sshd's service makes new ones). Through zonefs: the
 * tree is the zone's.
 */
export function renewIdentity(root: string, base: number, oldName: string, newName: string): void {
  const tree = new ZoneTree(root, base);
  try {
    // An overlay's upper layer may have no etc/ of its own yet.
    if (!tree.zr.isDirectory("etc")) tree.dir("etc");
    tree.file("etc/hostname", `${newName}\n`);
    let hosts: string | undefined;
    try {
      hosts = tree.zr.readFile("etc/hosts", 1 << 20).toString("utf8");
    } catch {
      hosts = undefined; // none, or not a regular file: the zone's own business
    }
    if (hosts !== undefined) tree.file("etc/hosts", renameHost(hosts, oldName, newName));
    tree.file("etc/machine-id", `${randomBytes(16).toString("hex")}\n`, 0o444);
    removeEntry(tree, "var/lib/dbus/machine-id");
    const ssh = kindOf(tree, "etc/ssh") === "dir" ? tree.zr.list("etc/ssh") : [];
    const keys = ssh.filter((n) => n.toString("latin1").startsWith("ssh_host_"));
    for (const n of keys) removeEntry(tree, Buffer.concat([Buffer.from("etc/ssh/"), n]));
    if (keys.length > 0) sshKeygenAtStart(tree);
  } finally {
    tree.close();
  }
}

/**
 * The clone's sshd makes its own host keys when it first starts: Debian's ssh.service
 * refuses to start without keys (its `sshd -t`) and only the package's install makes
 * them, so a drop-in runs the zone's own `ssh-keygen -A` first, in the zone, as its root.
 * Only where the zone has systemd units; other inits are the zone's to configure.
 */
function sshKeygenAtStart(tree: ZoneTree): void {
  if (kindOf(tree, "etc/systemd") !== "dir" && kindOf(tree, "lib/systemd") !== "dir" && kindOf(tree, "usr/lib/systemd") !== "dir") return;
  for (const d of ["etc/systemd", "etc/systemd/system", "etc/systemd/system/ssh.service.d"]) if (kindOf(tree, d) !== "dir") tree.dir(d);
  tree.file("etc/systemd/system/ssh.service.d/zones-host-keys.conf", "# Written by zoneadm clone: this zone's own SSH host keys, made at sshd's first start.\n[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n");
}

/** zoneadm -z name clone source: see the file's comment. */
export async function cloneZone(ops: ZoneOps, name: string, source: string): Promise<void> {
  const e = entryOf(ops, name);
  checkOperation("clone", e.state);
  if (source === name) throw new ZoneError(`a zone cannot be cloned from itself`);
  const se = entryOf(ops, source);
  if (se.state !== "installed") throw new ZoneError(`source zone '${source}' must be installed and halted before clone (it is ${se.state})`);
  const z = ops.repo.load(name);
  const sz = ops.repo.load(source);
  if (z.brand !== sz.brand) throw new ZoneError(`source zone '${source}' is of brand ${q(sz.brand)}, not ${q(z.brand)}: a clone has its source's brand`);
  const brand = brandOf(z.brand);
  if (!brand) throw new ZoneError(`unknown brand ${q(z.brand)}`);
  verifyOnHost(z, ops.repo.list().filter((x) => x.name !== name), false);
  slotOf(ops, se); // a source without a slot has no tree we know the owners of
  checkNoMounts(sz.zonepath);
  if (fs.existsSync(z.zonepath) && fs.readdirSync(z.zonepath).length > 0) throw new ZoneError(`zonepath ${q(z.zonepath)} is not empty; clone needs an empty or new directory`);
  // From here a failure or a kill leaves the clone incomplete (uninstall -F removes it).
  ops.repo.setStateIfUnchanged(name, "incomplete", z);
  ops.log(`zone '${name}': incomplete (clone of '${source}')`);
  const base = ops.slots.allocate(e.uuid, ops.paths.configDir, name) * SLOT_SIZE;
  fs.mkdirSync(path.dirname(z.zonepath), { recursive: true, mode: 0o755 });
  fs.mkdirSync(z.zonepath, { recursive: true, mode: 0o700 });
  claimZonepath(z.zonepath, base);
  if (brand.copy) await brand.copy(sz.zonepath, z.zonepath);
  else copyZonepath(sz.zonepath, z.zonepath);
  brand.adopt?.(z.zonepath);
  // Each id keeps its place in its slot: the source's zone uid N becomes the clone's N.
  const own = ownTree(z.zonepath, z.brand);
  shiftTree(own, base, "zone root", SLOT_SIZE, { noDevices: true });
  renewIdentity(own, base, source, name);
  ops.repo.setState(name, "installed");
  ops.log(`zone '${name}': installed (cloned from '${source}')`);
}
