/**
 * The zone repository (illumos /etc/zones): an index of
 * `name:state:zonepath:uuid:brand:ip-type` lines plus one document per zone. The index
 * repeats brand and ip-type from each document (written in the same commit) so that
 * `zoneadm list` reads one file whatever the number of zones. Every write happens under one exclusive lock and
 * replaces files atomically, in an order that keeps the index the authority:
 * a zone's document is written before the index names it, and removed after the index
 * stops naming it. A document the index does not name is a leftover and is ignored.
 *
 * The index's line format and scan are in indexfile.ts, the check that a file read is
 * root's own in ownedfile.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fsyncDir, removeStaleTemporaries, writeFileAtomic } from "../../native/atomic.js";
import { parseZone, serializeZone } from "./document.js";
import { escapeField } from "./fields.js";
import { INDEX_HEADER, scanText } from "./indexfile.js";
import { readChecked } from "./ownedfile.js";
import { EXIT_ERR, ZoneError } from "../../native/errors.js";
import { withLock } from "../../native/lock.js";
import type { IpType, ZoneConfig } from "../model.js";
import { checkZoneName } from "../names.js";
import type { ZonePaths } from "./paths.js";
import { checkTransition, type ZoneState } from "./state.js";
import { commitOne, type ConfigCommit, type Heard } from "./commitbatch.js";

export interface IndexEntry {
  name: string;
  state: ZoneState;
  zonepath: string;
  uuid: string;
  brand: string;
  ipType: IpType;
}

export interface CommitOptions {
  rebase?: (current: ZoneConfig) => ZoneConfig;
  checkChange?: (old: IndexEntry, doc: ZoneConfig, current: ZoneConfig) => void;
}

export type { ConfigCommit } from "./commitbatch.js";

/** One zone's state change for setStates; `expected`: only if its document still reads so. */
export interface StateChange {
  name: string;
  to: ZoneState;
  expected?: ZoneConfig;
}

export interface IndexScan {
  entries: IndexEntry[];
  /** One message per bad line, naming the file and line. */
  problems: string[];
  /** The bad lines, with the name field each begins with (it may be no valid name). */
  bad: { name: string; line: string }[];
}


const TRANSIENT: readonly ZoneState[] = ["ready", "running", "shutting_down", "down"];

export class Repository {
  readonly indexFile: string;
  private readonly lockFile: string;
  /** The bad lines of the index read under the current lock (see update). */
  private keep: string[] = [];
  /** The index's text as read under the current lock (see writeIndex). */
  private lockedText: string | undefined;
  /**
   * Told of every change this instance commits, after its lock is released: the one
   * place every state transition and configuration change passes (zoneadmd's events,
   * src/daemon/api/events.ts). `from` null is a new zone, `to` null a deleted one, the
   * same state twice a changed configuration. Must not throw.
   */
  observer?: (name: string, from: ZoneState | null, to: ZoneState | null) => void;

  constructor(readonly paths: ZonePaths) {
    this.indexFile = path.join(paths.configDir, "index");
    this.lockFile = path.join(paths.configDir, ".lock");
  }

  zoneFile(name: string): string {
    checkZoneName(name);
    return path.join(this.paths.configDir, `${name}.cfg`);
  }

  /** The index's good lines; a bad line costs only its own zone (see scan). */
  list(): IndexEntry[] {
    return this.scan().entries;
  }

  /**
   * Read the index. A bad line (garbage, a truncated line, a zone listed twice) is
   * reported with the file and line and quotes at most one field, never the line: the
   * file could be anything. A missing or empty index beside zone documents is damage,
   * not an empty repository: listing nothing would let zoneadmd remove running zones.
   */
  scan(): IndexScan {
    return this.scanText(this.readChecked(this.indexFile, true));
  }

  /** The index's text as entries and bad lines (indexfile.ts). */
  private scanText(text: string | undefined): IndexScan {
    return scanText.call(this, text);
  }

  /** Names of the zone documents (<name>.cfg) in the repository directory. */
  documents(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.paths.configDir);
    } catch {
      return [];
    }
    return names.filter((n) => n.endsWith(".cfg") && !n.startsWith(".")).map((n) => n.slice(0, -4));
  }

  /** A repository file's text, only if root's own (ownedfile.ts); undefined if missing and `mayBeMissing`. */
  private readChecked(file: string, mayBeMissing: boolean): string | undefined {
    return readChecked.call(this, file, mayBeMissing);
  }

  /** A zone's entry; a zone whose index line is bad is an error naming that line. */
  find(name: string): IndexEntry | undefined {
    const { entries, problems, bad } = this.scan();
    const e = entries.find((x) => x.name === name);
    const b = bad.findIndex((x) => x.name === name);
    if (!e && b >= 0) throw new ZoneError(problems[b]!);
    return e;
  }

  /** A zone's configuration; errors name the document and line. */
  load(name: string): ZoneConfig {
    const file = this.zoneFile(name);
    return parseZone(name, this.readChecked(file, false)!, file);
  }

  /**
   * Write the index that `build` returns if, under the lock, it is still missing or
   * empty (rebuild.ts); returns whether it wrote.
   */
  restoreIndex(build: () => IndexEntry[]): boolean {
    return withLock(this.lockFile, () => {
      const text = this.readChecked(this.indexFile, true);
      if (text !== undefined && text !== "") return false;
      this.keep = [];
      this.lockedText = text;
      this.writeIndex(build());
      this.lockedText = undefined;
      return true;
    });
  }

  /** Run fn under the repository lock, with the index read afresh. */
  private update<T>(fn: (entries: IndexEntry[]) => T): T {
    fs.mkdirSync(this.paths.configDir, { recursive: true, mode: 0o755 });
    // A delegated admin (add admin) reads root's repository but never changes it.
    const me = process.geteuid?.() ?? 0;
    if (me !== 0 && fs.statSync(this.paths.configDir).uid !== me) throw new ZoneError(`the zone repository ${this.paths.configDir} is root's: only root changes zone configurations`);
    return withLock(this.lockFile, () => {
      removeStaleTemporaries(this.paths.configDir);
      this.lockedText = this.readChecked(this.indexFile, true);
      const scan = this.scanText(this.lockedText);
      // A bad line is kept as it is: a write for another zone must not destroy it.
      this.keep = scan.bad.map((b) => b.line);
      try {
        // The scan's entries are shared and frozen (indexfile.ts): fn changes copies.
        return fn(scan.entries.map((e) => ({ ...e })));
      } finally {
        this.lockedText = undefined;
      }
    });
  }

  /**
   * Replace the index, unless it already reads so (a commit that leaves the zone's
   * zonepath, brand and ip-type alone): rewriting it would cost a write and two fsyncs
   * for the same bytes. Its writer fsynced those bytes, and the fsync of this
   * directory that follows the commit's document makes its name durable too.
   */
  private writeIndex(entries: IndexEntry[], durable = true): void {
    const lines = entries.map((e) => [e.name, e.state, escapeField(e.zonepath), e.uuid, e.brand, e.ipType].join(":"));
    const text = INDEX_HEADER + [...lines, ...this.keep].map((l) => l + "\n").join("");
    if (text === this.lockedText) return;
    writeFileAtomic(this.indexFile, text, 0o644, durable);
  }

  /**
   * Verify and store a zone. `previousName` is the name it was loaded under (null for
   * a new zone); a different z.zonename renames it. Returns the index entry.
   * Under the lock, `rebase` gets the document as stored now and returns the one to
   * store (so an editor whose document changed underneath can re-apply or refuse), and
   * `checkChange` may refuse the change from the stored document to that one.
   */
  commit(z: ZoneConfig, previousName: string | null, opts: CommitOptions = {}): IndexEntry {
    const r = this.commitAll([{ zone: z, previousName, opts }])[0]!;
    if (r instanceof Error) throw r;
    return r;
  }

  /**
   * Several commits in one locked write (group commit, native/groupcommit.ts): each is
   * checked as commit checks it, against the index as the earlier ones of the batch
   * left it; one refused is an Error in its place. The documents are written first
   * (each fsynced), their directory fsynced once, then the index once: N+3 fsyncs for
   * N zones instead of 4N, and the order that keeps the index the authority. A failed
   * index write throws: none applied (the documents written are leftovers it ignores).
   */
  commitAll(reqs: readonly ConfigCommit[]): (IndexEntry | Error)[] {
    const heard: Heard[] = [];
    const out = this.update((entries) => {
      const after: (() => void)[] = [];
      const results = reqs.map((r): IndexEntry | Error => {
        try {
          return commitOne(this, entries, r, after, heard);
        } catch (err) {
          return err as Error;
        }
      });
      if (!results.some((r) => !(r instanceof Error))) return results;
      fsyncDir(this.paths.configDir);
      this.writeIndex(entries);
      for (const f of after) f();
      return results;
    });
    for (const [name, from, to] of heard) this.observer?.(name, from, to);
    return out;
  }

  /**
   * A state change that holds only if the zone's document is still `expected` (as read
   * before), checked under the lock: install claims the zonepath it is about to fill,
   * and a zonepath committed in between makes it refuse instead of filling a path the
   * repository no longer names.
   */
  setStateIfUnchanged(name: string, to: ZoneState, expected: ZoneConfig): void {
    const from = this.update((entries) => {
      const e = entries.find((x) => x.name === name);
      if (!e) throw new ZoneError(`zone '${name}' does not exist`, EXIT_ERR, "missing");
      if (serializeZone(this.load(name)) !== serializeZone(expected))
        throw new ZoneError(`configuration changed while the ${to === "incomplete" ? "install" : "operation"} began; try again`);
      const was = e.state;
      checkTransition(e.state, to);
      e.state = to;
      this.writeIndex(entries, !TRANSIENT.includes(to));
      return was;
    });
    this.observer?.(name, from, to);
  }

  /**
   * Several zones' state changes in one locked write (group commit, native/groupcommit.ts):
   * each is checked as setState (or, with `expected`, setStateIfUnchanged) would check it,
   * one refused is an Error in its place and is not applied, and the index is written
   * once, durable if any change applied needs it. A failed write throws: none applied.
   */
  setStates(changes: readonly StateChange[]): (true | Error)[] {
    const applied: [string, ZoneState, ZoneState][] = [];
    const out = this.update((entries) => {
      let durable = false;
      const results = changes.map((c): true | Error => {
        try {
          const e = entries.find((x) => x.name === c.name);
          if (!e) throw new ZoneError(`zone '${c.name}' does not exist`, EXIT_ERR, "missing");
          if (c.expected && serializeZone(this.load(c.name)) !== serializeZone(c.expected))
            throw new ZoneError(`configuration changed while the ${c.to === "incomplete" ? "install" : "operation"} began; try again`);
          checkTransition(e.state, c.to);
          applied.push([c.name, e.state, c.to]);
          e.state = c.to;
          durable ||= !TRANSIENT.includes(c.to);
          return true;
        } catch (err) {
          return err as Error;
        }
      });
      if (applied.length > 0) this.writeIndex(entries, durable);
      return results;
    });
    // As setState: the observer hears each change once the write holds it and the lock is released.
    for (const [name, from, to] of applied) this.observer?.(name, from, to);
    return out;
  }

  /** Remove a configured zone (zonecfg delete). */
  delete(name: string): void {
    this.update((entries) => {
      const e = entries.find((x) => x.name === name);
      if (!e) throw new ZoneError(`zone '${name}' does not exist`, EXIT_ERR, "missing");
      if (e.state !== "configured") throw new ZoneError(`zone '${name}' is ${e.state}; only a configured zone can be deleted (uninstall it first)`, EXIT_ERR, "state");
      this.writeIndex(entries.filter((x) => x !== e));
      fs.rmSync(this.zoneFile(name), { force: true });
    });
    this.observer?.(name, "configured", null);
  }

  /** Persist a state change, checked against the state model. */
  setState(name: string, to: ZoneState): void {
    const from = this.update((entries) => {
      const e = entries.find((x) => x.name === name);
      if (!e) throw new ZoneError(`zone '${name}' does not exist`, EXIT_ERR, "missing");
      const was = e.state;
      checkTransition(e.state, to);
      e.state = to;
      // Configuration and the states that outlive a host reboot are made durable; the
      // transient ones need only be replaced whole (a reboot makes them stale anyway).
      this.writeIndex(entries, !TRANSIENT.includes(to));
      return was;
    });
    this.observer?.(name, from, to);
  }
}
