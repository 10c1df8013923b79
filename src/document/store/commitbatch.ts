/**
 * The body of a zone commit (Repository.commit and commitAll). A batch of commits
 * shares one lock, one fsync of the repository directory and one index write.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import { writeFileAtomic } from "../../native/atomic.js";
import { EXIT_ERR, ZoneError } from "../../native/errors.js";
import type { ZoneConfig } from "../model.js";
import { pairProcessLimits } from "../rctls.js";
import { verifyZone } from "../verify.js";
import { serializeZone } from "./document.js";
import type { CommitOptions, IndexEntry, Repository } from "./repository.js";
import { moveConsoleLog } from "./runstate.js";
import type { ZoneState } from "./state.js";

/** One commit of commitAll: what commit takes. */
export interface ConfigCommit {
  zone: ZoneConfig;
  previousName: string | null;
  opts?: CommitOptions;
}

/** A change the repository's observer hears once the batch is written: name, from, to. */
export type Heard = [string, ZoneState | null, ZoneState | null];

/**
 * A new zone's uuid: the kernel's random v4 uuid, read in ~0.1 ms, where loading
 * node:crypto for randomUUID costs ~4 ms of each `zonecfg create` (the bundles load
 * crypto only when called). Without /proc (never so for zonecfg on the host), crypto.
 */
function newUuid(): string {
  try {
    const u = fs.readFileSync("/proc/sys/kernel/random/uuid", "latin1").trim();
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u)) return u;
  } catch {
    // crypto below
  }
  return randomUUID();
}

/**
 * One commit of a batch (Repository.commitAll, under its lock): the checks of commit,
 * its document written (fsynced; the directory's fsync is the batch's), `entries`
 * updated in place; what must wait for the index write goes to `after`, the changes
 * the observer hears to `heard`.
 */
export function commitOne(repo: Repository, entries: IndexEntry[], r: ConfigCommit, after: (() => void)[], heard: Heard[]): IndexEntry {
  const { zone: z, previousName, opts = {} } = r;
  const i = previousName === null ? -1 : entries.findIndex((e) => e.name === previousName);
  const old = i < 0 ? undefined : entries[i]!;
  if (previousName !== null && !old) throw new ZoneError(`zone '${previousName}' was deleted while it was being edited`);
  const current = old ? repo.load(old.name) : undefined;
  const target = current && opts.rebase ? opts.rebase(current) : z;
  if (old && current && opts.checkChange) opts.checkChange(old, target, current);
  if (target.zonename !== previousName && entries.some((e) => e.name === target.zonename))
    throw new ZoneError(`zone '${target.zonename}' already exists`, EXIT_ERR, "conflict");
  // The caller's zone changes only if the commit succeeds.
  const doc = structuredClone(target);
  pairProcessLimits(doc);
  const problems = verifyZone(doc, entries.filter((e) => e.name !== previousName));
  if (problems.length > 0) throw new ZoneError(problems.join("\n"));
  // The directory's fsync is commitAll's, once for the batch, before the index names it.
  writeFileAtomic(repo.zoneFile(doc.zonename), serializeZone(doc), 0o644, true, false);
  const entry: IndexEntry = {
    name: doc.zonename,
    state: old?.state ?? "configured",
    zonepath: doc.zonepath,
    uuid: old?.uuid ?? newUuid(),
    brand: doc.brand,
    ipType: doc.ipType,
  };
  if (old) entries[i] = entry;
  else entries.push(entry);
  if (old && old.name !== doc.zonename) {
    const was = old.name;
    // Removed once the index stops naming it, unless a later commit of the batch made
    // a new zone of that name (its document is that file now).
    after.push(() => {
      if (!entries.some((e) => e.name === was)) fs.rmSync(repo.zoneFile(was), { force: true });
      moveConsoleLog(repo.paths, was, doc.zonename);
    });
    heard.push([was, old.state, null]);
  }
  heard.push([entry.name, old && old.name === entry.name ? old.state : null, entry.state]);
  after.push(() => (target.rctl = doc.rctl));
  return entry;
}

