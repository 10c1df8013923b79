/**
 * The daemon's usage service: one reader of the kernel's counters (zoneusage.ts) behind
 * /metrics (metrics.ts), the zones' and the host's history (history.ts) and the host
 * page. It owns the sampling timer; the API's routes (api/usageroutes.ts) call it.
 */
import type { Repository, IndexEntry } from "../document/store/repository.js";
import type { ZonePaths } from "../document/store/paths.js";
import { History, historyInterval } from "./history.js";
import { renderMetrics, type ConsoleBytes, type OperationMetrics } from "./metrics.js";
import { UsageReader, type ZoneUsage } from "./zoneusage.js";
import { readNets } from "../platform/network/netrecords.js";
import type { ZoneNet } from "../platform/network/plan.js";

/** How long zone objects reuse one read of the network journal. */
const NETS_TTL_MS = 1000;

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
  private nets?: { at: number; map: Map<string, ZoneNet> };

  constructor(
    private readonly paths: ZonePaths,
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

  /** One zone's usage now (the API's zone objects); undefined when it is not configured. */
  zoneUsage(name: string): ZoneUsage | undefined {
    let e: IndexEntry | undefined;
    try {
      e = this.src.repo.find(name);
    } catch {
      return undefined;
    }
    if (!e) return undefined;
    // A list of many zones asks once per zone: the network journal is read at most once a second.
    const now = Date.now();
    if (!this.nets || now - this.nets.at > NETS_TTL_MS) this.nets = { at: now, map: new Map(readNets(this.paths).map((n) => [n.zone, n])) };
    return this.reader.zone(e, this.nets.map.get(name), now);
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
