/**
 * zoneadmd's HTTP API (Incus's shape: /1.0/..., sync/async/error envelopes,
 * operations, an events stream) on `${runDir}/api.sock` for root and on
 * `${runDir}-admin/api.sock` for host users (hostApiSocketPath; one server, the same
 * rule for both: access.ts). This file assembles it: the
 * router, the access rule, the operations and events, and each part's routes, every
 * part registering from a file of its own (`register(router, api)`). The work is
 * always the daemon's: lifecycle operations go through Daemon.handle(), the one
 * implementation the commands use too.
 */
import * as fs from "node:fs";
import type { ZonePaths } from "../../document/store/paths.js";
import type { IndexEntry } from "../../document/store/repository.js";
import type { Platform } from "../../platform/platform.js";
import type { RuntimeVersion } from "../../platform/oci/runtime.js";
import { printable } from "../../native/printable.js";
import type { LogSource } from "../log.js";
import type { Reply, Request } from "../protocol.js";
import { Access } from "./access.js";
import { Events, register as registerEvents } from "./events.js";
import { ApiServer } from "./http.js";
import { IndexWatch } from "./indexwatch.js";
import { Operations, register as registerOperations } from "./operations.js";
import { Router } from "./router.js";
import { register as registerZones, zoneUrl } from "./zones.js";
import { register as registerState } from "./zonestate.js";
import { register as registerStatus } from "./zonestatus.js";
import { register as registerExec } from "./exec.js";
import { register as registerStreams } from "./consolews.js";
import type { ZoneConsoles } from "../console.js";
import { register as registerConfig } from "./zoneconfig.js";
import { register as registerOpenApi } from "./openapi.js";
import { register as registerUi } from "./ui.js";
import { register as registerUsage } from "./usageroutes.js";
import type { UsageService } from "../usageservice.js";

/** What the API needs of zoneadmd (server.ts Daemon). */
export interface ApiDaemon {
  readonly paths: ZonePaths;
  readonly platform: Platform;
  /** The zone consoles, for the console WebSocket (consolews.ts). */
  readonly consoles: ZoneConsoles;
  readonly runtimeVersion: RuntimeVersion;
  /** `progress` hears an operation's progress lines (an install's image build). */
  handle(req: Request, progress?: (line: string) => void): Promise<Reply>;
  /** Usage, metrics and history (usageservice.ts). */
  readonly usage: UsageService;
  log(line: string, from?: LogSource): void;
}

/** Root's path (the run directory is 0700). */
export function apiSocketPath(runDir: string): string {
  return `${runDir}/api.sock`;
}

/**
 * The same API for every host user, in the admin socket's directory (0755, root's):
 * opening the run directory itself (0711) would expose what it holds at modes made for
 * a directory nobody else could enter (lxcfs/ and views/ 0755, broker.sock 0666).
 */
export function hostApiSocketPath(runDir: string): string {
  return `${runDir}-admin/api.sock`;
}

/** Each part's routes; a new part adds its register here. */
const PARTS: ReadonlyArray<(router: Router, api: Api) => void> = [registerZones, registerConfig, registerState, registerStatus, registerOperations, registerEvents, registerExec, registerStreams, registerUsage, registerUi, registerOpenApi];

export class Api {
  readonly router = new Router();
  readonly events = new Events();
  readonly operations: Operations;
  readonly access: Access;
  readonly server: ApiServer;
  private readonly watch: IndexWatch;
  /** The resource usage of zones, in their order, for their objects (zones.ts), where a reader is wired in. */
  usage?: (entries: readonly IndexEntry[]) => unknown[];

  constructor(readonly daemon: ApiDaemon) {
    const internal = (e: Error): void => daemon.log(`api: internal error: ${e.stack ?? e.message}`);
    this.access = new Access(daemon.platform.repo, (l, from) => daemon.log(l, from));
    this.operations = new Operations((op, owner, created) => this.events.publish("operation", { action: created ? "operation-created" : "operation-updated", operation: op }, { owner }), internal);
    for (const part of PARTS) part(this.router, this);
    this.server = new ApiServer(apiSocketPath(daemon.paths.runDir), this.router, {
      authorize: (route, r) => {
        if (route.access === "anyone" || route.access === "handler") return;
        this.access.check(r.caller, route.access.verb, route.access.zone === undefined ? "" : (r.params[route.access.zone] ?? ""));
      },
      internal,
    });
    // Every state transition the daemon makes passes the repository (repository.ts
    // observer); zonecfg's own writes are seen on the index (indexwatch.ts).
    this.watch = new IndexWatch(daemon.platform.repo, (name, from, to) => this.lifecycle(name, from, to));
    daemon.platform.repo.observer = (name, from, to) => {
      this.watch.seen(name, from, to);
      this.lifecycle(name, from, to);
    };
  }

  private lifecycle(name: string, from: string | null, to: string | null): void {
    const action = from === null ? "zone-created" : to === null ? "zone-deleted" : from === to ? "zone-updated" : "zone-state-changed";
    this.events.publish("lifecycle", { action, source: zoneUrl(name), name, context: { from, state: to } }, { zone: name, deleted: to === null });
    if (to === null) this.access.forget(name);
  }

  /** A line the daemon logged (server.ts log): a logging event, for root's subscribers. */
  logged(line: string): void {
    this.events.publish("logging", { message: printable(line), level: "info" }, "root");
  }

  /** After the admin socket (server.ts): its directory, searchable by all, is made then. */
  async start(): Promise<void> {
    this.watch.start();
    await this.server.listen();
    const door = hostApiSocketPath(this.daemon.paths.runDir);
    const dir = door.slice(0, door.lastIndexOf("/"));
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    // Only a directory of the daemon's user that nobody else can write (adminsock.ts made it so).
    if (!st?.isDirectory() || st.uid !== process.getuid!() || (st.mode & 0o022) !== 0) {
      this.daemon.log(`API for host users not opened: ${dir} is not zoneadmd's own directory`);
      return;
    }
    await this.server.door(door);
  }

  stop(): void {
    this.watch.stop();
    this.events.close();
    this.server.close();
  }
}
