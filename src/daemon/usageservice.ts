/**
 * The daemon's usage service: one reader of the kernel's counters (zoneusage.ts) behind
 * /metrics (metrics.ts), the zones' and the host's history (history.ts) and the host
 * page. It owns the sampling timer; the API's routes (api/usageroutes.ts) call it.
 */
import type { Repository, IndexEntry } from "../document/store/repository.js";
import type { ZonePaths } from "../document/store/paths.js";
import { History, historyInterval } from "./history.js";
import { renderMetrics, type ConsoleBytes, type OperationMetrics } from "./metrics.js";
import { UsageReader } from "./zoneusage.js";

/** What the service reads of the rest of the daemon. */
export interface UsageSources {
  repo: Repository;
  operations: OperationMetrics;
  brokerConnections: () => number;
  consoles: { bytes: ConsoleBytes; prune(keep: ReadonlySet<string>): void };
  log: (line: string) => void;
}

export class UsageService {
  readonly reader: UsageReader;
  readonly history: History;
  private timer?: NodeJS.Timeout;

  constructor(
    paths: ZonePaths,
    private readonly src: UsageSources,
  ) {
    this.reader = new UsageReader(paths);
    this.history = new History(historyInterval());
  }

  /** The index, or none while it cannot be read (reconcile logs why). */
  private entries(): IndexEntry[] {
    try {
      return this.src.repo.list();
    } catch {
      return [];
    }
  }

  /** One scrape: every zone read fresh. */
  metrics(): string {
    const entries = this.entries();
    this.src.consoles.prune(new Set(entries.map((e) => e.name)));
    return renderMetrics({
      zones: this.reader.zones(entries),
      host: this.reader.host(entries),
      operations: this.src.operations,
      brokerConnections: this.src.brokerConnections(),
      consoleBytes: this.src.consoles.bytes,
    });
  }

  /** A zone's history; undefined when no such zone is configured. */
  zoneHistory(name: string): ReturnType<History["zone"]> | undefined {
    if (!this.entries().some((e) => e.name === name)) return undefined;
    return this.history.zone(name);
  }

  /** The host page's JSON (history.ts documents it). */
  host(): Record<string, unknown> {
    return this.history.hostJson(this.reader.host(this.entries()));
  }

  /** Take one sample now (the timer does it every interval). */
  sample(): void {
    const entries = this.entries();
    this.history.sample(this.reader.zones(entries), this.reader.host(entries));
  }

  start(): void {
    const tick = (): void => {
      try {
        this.sample();
      } catch (e) {
        // A sample lost is a gap in a graph, never a reason to stop the daemon.
        this.src.log(`usage history: sample failed: ${(e as Error).message}`);
      }
    };
    tick();
    this.timer = setInterval(tick, this.history.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
