/**
 * zoneadm move (illumos move_func): the zonepath renamed, or copied and removed across
 * file systems, after the new path passed every zonepath rule (verify.ts, hostcheck.ts).
 * A record beside root/ (zone-moving.json: from, to; root's, in the zonepath) makes a
 * move cut short by a kill finishable: the zone is incomplete, and the same
 * `zoneadm move` again finishes it, whichever step the kill came after.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { writeFileAtomic } from "../native/atomic.js";
import type { ZoneConfig } from "../document/model.js";
import { checkOperation } from "../document/store/state.js";
import { checkNoMounts, copyZonepath, entryOf, slotOf, type ZoneOps } from "./clone.js";
import { verifyOnHost } from "./hostcheck.js";
import { removeZoneRoot } from "./rootremoval.js";
import { SLOT_SIZE } from "./slots.js";
import { claimZonepath, pinZonepath, removeInstalledTree } from "./zonepath.js";

/** clone.ts NOT_COPIED names it too. */
const RECORD = "zone-moving.json";
const O_PATH = 0o10000000;

interface MoveRecord {
  from: string;
  to: string;
}

/** Run fn on the pinned zonepath's descriptor path; undefined when there is no zonepath. */
function inZonepath<T>(zonepath: string, fn: (dir: string) => T): T | undefined {
  const pin = pinZonepath(zonepath);
  if (!pin) return undefined;
  try {
    return fn(`/proc/self/fd/${pin.fd}`);
  } finally {
    fs.closeSync(pin.fd);
    fs.closeSync(pin.parent);
  }
}

/** The move record in `zonepath`, if a sound one is there (a regular file of root's, small, both paths). */
function readRecord(zonepath: string): MoveRecord | undefined {
  return inZonepath(zonepath, (dir) => {
    let p: number;
    try {
      p = fs.openSync(`${dir}/${RECORD}`, O_PATH | fs.constants.O_NOFOLLOW);
    } catch {
      return undefined;
    }
    try {
      const st = fs.fstatSync(p);
      if (!st.isFile() || st.uid !== 0 || st.size > 8192) return undefined;
      const v: unknown = JSON.parse(fs.readFileSync(`/proc/self/fd/${p}`, "utf8"));
      const r = v as Partial<MoveRecord>;
      return typeof r.from === "string" && typeof r.to === "string" ? { from: r.from, to: r.to } : undefined;
    } catch {
      return undefined;
    } finally {
      fs.closeSync(p);
    }
  });
}

function writeRecord(zonepath: string, r: MoveRecord): void {
  const done = inZonepath(zonepath, (dir) => {
    writeFileAtomic(`${dir}/${RECORD}`, JSON.stringify(r) + "\n", 0o600);
    return true;
  });
  if (done === undefined) throw new ZoneError(`zonepath ${q(zonepath)} vanished during move`);
}

function removeRecord(zonepath: string): void {
  inZonepath(zonepath, (dir) => fs.rmSync(`${dir}/${RECORD}`, { force: true }));
}

/** Does `r` record the move of this zone from its configured zonepath (or to it, once committed) to `to`? */
function isThisMove(r: MoveRecord | undefined, configured: string, to: string): r is MoveRecord {
  return r !== undefined && r.to === to && (r.from === configured || r.to === configured);
}

/** zoneadm -z name move newpath. */
export async function moveZone(ops: ZoneOps, name: string, newPath: string): Promise<void> {
  const e = entryOf(ops, name);
  const z = ops.repo.load(name);
  const to = newPath.replace(/\/+$/, "") || "/";
  const atTo = readRecord(to);
  const resumed = e.state === "incomplete" && (isThisMove(atTo, z.zonepath, to) || isThisMove(readRecord(z.zonepath), z.zonepath, to));
  if (!resumed) checkOperation("move", e.state);
  if (!resumed && to === z.zonepath) throw new ZoneError(`zone '${name}' is already at ${q(to)}`);
  const from = resumed ? (atTo ?? readRecord(z.zonepath))!.from : z.zonepath;
  const moved: ZoneConfig = { ...structuredClone(z), zonepath: to };
  const base = slotOf(ops, e) * SLOT_SIZE;
  if (!resumed) {
    // Every zonepath rule holds for the new path, as at install.
    verifyOnHost(moved, ops.repo.list().filter((x) => x.name !== name), false);
    if (fs.existsSync(to) && fs.readdirSync(to).length > 0) throw new ZoneError(`${q(to)} is not empty; move needs an empty or new directory`);
    checkNoMounts(from);
    // The record first: a kill before the state change leaves an installed zone (the
    // next move writes it again), one after it a move that this command finishes.
    writeRecord(from, { from, to });
    ops.repo.setStateIfUnchanged(name, "incomplete", z);
    ops.log(`zone '${name}': incomplete (moving to ${q(to)})`);
  } else ops.log(`zone '${name}': finishing its move from ${q(from)} to ${q(to)}`);
  if (!isThisMove(readRecord(to), z.zonepath, to)) {
    // Not renamed yet, or a copy across file systems cut short: (again) from the start.
    if (resumed && inZonepath(to, () => true)) removeInstalledTree(to, base);
    fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o755 });
    if (fs.existsSync(to)) fs.rmdirSync(to);
    try {
      fs.renameSync(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw new ZoneError(`cannot move ${q(from)} to ${q(to)}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
      fs.mkdirSync(to, { mode: 0o700 });
      claimZonepath(to, base);
      copyZonepath(from, to);
      // The copy is whole: from here the move finishes forward.
      writeRecord(to, { from, to });
    }
  }
  // The configuration names the new path before the old one goes.
  if (z.zonepath !== to) ops.repo.commit(moved, name, { rebase: (cur) => ({ ...cur, zonepath: to }) });
  if (from !== to && readRecord(from)) {
    // Copied across file systems: the old tree, then its record, then the directory,
    // so that a kill in between leaves the record that makes this command finish it.
    removeInstalledTree(from, base);
    // What the brand kept beside root/ was copied too: it goes, through pinned walks.
    inZonepath(from, (dir) => {
      for (const n of fs.readdirSync(dir)) if (n !== RECORD) removeZoneRoot(`${dir}/${n}`);
    });
    removeRecord(from);
    try {
      fs.rmdirSync(from);
    } catch {
      // the administrator keeps other files there: leave the directory
    }
  }
  removeRecord(to);
  ops.repo.setState(name, "installed");
  ops.log(`zone '${name}': installed at ${q(to)}`);
}
