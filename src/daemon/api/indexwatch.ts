/**
 * Changes of the repository that zoneadmd did not make: zonecfg is a command of its
 * own and writes the index itself, so a zone created or deleted there reaches the
 * event stream only through the file system. The index's directory is watched
 * (inotify); each change is compared with what the daemon last knew, and what differs
 * is told as the observer would have told it. The daemon's own commits update that
 * knowledge first (seen()), so nothing is told twice. A configuration changed in place
 * (the same zones in the same states) is not told: only the index is compared.
 */
import * as fs from "node:fs";
import type { Repository } from "../../document/store/repository.js";
import type { ZoneState } from "../../document/store/state.js";

const SETTLE_MS = 50;

export class IndexWatch {
  private known = new Map<string, ZoneState>();
  private watcher?: fs.FSWatcher;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly repo: Repository,
    private readonly tell: (name: string, from: ZoneState | null, to: ZoneState | null) => void,
  ) {}

  start(): void {
    this.known = this.read() ?? new Map();
    try {
      fs.mkdirSync(this.repo.paths.configDir, { recursive: true, mode: 0o755 });
      this.watcher = fs.watch(this.repo.paths.configDir, { persistent: false }, (_e, file) => {
        if (file !== null && file !== "index") return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.compare(), SETTLE_MS);
      });
      this.watcher.on("error", () => this.stop());
    } catch {
      // No watch (no inotify left): the daemon's own changes are still told.
    }
  }

  /** A change the daemon made and told itself. */
  seen(name: string, to: ZoneState | null): void {
    if (to === null) this.known.delete(name);
    else this.known.set(name, to);
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

  private compare(): void {
    const now = this.read();
    // An index that cannot be read now says nothing about the zones.
    if (!now) return;
    const before = this.known;
    this.known = now;
    for (const [name, state] of now) if (before.get(name) !== state) this.tell(name, before.get(name) ?? null, state);
    for (const [name, state] of before) if (!now.has(name)) this.tell(name, state, null);
  }
}
