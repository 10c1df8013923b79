/**
 * The host-wide registry of uid slots (the virtual super-user, patent Eq. 1:
 * UID = VPID<<16 | UID). An installed zone owns slot k: zone uid N is host uid
 * k*65536 + N, and the same for gids. Slots are unique on the host, across every
 * ZONES_ROOT, so the registry lives at a fixed path that ZONES_ROOT does not move; a slot
 * never overlaps a host user or group, nor a subordinate range of /etc/subuid or
 * /etc/subgid, so no host account can ever own a zone's files.
 *
 * The file is a header comment, then one `slot:uuid:configDir:zonename` line per slot
 * (':' and '\' escaped as in the zone index). The uuid (with the configDir of the
 * ZONES_ROOT that owns it) identifies the zone; the zonename is only for people.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../native/atomic.js";
import { ZoneError, q } from "../native/errors.js";
import { escapeField, splitFields } from "../document/store/fields.js";
import { withLock } from "../native/lock.js";
import { TextMemo } from "../native/textmemo.js";

export const DEFAULT_SLOT_REGISTRY = "/var/lib/zones/slots";
export const SLOT_SIZE = 65536;
/** Slot 0 is the host's own ids; slot 65535 would reach uid 2^32-1, which means "no uid". */
const MIN_SLOT = 1;
const MAX_SLOT = 65534;

export interface SlotEntry {
  slot: number;
  uuid: string;
  configDir: string;
  zonename: string;
}

/** What allocate takes: the zone (uuid, owning repository) and its name, for people. */
export interface SlotRequest {
  uuid: string;
  configDir: string;
  zonename: string;
}

export interface HostIdFiles {
  passwd: string;
  group: string;
  subuid: string;
  subgid: string;
}

export const HOST_ID_FILES: HostIdFiles = { passwd: "/etc/passwd", group: "/etc/group", subuid: "/etc/subuid", subgid: "/etc/subgid" };

const HEADER = "# uid slots of zones: slot:uuid:configDir:zonename. Written by zoneadm; do not edit.\n";
const DECIMAL = /^[0-9]+$/;
// A newline would split a record; other control characters have no business in these fields.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Host uid or gid of zone id `id` in `slot`. */
export function hostId(slot: number, id: number): number {
  if (!Number.isInteger(slot) || slot < MIN_SLOT || slot > MAX_SLOT) throw new ZoneError(`uid slot ${slot} is outside ${MIN_SLOT}-${MAX_SLOT}`);
  if (!Number.isInteger(id) || id < 0 || id >= SLOT_SIZE) throw new ZoneError(`zone id ${id} is outside 0-${SLOT_SIZE - 1}`);
  return slot * SLOT_SIZE + id;
}

/** The last parse of each registry file: frozen rows, copied by update for its writer. */
const parsed = new TextMemo<SlotEntry>();

/** A file's text; a missing file is empty. Any other failure is an error: guessing could hand out a host user's ids. */
function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw new ZoneError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** A file's lines; a missing file has none. */
function readLines(file: string): string[] {
  return readText(file).split("\n");
}

export class SlotRegistry {
  constructor(
    readonly file = DEFAULT_SLOT_REGISTRY,
    private readonly host: HostIdFiles = HOST_ID_FILES,
  ) {}

  /** Every slot in use; a broken line is reported with the file and line. */
  list(): SlotEntry[] {
    return parsed.parse(this.file, readText(this.file), (text) => this.parse(text));
  }

  private parse(text: string): SlotEntry[] {
    const out: SlotEntry[] = [];
    const slots = new Set<number>();
    const uuids = new Set<string>();
    text.split("\n").forEach((line, i) => {
      if (line === "" || line.startsWith("#")) return;
      const where = `${this.file} line ${i + 1}`;
      const [slot, uuid, configDir, zonename, ...rest] = splitFields(line);
      const n = Number(slot);
      if (zonename === undefined || rest.length > 0 || !DECIMAL.test(slot!) || n < MIN_SLOT || n > MAX_SLOT || uuid === "" || configDir === "")
        throw new ZoneError(`${where}: expected slot:uuid:configDir:zonename with a slot in ${MIN_SLOT}-${MAX_SLOT}: ${q(line)}`);
      // Two zones on one slot would share host ids: refuse to work from such a file.
      if (slots.has(n)) throw new ZoneError(`${where}: slot ${n} is listed twice`);
      if (uuids.has(uuid!)) throw new ZoneError(`${where}: uuid ${q(uuid!)} is listed twice`);
      slots.add(n);
      uuids.add(uuid!);
      out.push({ slot: n, uuid: uuid!, configDir: configDir!, zonename });
    });
    return out;
  }

  /** The slot of a zone; with `configDir`, only if that repository owns it. */
  find(uuid: string, configDir?: string): SlotEntry | undefined {
    return this.list().find((e) => e.uuid === uuid && (configDir === undefined || e.configDir === configDir));
  }

  /**
   * The zone's slot: the one it has (a re-install keeps its slot), or the lowest free
   * one. A uuid that another repository already holds is refused (a copied ZONES_ROOT
   * repeats uuids), since the two zones would otherwise share host ids.
   */
  allocate(uuid: string, configDir: string, zonename: string): number {
    const r = this.allocateAll([{ uuid, configDir, zonename }])[0]!;
    if (r instanceof Error) throw r;
    return r;
  }

  /**
   * allocate for several zones in one locked write (group commit: platform/slotbatch.ts):
   * a request refused is an Error in its place; the file is written once, if anything
   * changed. A failed write throws: no request got a slot.
   */
  allocateAll(reqs: readonly SlotRequest[]): (number | Error)[] {
    return this.update((entries) => {
      let changed = false;
      let blocked: Set<number> | undefined;
      const out = reqs.map(({ uuid, configDir, zonename }): number | Error => {
        try {
          if (uuid === "" || CONTROL.test(uuid)) throw new ZoneError(`invalid zone uuid ${q(uuid)}`);
          if (!path.isAbsolute(configDir) || CONTROL.test(configDir)) throw new ZoneError(`zone repository must be an absolute path without control characters: ${q(configDir)}`);
          if (CONTROL.test(zonename)) throw new ZoneError(`zone name holds a control character: ${q(zonename)}`);
          const have = entries.find((e) => e.uuid === uuid);
          if (have) {
            if (have.configDir !== configDir)
              throw new ZoneError(`zone uuid ${q(uuid)} already holds uid slot ${have.slot} for ${q(have.configDir)}; uninstall that zone first`);
            if (have.zonename !== zonename) {
              have.zonename = zonename;
              changed = true;
            }
            return have.slot;
          }
          // The host's ids are read once per batch: the slots this batch hands out are added below.
          blocked ??= this.hostSlots();
          for (const e of entries) blocked.add(e.slot);
          for (let k = MIN_SLOT; k <= MAX_SLOT; k++) {
            if (blocked.has(k)) continue;
            entries.push({ slot: k, uuid, configDir, zonename });
            changed = true;
            return k;
          }
          throw new ZoneError(`no free uid slot in ${this.file}: every slot ${MIN_SLOT}-${MAX_SLOT} is taken by a zone or by host ids`);
        } catch (err) {
          return err as Error;
        }
      });
      // Kept in slot order so that an administrator reads the file as a table.
      if (changed) this.write([...entries].sort((a, b) => a.slot - b.slot));
      return out;
    });
  }

  /** Free the zone's slot; with `configDir`, only if that repository owns it. No slot is no error. */
  release(uuid: string, configDir?: string): void {
    this.update((entries) => {
      const rest = entries.filter((e) => !(e.uuid === uuid && (configDir === undefined || e.configDir === configDir)));
      if (rest.length !== entries.length) this.write(rest);
    });
  }

  /** Run fn under the registry lock, with the registry read afresh. */
  private update<T>(fn: (entries: SlotEntry[]) => T): T {
    const dir = path.dirname(this.file);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    return withLock(this.file + ".lock", () => {
      // A writer killed mid-write leaves `.slots.tmp-PID` (atomic.ts's naming). Only our
      // own are removed: other files in this directory are under other locks.
      const stale = `.${path.basename(this.file)}.tmp-`;
      for (const f of fs.readdirSync(dir)) if (f.startsWith(stale)) fs.rmSync(path.join(dir, f), { force: true });
      return fn(this.list().map((e) => ({ ...e })));
    });
  }

  private write(entries: SlotEntry[]): void {
    const lines = entries.map((e) => [String(e.slot), escapeField(e.uuid), escapeField(e.configDir), escapeField(e.zonename)].join(":") + "\n");
    writeFileAtomic(this.file, HEADER + lines.join(""), 0o644);
  }

  /** Slots that hold an id the host already uses: a uid, a gid, or a subordinate range. */
  private hostSlots(): Set<number> {
    const blocked = new Set<number>();
    const block = (lo: number, hi: number): void => {
      const first = Math.max(MIN_SLOT, Math.floor(lo / SLOT_SIZE));
      const last = Math.min(MAX_SLOT, Math.floor(hi / SLOT_SIZE));
      for (let k = first; k <= last; k++) blocked.add(k);
    };
    // passwd: name:pw:uid:gid:... (the primary gid counts too: it may have no group line);
    // group: name:pw:gid:members. Lines that do not parse (NIS '+', comments) are skipped.
    for (const [file, fields] of [[this.host.passwd, [2, 3]], [this.host.group, [2]]] as const) {
      for (const line of readLines(file)) {
        const f = line.split(":");
        for (const i of fields) if (f[i] !== undefined && DECIMAL.test(f[i]!)) block(Number(f[i]), Number(f[i]));
      }
    }
    // subuid/subgid: name:start:count, the ranges newuidmap hands to user namespaces.
    for (const file of [this.host.subuid, this.host.subgid]) {
      for (const line of readLines(file)) {
        const f = line.split(":");
        if (f.length !== 3 || !DECIMAL.test(f[1]!) || !DECIMAL.test(f[2]!) || Number(f[2]) === 0) continue;
        block(Number(f[1]), Number(f[1]) + Number(f[2]) - 1);
      }
    }
    return blocked;
  }
}
