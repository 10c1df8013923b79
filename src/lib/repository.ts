/**
 * The zone repository (illumos /etc/zones): an index of
 * `name:state:zonepath:uuid:brand:ip-type` lines plus one document per zone. The index
 * repeats brand and ip-type from each document (written in the same commit) so that
 * `zoneadm list` reads one file whatever the number of zones. Every write happens under one exclusive lock and
 * replaces files atomically, in an order that keeps the index the authority:
 * a zone's document is written before the index names it, and removed after the index
 * stops naming it. A document the index does not name is a leftover and is ignored.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { removeStaleTemporaries, writeFileAtomic } from "./atomic.js";
import { parseZone, serializeZone } from "./document.js";
import { escapeField, splitFields } from "./fields.js";
import { ZoneError, q } from "./errors.js";
import { withLock } from "./lock.js";
import type { IpType, ZoneConfig } from "./model.js";
import { checkZoneName } from "./names.js";
import type { ZonePaths } from "./paths.js";
import { pairProcessLimits } from "./rctls.js";
import { moveConsoleLog } from "./runstate.js";
import { checkTransition, isState, type ZoneState } from "./state.js";
import { verifyZone } from "./verify.js";

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

const TRANSIENT: readonly ZoneState[] = ["ready", "running", "shutting_down", "down"];

export class Repository {
  readonly indexFile: string;
  private readonly lockFile: string;

  constructor(readonly paths: ZonePaths) {
    this.indexFile = path.join(paths.configDir, "index");
    this.lockFile = path.join(paths.configDir, ".lock");
  }

  zoneFile(name: string): string {
    checkZoneName(name);
    return path.join(this.paths.configDir, `${name}.cfg`);
  }

  /** The index; a broken line is reported with the file and line. */
  list(): IndexEntry[] {
    let text: string;
    try {
      text = fs.readFileSync(this.indexFile, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new ZoneError(`cannot read ${this.indexFile}: ${(e as Error).message}`);
    }
    const entries: IndexEntry[] = [];
    text.split("\n").forEach((line, i) => {
      if (line === "" || line.startsWith("#")) return;
      const [name, state, zonepath, uuid, brand, ipType, ...rest] = splitFields(line);
      const where = `${this.indexFile} line ${i + 1}`;
      if (ipType === undefined || rest.length > 0) throw new ZoneError(`${where}: expected name:state:zonepath:uuid:brand:ip-type: ${q(line)}`);
      if (!isState(state!)) throw new ZoneError(`${where}: unknown state ${q(state!)}`);
      if (ipType !== "shared" && ipType !== "exclusive") throw new ZoneError(`${where}: unknown ip-type ${q(ipType)}`);
      try {
        checkZoneName(name!);
      } catch (e) {
        throw new ZoneError(`${where}: ${(e as Error).message}`);
      }
      entries.push({ name: name!, state, zonepath: zonepath!, uuid: uuid!, brand: brand!, ipType });
    });
    return entries;
  }

  find(name: string): IndexEntry | undefined {
    return this.list().find((e) => e.name === name);
  }

  /** A zone's configuration; errors name the document and line. */
  load(name: string): ZoneConfig {
    const file = this.zoneFile(name);
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      throw new ZoneError((e as NodeJS.ErrnoException).code === "ENOENT" ? `configuration ${file} is missing` : `cannot read ${file}: ${(e as Error).message}`);
    }
    return parseZone(name, text, file);
  }

  /** Run fn under the repository lock, with the index read afresh. */
  private update<T>(fn: (entries: IndexEntry[]) => T): T {
    fs.mkdirSync(this.paths.configDir, { recursive: true, mode: 0o755 });
    return withLock(this.lockFile, () => {
      removeStaleTemporaries(this.paths.configDir);
      return fn(this.list());
    });
  }

  private writeIndex(entries: IndexEntry[], durable = true): void {
    const lines = entries.map((e) => [e.name, e.state, escapeField(e.zonepath), e.uuid, e.brand, e.ipType].join(":"));
    writeFileAtomic(this.indexFile, INDEX_HEADER + lines.map((l) => l + "\n").join(""), 0o644, durable);
  }

  /**
   * Verify and store a zone. `previousName` is the name it was loaded under (null for
   * a new zone); a different z.zonename renames it. Returns the index entry.
   * Under the lock, `rebase` gets the document as stored now and returns the one to
   * store (so an editor whose document changed underneath can re-apply or refuse), and
   * `checkChange` may refuse the change from the stored document to that one.
   */
  commit(z: ZoneConfig, previousName: string | null, opts: CommitOptions = {}): IndexEntry {
    return this.update((entries) => {
      const old = previousName === null ? undefined : entries.find((e) => e.name === previousName);
      if (previousName !== null && !old) throw new ZoneError(`zone '${previousName}' was deleted while it was being edited`);
      const current = old ? this.load(old.name) : undefined;
      const target = current && opts.rebase ? opts.rebase(current) : z;
      if (old && current && opts.checkChange) opts.checkChange(old, target, current);
      if (target.zonename !== previousName && entries.some((e) => e.name === target.zonename))
        throw new ZoneError(`zone '${target.zonename}' already exists`);
      // The caller's zone changes only if the commit succeeds.
      const doc = structuredClone(target);
      pairProcessLimits(doc);
      const problems = verifyZone(doc, entries.filter((e) => e.name !== previousName));
      if (problems.length > 0) throw new ZoneError(problems.join("\n"));
      writeFileAtomic(this.zoneFile(doc.zonename), serializeZone(doc));
      const entry: IndexEntry = {
        name: doc.zonename,
        state: old?.state ?? "configured",
        zonepath: doc.zonepath,
        uuid: old?.uuid ?? randomUUID(),
        brand: doc.brand,
        ipType: doc.ipType,
      };
      this.writeIndex(old ? entries.map((e) => (e === old ? entry : e)) : [...entries, entry]);
      if (old && old.name !== doc.zonename) fs.rmSync(this.zoneFile(old.name), { force: true });
      if (old && old.name !== doc.zonename) moveConsoleLog(this.paths, old.name, doc.zonename);
      target.rctl = doc.rctl;
      return entry;
    });
  }

  /**
   * A state change that holds only if the zone's document is still `expected` (as read
   * before), checked under the lock: install claims the zonepath it is about to fill,
   * and a zonepath committed in between makes it refuse instead of filling a path the
   * repository no longer names.
   */
  setStateIfUnchanged(name: string, to: ZoneState, expected: ZoneConfig): void {
    this.update((entries) => {
      const e = entries.find((x) => x.name === name);
      if (!e) throw new ZoneError(`zone '${name}' does not exist`);
      if (serializeZone(this.load(name)) !== serializeZone(expected))
        throw new ZoneError(`configuration changed while the ${to === "incomplete" ? "install" : "operation"} began; try again`);
      checkTransition(e.state, to);
      e.state = to;
      this.writeIndex(entries, !TRANSIENT.includes(to));
    });
  }

  /** Remove a configured zone (zonecfg delete). */
  delete(name: string): void {
    this.update((entries) => {
      const e = entries.find((x) => x.name === name);
      if (!e) throw new ZoneError(`zone '${name}' does not exist`);
      if (e.state !== "configured") throw new ZoneError(`zone '${name}' is ${e.state}; only a configured zone can be deleted (uninstall it first)`);
      this.writeIndex(entries.filter((x) => x !== e));
      fs.rmSync(this.zoneFile(name), { force: true });
    });
  }

  /** Persist a state change, checked against the state model. */
  setState(name: string, to: ZoneState): void {
    this.update((entries) => {
      const e = entries.find((x) => x.name === name);
      if (!e) throw new ZoneError(`zone '${name}' does not exist`);
      checkTransition(e.state, to);
      e.state = to;
      // Configuration and the states that outlive a host reboot are made durable; the
      // transient ones need only be replaced whole (a reboot makes them stale anyway).
      this.writeIndex(entries, !TRANSIENT.includes(to));
    });
  }
}
