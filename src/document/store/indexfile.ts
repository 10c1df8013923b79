/**
 * The zone index's lines (repository.ts keeps the index as the authority): the header,
 * what makes one `name:state:zonepath:uuid:brand:ip-type` line good, and the scan of
 * the whole text into entries and the bad lines kept as they are. Its own file so that
 * the index's format reads apart from the repository's locking and commits.
 */
import * as path from "node:path";
import { splitFields } from "./fields.js";
import { ZoneError, q } from "../../native/errors.js";
import type { IpType } from "../model.js";
import { checkZoneName } from "../names.js";
import { TextMemo } from "../../native/textmemo.js";
import { isState, type ZoneState } from "./state.js";
import type { IndexEntry, IndexScan, Repository } from "./repository.js";

export const INDEX_HEADER = "# Zone index: name:state:zonepath:uuid:brand:ip-type. Written by zonecfg and zoneadm; do not edit.\n";

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

/** The last scan of each index file: one row per line, good or bad. */
const scans = new TextMemo<ScanRow>();

type ScanRow = { entry: IndexEntry } | { problem: string; bad: { name: string; line: string } };

export function scanText(this: Repository, text: string | undefined): IndexScan {
  if (text === undefined || text === "") {
    const docs = this.documents();
    if (docs.length > 0)
      throw new ZoneError(`${this.indexFile} is ${text === undefined ? "missing" : "empty"} but ${docs.length} zone documents remain in ${this.paths.configDir}; zoneadmd rebuilds it at start`);
    return { entries: [], problems: [], bad: [] };
  }
  const out: IndexScan = { entries: [], problems: [], bad: [] };
  for (const r of scans.parse(this.indexFile, text, (t) => scanLines(this.indexFile, t))) {
    if ("entry" in r) out.entries.push(r.entry);
    else {
      out.problems.push(r.problem);
      out.bad.push(r.bad);
    }
  }
  return out;
}

/** Each line's row; entries are frozen (shared by every reader of the same text). */
function scanLines(indexFile: string, text: string): ScanRow[] {
  const out: ScanRow[] = [];
  const first = new Map<string, number>();
  // CRLF is accepted: a line edited on another system means the same zone.
  text.split("\n").forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "" || line.startsWith("#")) return;
    const fields = splitFields(line);
    const problem = checkIndexLine(fields, first);
    if (problem === undefined) {
      first.set(fields[0]!, i + 1);
      const entry: IndexEntry = Object.freeze({ name: fields[0]!, state: fields[1] as ZoneState, zonepath: fields[2]!, uuid: fields[3]!, brand: fields[4]!, ipType: fields[5] as IpType });
      out.push({ entry });
      return;
    }
    out.push({ problem: `${indexFile} line ${i + 1}: ${problem}`, bad: Object.freeze({ name: fields[0] ?? "", line }) });
  });
  return out;
}
