/**
 * The host-wide registry of uid slots (the virtual super-user, patent Eq. 1:
 * UID = VPID<<16 | UID). An installed zone owns slot k: zone uid N is host uid
 * k*65536 + N. Slots are unique on the host, across every ZONES_ROOT, so the registry
 * lives at a fixed path that ZONES_ROOT does not move; a slot never overlaps a host
 * user or group, nor a subordinate range of /etc/subuid or /etc/subgid.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "./atomic.js";
import { ZoneError, q } from "./errors.js";
import { withLock } from "./lock.js";
import { escapeField, splitFields } from "./fields.js";

export const DEFAULT_SLOT_REGISTRY = "/var/lib/zones/slots";
export const SLOT_SIZE = 65536;
const MAX_SLOT = 65534; // slot 65535 would reach uid 2^32-1, which means "no uid"

export interface SlotEntry {
  slot: number;
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

const HEADER = "# uid slots of zones: slot:uuid:configDir:zonename. Written by zoneadmd; do not edit.\n";

/** Host uid or gid of zone id `id` in `slot`. */
export function hostId(slot: number, id: number): number {
  if (!Number.isInteger(slot) || slot < 1 || slot > MAX_SLOT) throw new ZoneError(`invalid uid slot ${slot}`);
  if (!Number.isInteger(id) || id < 0 || id >= SLOT_SIZE) throw new ZoneError(`zone id ${id} is outside 0-65535`);
  return slot * SLOT_SIZE + id;
}

function readLines(file: string): string[] {
  try {
    return fs.readFileSync(file, "utf8").split("\n");
  } catch {
    return [];
  }
}

export class SlotRegistry {
  constructor(
    readonly file = DEFAULT_SLOT_REGISTRY,
    private readonly host: HostIdFiles = { passwd: "/etc/passwd", group: "/etc/group", subuid: "/etc/subuid", subgid: "/etc/subgid" },
  ) {}

  list(): SlotEntry[] {
    const out: SlotEntry[] = [];
    readLines(this.file).forEach((line, i) => {
      if (line === "" || line.startsWith("#")) return;
      const [slot, uuid, configDir, zonename, ...rest] = splitFields(line);
      const n = Number(slot);
      if (zonename === undefined || rest.length > 0 || !Number.isInteger(n) || n < 1 || n > MAX_SLOT)
        throw new ZoneError(`${this.file} line ${i + 1}: expected slot:uuid:configDir:zonename: ${q(line)}`);
      out.push({ slot: n, uuid: uuid!, configDir: configDir!, zonename });
    });
    return out;
  }

  find(uuid: string): SlotEntry | undefined {
    return this.list().find((e) => e.uuid === uuid);
  }

  private write(entries: SlotEntry[]): void {
    writeFileAtomic(this.file, HEADER + entries.map((e) => `${e.slot}:${escapeField(e.uuid)}:${escapeField(e.configDir)}:${escapeField(e.zonename)}\n`).join(""));
  }

  private locked<T>(fn: () => T): T {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o755 });
    return withLock(this.file + ".lock", fn);
  }

  /** Ids and id ranges the host already uses: slots touching them are not handed out. */
  private hostRanges(): Array<[number, number]> {
    const ranges: Array<[number, number]> = [];
    for (const f of [this.host.passwd, this.host.group]) {
      for (const l of readLines(f)) {
        const id = Number(l.split(":")[2]);
        if (l !== "" && Number.isInteger(id) && id >= 0) ranges.push([id, id]);
      }
    }
    for (const f of [this.host.subuid, this.host.subgid]) {
      for (const l of readLines(f)) {
        const [, start, count] = l.split(":").map(Number);
        if (Number.isInteger(start) && Number.isInteger(count) && count! > 0) ranges.push([start!, start! + count! - 1]);
      }
    }
    return ranges;
  }

  /** The zone's slot: the one it has, or the lowest free one. */
  allocate(uuid: string, configDir: string, zonename: string): number {
    return this.locked(() => {
      const entries = this.list();
      const have = entries.find((e) => e.uuid === uuid);
      if (have) return have.slot;
      const used = new Set(entries.map((e) => e.slot));
      const ranges = this.hostRanges();
      for (let k = 1; k <= MAX_SLOT; k++) {
        if (used.has(k)) continue;
        const lo = k * SLOT_SIZE;
        const hi = lo + SLOT_SIZE - 1;
        if (ranges.some(([a, b]) => a <= hi && b >= lo)) continue;
        this.write([...entries, { slot: k, uuid, configDir, zonename }]);
        return k;
      }
      throw new ZoneError("no free uid slot on this host");
    });
  }

  release(uuid: string): void {
    this.locked(() => {
      const entries = this.list();
      if (entries.some((e) => e.uuid === uuid)) this.write(entries.filter((e) => e.uuid !== uuid));
    });
  }
}
