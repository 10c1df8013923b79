/**
 * What each zone of a root has plumbed on the host (network.ts), kept so that teardown
 * and a restarted zoneadmd's sweep know what to remove.
 *
 * A journal, <runDir>/net.journal: a line `+{record}` when a zone is plumbed (written
 * before anything is made) and `-zone` when it is gone. Each line is one append, so a
 * kill -9 leaves whole lines (at worst a torn last one, of a setup that had made
 * nothing yet, which readers skip). An append costs tens of microseconds where a new
 * file costs up to a millisecond on some disks, and the per-zone setup has 2 ms in
 * all. The journal is emptied when the last zone goes and rewritten whole (atomically)
 * once it is mostly stale.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../../native/atomic.js";
import type { ZoneNet } from "./plan.js";
import type { ZonePaths } from "../../document/store/paths.js";

export function journalFile(paths: ZonePaths): string {
  return path.join(paths.runDir, "net.journal");
}

/** The live records of a journal's text. */
function replay(text: string): Map<string, ZoneNet> {
  const nets = new Map<string, ZoneNet>();
  for (const line of text.split("\n")) {
    if (line.startsWith("-")) nets.delete(line.slice(1));
    else if (line.startsWith("+")) {
      try {
        const n = JSON.parse(line.slice(1)) as ZoneNet;
        nets.set(n.zone, n);
      } catch {
        // a torn last line: that setup had made nothing yet
      }
    }
  }
  return nets;
}

/** Every zone of the root that has (or had, before a crash) network plumbed. */
export function readNets(paths: ZonePaths): ZoneNet[] {
  try {
    return [...replay(fs.readFileSync(journalFile(paths), "utf8")).values()];
  } catch {
    return [];
  }
}

export function readNet(paths: ZonePaths, zone: string): ZoneNet | undefined {
  return readNets(paths).find((n) => n.zone === zone);
}

/** The journal of one root, held by its zoneadmd: appends, and the live records in memory. */
export class NetRecords {
  private nets = new Map<string, ZoneNet>();
  /** The journal as last read or written by us: read again when someone else changed it. */
  private seen = "";
  private lines = 0;
  /** The journal, open for appends while it exists. */
  private fd: number | undefined;

  constructor(private readonly paths: ZonePaths) {}

  private get file(): string {
    return journalFile(this.paths);
  }

  private stamp(): string {
    try {
      const s = fs.statSync(this.file, { bigint: true });
      return `${s.ino}/${s.size}/${s.mtimeNs}`;
    } catch {
      return "none";
    }
  }

  all(): ZoneNet[] {
    const stamp = this.stamp();
    if (stamp !== this.seen) {
      let text = "";
      try {
        text = fs.readFileSync(this.file, "utf8");
      } catch {
        // no journal: nothing plumbed
      }
      this.nets = replay(text);
      this.lines = text.split("\n").length - 1;
      this.seen = stamp;
      // Someone else replaced or removed it: append to what is there now.
      this.closeJournal();
    }
    return [...this.nets.values()];
  }

  get(zone: string): ZoneNet | undefined {
    this.all();
    return this.nets.get(zone);
  }

  private append(line: string): void {
    if (this.fd === undefined) {
      fs.mkdirSync(this.paths.runDir, { recursive: true, mode: 0o755 });
      this.fd = fs.openSync(this.file, "a", 0o644);
    }
    // One write: a kill -9 leaves the line whole or absent.
    fs.writeSync(this.fd, `${line}\n`);
    this.lines++;
  }

  /** Let go of the journal file (it was removed or replaced). */
  private closeJournal(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** Record a zone's network before anything of it is made. */
  put(net: ZoneNet): void {
    this.all();
    this.append(`+${JSON.stringify(net)}`);
    this.nets.set(net.zone, net);
    this.seen = this.stamp();
  }

  /** Forget a zone's network once all of it is removed. */
  remove(zone: string): void {
    this.all();
    if (!this.nets.has(zone)) return;
    this.nets.delete(zone);
    if (this.nets.size === 0) {
      this.closeJournal();
      fs.rmSync(this.file, { force: true });
    } else if (this.lines > 4 * this.nets.size + 64) {
      this.closeJournal();
      // Mostly stale: the live records, rewritten whole.
      const live = [...this.nets.values()].map((n) => `+${JSON.stringify(n)}\n`).join("");
      writeFileAtomic(this.file, live, 0o644, false);
      this.lines = this.nets.size;
    } else this.append(`-${zone}`);
    this.seen = this.stamp();
  }
}
