/**
 * Changes of the repository that zoneadmd did not make: zonecfg is a command of its
 * own and writes the repository itself, so a zone it created, changed or deleted
 * reaches the event stream only through the file system. The configuration directory
 * is watched (inotify): the index (zones and their states) and each zone's document
 * (<name>.cfg, replaced by a rename on every commit, so a new inode). Each change is
 * compared with what the daemon last knew, and what differs is told as the observer
 * would have told it: a zone created, deleted or changed state, or, for a document
 * replaced under an unchanged state, a change in place (from === to: "zone-updated").
 * The daemon's own commits update that knowledge first (seen()), so nothing is told
 * twice. Watching the directory (not a notice from the zonecfg session) covers every
 * writer, an older zonecfg or an editor's hand included, and costs the commands nothing.
 */
import * as fs from "node:fs";
import type { Repository } from "../../document/store/repository.js";
import type { ZoneState } from "../../document/store/state.js";

const SETTLE_MS = 50;

/** A document as last seen: a commit renames a new file into place. */
type Identity = string;

const DOCUMENT = /^([^.].*)\.cfg$/;

export class IndexWatch {
  private known = new Map<string, ZoneState>();
  private documents = new Map<string, Identity>();
  /** Zones whose documents changed since the last compare. */
  private touched = new Set<string>();
  private watcher?: fs.FSWatcher;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly repo: Repository,
    private readonly tell: (name: string, from: ZoneState | null, to: ZoneState | null) => void,
  ) {}

  start(): void {
    this.known = this.read() ?? new Map();
    for (const name of this.known.keys()) this.documents.set(name, this.identity(name));
    try {
      fs.mkdirSync(this.repo.paths.configDir, { recursive: true, mode: 0o755 });
      this.watcher = fs.watch(this.repo.paths.configDir, { persistent: false }, (_e, file) => {
        const doc = file === null ? null : DOCUMENT.exec(file);
        if (file !== null && file !== "index" && !doc) return;
        if (doc) this.touched.add(doc[1]!);
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.compare(), SETTLE_MS);
      });
      this.watcher.on("error", () => this.stop());
    } catch {
      // No watch (no inotify left): the daemon's own changes are still told.
    }
  }

  /**
   * A change the daemon made and told itself. A state change leaves the document as it
   * was: a document changed meanwhile was another writer's (zonecfg), not told yet when
   * the watch's settle time has not run out, so it is told first, in its order.
   */
  seen(name: string, from: ZoneState | null, to: ZoneState | null): void {
    if (from !== null && to !== null && from !== to && this.documents.has(name) && this.identity(name) !== this.documents.get(name)) this.tell(name, from, from);
    if (to === null) {
      this.known.delete(name);
      this.documents.delete(name);
    } else {
      this.known.set(name, to);
      this.documents.set(name, this.identity(name));
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private read(): Map<string, ZoneState> | undefined {
    try {
      return new Map(this.repo.list().map((e) => [e.name, e.state]));
    } catch {
      return undefined;
    }
  }

  /** The document's inode, size and mtime; "" when it cannot be read. */
  private identity(name: string): Identity {
    try {
      const st = fs.statSync(this.repo.zoneFile(name));
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return "";
    }
  }

  private compare(): void {
    const now = this.read();
    // An index that cannot be read now says nothing about the zones.
    if (!now) return;
    const before = this.known;
    const touched = this.touched;
    this.known = now;
    this.touched = new Set();
    for (const [name, state] of now) {
      const was = before.get(name);
      const doc = was === undefined || was !== state || touched.has(name) ? this.identity(name) : undefined;
      if (was !== state) this.tell(name, was ?? null, state);
      else if (doc !== undefined && doc !== this.documents.get(name)) this.tell(name, state, state);
      if (doc !== undefined) this.documents.set(name, doc);
    }
    for (const [name, state] of before)
      if (!now.has(name)) {
        this.documents.delete(name);
        this.tell(name, state, null);
      }
  }
}
