/**
 * zoneadm list [-cinpv]: the global zone first, then the zones the flags ask for.
 * Formats follow illumos zoneadm.c: verbose "%*s %-16s %-10s %-30s %-8s %-6s" (STATUS widened to 13, the longest state) with
 * a 4-wide ID column, parsable "zoneid:zonename:state:zonepath:uuid:brand:ip-type".
 */
import { UsageError, ZoneError } from "../../native/errors.js";
import { escapeField } from "../../document/store/fields.js";
import type { IndexEntry, Repository } from "../../document/store/repository.js";
import type { ZoneState } from "../../document/store/state.js";

/** What `list` shows of the global zone: the host. */
export const GLOBAL_BRAND = "linux";

export interface ListRow {
  id: number | undefined;
  name: string;
  state: ZoneState;
  zonepath: string;
  uuid: string;
  brand: string;
  ipType: "shared" | "excl";
}

const ACTIVE: readonly ZoneState[] = ["ready", "running", "shutting_down", "down", "mounted"];
const INSTALLED: readonly ZoneState[] = ["installed", ...ACTIVE];

export interface ListFlags {
  configured: boolean;
  installed: boolean;
  noGlobal: boolean;
  parsable: boolean;
  verbose: boolean;
}

export function parseListFlags(args: string[]): ListFlags {
  const f: ListFlags = { configured: false, installed: false, noGlobal: false, parsable: false, verbose: false };
  for (const a of args) {
    if (!/^-[cinpv]+$/.test(a)) throw new UsageError(`list: unknown argument ${JSON.stringify(a)}; usage: list [-cinpv]`);
    for (const ch of a.slice(1)) {
      if (ch === "c") f.configured = true;
      if (ch === "i") f.installed = true;
      if (ch === "n") f.noGlobal = true;
      if (ch === "p") f.parsable = true;
      if (ch === "v") f.verbose = true;
    }
  }
  if (f.parsable && f.verbose) throw new UsageError("list: -p and -v are mutually exclusive");
  return f;
}

/** Wide enough for "shutting_down", so the columns after it never shift. */
const STATUS_WIDTH = 13;

function row(e: IndexEntry, ids: ReadonlyMap<string, number>): ListRow {
  return { id: ids.get(e.name), name: e.name, state: e.state, zonepath: e.zonepath, uuid: e.uuid, brand: e.brand, ipType: e.ipType === "exclusive" ? "excl" : "shared" };
}

/** Does the index record a zone (`only`, or any) in a state only a watching zoneadmd keeps true? */
export function recordedActive(repo: Repository, only: string | undefined): boolean {
  return repo.list().some((e) => (only === undefined || e.name === only) && ACTIVE.includes(e.state));
}

export function listZones(repo: Repository, flags: ListFlags, only: string | undefined, ids: ReadonlyMap<string, number>): string[] {
  const rows: ListRow[] = [];
  if (!flags.noGlobal && (only === undefined || only === "global"))
    rows.push({ id: 0, name: "global", state: "running", zonepath: "/", uuid: "", brand: GLOBAL_BRAND, ipType: "shared" });
  const entries = repo.list();
  if (only !== undefined && only !== "global") {
    const e = entries.find((x) => x.name === only);
    if (!e) throw new ZoneError(`zone '${only}' does not exist`);
    rows.push(row(e, ids));
  } else if (only === undefined) {
    const wanted = (s: ZoneState): boolean => flags.configured || (flags.installed ? INSTALLED : ACTIVE).includes(s);
    const picked = entries.filter((e) => wanted(e.state));
    // Active zones first in ID order, as illumos lists them from the kernel.
    const active = picked.filter((e) => ids.has(e.name)).sort((a, b) => ids.get(a.name)! - ids.get(b.name)!);
    for (const e of [...active, ...picked.filter((x) => !ids.has(x.name))]) rows.push(row(e, ids));
  }
  if (flags.parsable)
    return rows.map((r) => [r.id ?? "-", r.name, r.state, escapeField(r.zonepath), r.uuid, r.brand, r.ipType].join(":"));
  if (flags.verbose) {
    const line = (id: string, name: string, state: string, p: string, brand: string, ip: string): string =>
      `${id.padStart(4)} ${name.padEnd(16)} ${state.padEnd(STATUS_WIDTH)} ${p.padEnd(30)} ${brand.padEnd(8)} ${ip.padEnd(6)}`;
    return [line("ID", "NAME", "STATUS", "PATH", "BRAND", "IP"), ...rows.map((r) => line(r.id === undefined ? "-" : String(r.id), r.name, r.state, r.zonepath, r.brand, r.ipType))];
  }
  return rows.map((r) => r.name);
}
