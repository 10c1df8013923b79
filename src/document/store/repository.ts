/**
 * The zone repository (illumos /etc/zones): an index of
 * `name:state:zonepath:uuid:brand:ip-type` lines plus one document per zone. The index
 * repeats brand and ip-type from each document (written in the same commit) so that
 * `zoneadm list` reads one file whatever the number of zones. Every write happens under one exclusive lock and
 * replaces files atomically, in an order that keeps the index the authority:
 * a zone's document is written before the index names it, and removed after the index
 * stops naming it. A document the index does not name is a leftover and is ignored.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fsyncDir, removeStaleTemporaries, writeFileAtomic } from "../../native/atomic.js";
import { parseZone, serializeZone } from "./document.js";
import { escapeField, splitFields } from "./fields.js";
import { EXIT_ERR, ZoneError, q } from "../../native/errors.js";
import { withLock } from "../../native/lock.js";
import type { IpType, ZoneConfig } from "../model.js";
import { checkZoneName } from "../names.js";
import type { ZonePaths } from "./paths.js";
import { checkTransition, isState, type ZoneState } from "./state.js";
import { commitOne, type ConfigCommit, type Heard } from "./commitbatch.js";

export interface IndexEntry {
  name: string;
  state: ZoneState;
  zonepath: string;
  uuid: string;
  brand: string;
  ipType: IpType;
}

const INDEX_HEADER = "# Zone index: name:state:zonepath:uuid:brand:ip-type. Written by zonecfg and zoneadm; do not edit.\n";

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

// Zone uuids are ours (randomUUID), but a hand-edited one is accepted if a slot line could hold it.
const CONTROL = /[\u0000-\u001f\u007f]/;
const FIELDS = "name:state:zonepath:uuid:brand:ip-type";

/** What is wrong with one index line, or undefined; `first` holds each good name's line. */
function checkIndexLine(fields: string[], first: ReadonlyMap<string, number>): string | undefined {
  if (fields.length !== 6) return `expected ${FIELDS}, found ${fields.length} field${fields.length === 1 ? "" : "s"}`;
  const [name, state, zonepath, uuid, brand, ipType] = fields as [string, string, string, string, string, string];
  try {
    checkZoneName(name);
  } catch (e) {
    return (e as Error).message;
  }
  const seen = first.get(name);
  if (seen !== undefined) return `zone '${name}' is already listed at line ${seen}; this line is ignored`;
  if (!isState(state)) return `zone '${name}': unknown state ${q(state)}`;
  if (!path.isAbsolute(zonepath)) return `zone '${name}': zonepath ${q(zonepath)} is not an absolute path`;
  if (uuid === "" || CONTROL.test(uuid)) return `zone '${name}': invalid uuid ${q(uuid)}`;
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(brand)) return `zone '${name}': invalid brand ${q(brand)}`;
  if (ipType !== "shared" && ipType !== "exclusive") return `zone '${name}': unknown ip-type ${q(ipType)}`;
  return undefined;
}

/**
 * Refuse a repository file or directory that is not root's own (or the caller's, under
 * a ZONES_ROOT of her own) or not of its kind. A delegated admin reads root's.
 */
function checkOwned(file: string, st: fs.Stats, kind: "a directory" | "a regular file"): void {
  if (st.isSymbolicLink()) throw new ZoneError(`${file} is a symbolic link; refusing it`);
  if (kind === "a directory" ? !st.isDirectory() : !st.isFile()) throw new ZoneError(`${file} is not ${kind}; refusing it`);
  const me = process.geteuid?.() ?? 0;
  if (st.uid !== me && st.uid !== 0) throw new ZoneError(`${file} is owned by uid ${st.uid}, not ${me === 0 ? "root" : `uid ${me}`}; refusing it`);
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

  private scanText(text: string | undefined): IndexScan {
    if (text === undefined || text === "") {
      const docs = this.documents();
      if (docs.length > 0)
        throw new ZoneError(`${this.indexFile} is ${text === undefined ? "missing" : "empty"} but ${docs.length} zone documents remain in ${this.paths.configDir}; zoneadmd rebuilds it at start`);
      return { entries: [], problems: [], bad: [] };
    }
    const out: IndexScan = { entries: [], problems: [], bad: [] };
    const first = new Map<string, number>();
    // CRLF is accepted: a line edited on another system means the same zone.
    text.split("\n").forEach((raw, i) => {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line === "" || line.startsWith("#")) return;
      const fields = splitFields(line);
      const problem = checkIndexLine(fields, first);
      if (problem === undefined) {
        first.set(fields[0]!, i + 1);
        out.entries.push({ name: fields[0]!, state: fields[1] as ZoneState, zonepath: fields[2]!, uuid: fields[3]!, brand: fields[4]!, ipType: fields[5] as IpType });
        return;
      }
      out.problems.push(`${this.indexFile} line ${i + 1}: ${problem}`);
      out.bad.push({ name: fields[0] ?? "", line });
    });
    return out;
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

  /**
   * A repository file's text, or undefined if it (or the directory) does not exist
   * and `mayBeMissing`. The directory and the file must be root's own and no symbolic
   * link: anyone else who can replace them could make zoneadmd act on their words.
   */
  private readChecked(file: string, mayBeMissing: boolean): string | undefined {
    const dir = this.paths.configDir;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        if (mayBeMissing) return undefined;
        throw new ZoneError(`configuration ${file} is missing`);
      }
      throw new ZoneError(`cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    checkOwned(dir, st, "a directory");
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && mayBeMissing) return undefined;
      if (code === "ENOENT") throw new ZoneError(`configuration ${file} is missing`);
      if (code === "ELOOP") throw new ZoneError(`${file} is a symbolic link; refusing it`);
      throw new ZoneError(`cannot read ${file}: ${code ?? (e as Error).message}`);
    }
    try {
      checkOwned(file, fs.fstatSync(fd), "a regular file");
      return fs.readFileSync(fd, "utf8");
    } finally {
      fs.closeSync(fd);
    }
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
        return fn(scan.entries);
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
