/**
 * zoneadmd: one daemon that owns every zone's lifecycle (illumos runs one per zone; one
 * per host is cheaper here). It serializes operations per zone and lets different
 * zones proceed at once, supervises each zone's init, and can be killed and started
 * again at any time: zones run on without it, and at start it reconciles what the
 * kernel has with what the repository says.
 *
 * This file is the daemon's assembly: its parts wired together, its start and stop, the
 * per-zone queues; what it does lives in the file named after each concept: dispatch.ts
 * (every operation), supervision.ts (reconcile, the inits' ends), serving.ts (root's
 * socket protocol).
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { ZoneError } from "../native/errors.js";
import { chooseRuntime, type RuntimeVersion } from "../platform/oci/runtime.js";
import type { ZonePaths } from "../document/store/paths.js";
import { Platform } from "../platform/platform.js";
import { alive } from "../platform/halt.js";
import { Repository, type IndexEntry } from "../document/store/repository.js";
import { rebuildIndex } from "../platform/rebuild.js";
import { SlotRegistry } from "../platform/slots.js";
import { sys } from "../native/sys.js";
import { socketPath, type DaemonStats, type Reply, type Request } from "./protocol.js";
import { ZoneConsoles } from "./console.js";
import { Broker } from "./broker.js";
import { applyReserveAtStart } from "../platform/reserve.js";
import { ZoneLog, type LogSource } from "./log.js";
import { writeFileAtomic } from "../native/atomic.js";
import { Reaper } from "./reaper.js";
import { AdminSocket } from "./adminsock.js";
import { serveLogin } from "./login.js";
import { LxcfsService } from "./lxcfs.js";
import { PackageProxy } from "./proxy.js";
import { ApiTcp } from "./api/tcp.js";
import { OperationMetrics } from "./metrics.js";
import { UsageService } from "./usageservice.js";
import { Api } from "./api/api.js";
import { dispatch } from "./dispatch.js";
import { reconcile, recoverConsoles, supervise } from "./supervision.js";
import { attachConsole, serve, serveOperation, webLogin } from "./serving.js";

const PR_SET_CHILD_SUBREAPER = 36;
const LOCK_EX_NB = 2 | 4;
const SUPERVISE_MS = 200;

export class Daemon {
  readonly platform: Platform;
  readonly queues = new Map<string, Promise<unknown>>();
  private server?: net.Server;
  private timer?: NodeJS.Timeout;
  private readonly zlog: ZoneLog;
  readonly runtimeVersion: RuntimeVersion;
  /** Counts and latencies of every operation (metrics.ts). */
  readonly operations = new OperationMetrics();
  /** Zones' usage: /metrics, history, the host page (usageservice.ts). */
  readonly usage: UsageService;
  /** The zones' consoles: the admin socket's and the API's streams attach here. */
  readonly consoles: ZoneConsoles;
  readonly broker: Broker;
  /** Every child the daemon gets, the zones' inits first (reaper.ts). */
  readonly reaper = new Reaper();
  /** When each zone's init last rebooted it, within the window. */
  readonly reboots = new Map<string, number[]>();
  /** The socket for delegated admins (adminsock.ts). */
  private admins?: AdminSocket;
  /** lxcfs: what zones see of their own memory, CPUs and uptime (lxcfs.ts). */
  readonly lxcfs: LxcfsService;
  /** The zones' package proxy on the bridge addresses (proxy.ts). */
  readonly proxy: PackageProxy;
  /** The API over TCP with TLS (api/tcp.ts): off unless zoneadmd.conf says api-listen=. */
  tcp?: ApiTcp;
  /** The HTTP API on ${runDir}/api.sock (api/api.ts). */
  readonly api: Api;

  constructor(readonly paths: ZonePaths) {
    fs.mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    this.zlog = new ZoneLog(`${paths.runDir}/zoneadmd.log`);
    const repo = new Repository(paths);
    this.platform = new Platform(paths, repo, chooseRuntime(paths.runDir), new SlotRegistry(), (l) => this.log(l));
    this.consoles = new ZoneConsoles(paths);
    this.broker = new Broker(paths, repo, this.platform.slots, (l, from) => this.log(l, from));
    // Per-zone hooks: the platform reports each zone's console at ready (before init
    // runs) and its end at halt; the zone's broker endpoint lives exactly as long.
    this.platform.consoles = {
      opened: (name, master) => {
        this.consoles.opened(name, master);
        this.broker.open(name);
      },
      closed: (name) => {
        this.broker.close(name);
        this.consoles.closed(name);
      },
    };
    this.platform.inits = this.reaper;
    this.lxcfs = new LxcfsService(paths, (l) => this.log(l));
    this.platform.views = (name) => this.lxcfs.ensure(name);
    this.platform.viewsIdle = () => this.lxcfs.stop();
    this.runtimeVersion = this.platform.runtime.version();
    const network = this.platform.network;
    this.proxy = new PackageProxy(paths, (l, from) => this.log(l, from), (a) => network.zoneWith(a));
    this.platform.networkChanged = () => this.proxy.sync(network.globalAddresses());
    this.usage = new UsageService(paths, { repo, operations: this.operations, brokerConnections: () => this.broker.connections(), consoles: this.consoles, log: (l) => this.log(l) });
    this.api = new Api(this);
    this.api.usage = (entries) => this.usage.reader.zones(entries);
  }

  /** A line caused by a zone's request names it in `from` (rate-limited, see log.ts); never throws. */
  log(line: string, from?: LogSource): void {
    // The API's event stream hears the lines the log took (within each source's budget).
    if (this.zlog.write(line, from)) this.api?.logged(line);
  }

  /** Run `fn` after every earlier operation on the same zone. */
  serialize<T>(zone: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(zone) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(zone, settled);
    void settled.then(() => {
      if (this.queues.get(zone) === settled) this.queues.delete(zone);
    });
    return next;
  }

  /** Every operation, timed for the metrics (the one implementation of each is dispatch). */
  handle(req: Request, progress?: (line: string) => void): Promise<Reply> {
    return this.operations.timed(String(req.op), () => this.dispatch(req, progress));
  }

  async start(): Promise<void> {
    process.title = "zoneadmd";
    const lock = fs.openSync(`${this.paths.runDir}/zoneadmd.lock`, "a", 0o600);
    if (sys().flock(lock, LOCK_EX_NB) !== 0) throw new ZoneError("another zoneadmd already serves this root");
    sys().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    try {
      for (const line of rebuildIndex(this.platform.repo, this.platform.slots, alive)) this.log(line);
    } catch (e) {
      this.log(`index not rebuilt: ${(e as Error).message}`);
    }
    await this.reconcile();
    await this.lxcfs.adopt(this.platform.ids().size > 0);
    // Zones that outlived an earlier daemon get the reserve the setting file says now.
    this.log(applyReserveAtStart(this.paths));
    this.recoverConsoles();
    // Zones that outlived an earlier daemon find their proxy again.
    await this.proxy.sync(this.platform.network.globalAddresses());
    try {
      this.broker.start();
    } catch (e) {
      this.log(`zone event endpoints not reopened: ${(e as Error).message}`);
    }
    // The API over TCP with TLS, when zoneadmd.conf asks for it: open before root's socket,
    // so that a command that got an answer finds it listening.
    this.tcp = new ApiTcp(this.paths, (l, from) => this.log(l, from), this.api.server);
    await this.tcp.start();
    const sock = socketPath(this.paths.runDir);
    fs.rmSync(sock, { force: true });
    this.server = net.createServer((c) => this.serve(c));
    await new Promise<void>((resolve) => this.server!.listen(sock, resolve));
    fs.chmodSync(sock, 0o600);
    const admins = new AdminSocket(this.paths.runDir, this.platform.repo, {
      operation: (c, req) => this.serveOperation(c, req),
      console: (c, req, rest) => this.attachConsole(c, req, rest),
      login: (c, req, fds, uid) => serveLogin(this.paths, this.platform, c, req, fds, uid, (l) => this.log(l)),
      log: (l, from) => this.log(l, from),
    });
    // Root's socket serves whatever happens to this one.
    await admins.listen().then(() => (this.admins = admins), (e: Error) => this.log(`admin socket not opened: ${e.message}`));
    await this.api.start().catch((e: Error) => this.log(`API socket not opened: ${e.message}`));
    // The pid file is for people and tests (ping says the pid too): a full disk must not stop the daemon.
    try {
      writeFileAtomic(`${this.paths.runDir}/zoneadmd.pid`, `${process.pid}\n`, 0o644, false);
    } catch (e) {
      this.log(`zoneadmd ${process.pid}: ${(e as Error).message}; serving without a pid file`);
    }
    this.timer = setInterval(() => this.supervise(), SUPERVISE_MS);
    this.usage.start();
    const v = this.runtimeVersion;
    this.log(`zoneadmd ${process.pid} serving ${sock} with ${v.name} ${v.version}${v.warning ? `; warning: ${v.warning}` : ""}`);
  }

  /** What the daemon holds now, after a full garbage collection where node allows one (--expose-gc). */
  stats(): DaemonStats {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, fds: fs.readdirSync("/proc/self/fd").length, zombies: this.reaper.zombies(), inits: this.reaper.watched };
  }

  /** The index's zones, or none while it cannot be read (reconcile has logged why). */
  readable(): IndexEntry[] {
    try {
      return this.platform.repo.list();
    } catch {
      return [];
    }
  }

  /** SIGHUP: settings read only at start are read again (the API over TCP's, api/tcp.ts). */
  async reload(): Promise<void> {
    this.log(`zoneadmd ${process.pid} reading zoneadmd.conf again on SIGHUP`);
    await this.tcp?.reload();
  }

  stop(): void {
    clearInterval(this.timer);
    this.usage.stop();
    this.broker.stop();
    this.proxy.stop();
    this.server?.close();
    this.admins?.close();
    void this.tcp?.close();
    this.api.stop();
    fs.rmSync(socketPath(this.paths.runDir), { force: true });
    fs.rmSync(`${this.paths.runDir}/zoneadmd.pid`, { force: true });
    this.zlog.close();
  }

  // The daemon's parts, each in the file named after it; `this` is the daemon.

  /** The one implementation of every operation (dispatch.ts). */
  dispatch(req: Request, progress?: (line: string) => void): Promise<Reply> {
    return dispatch.call(this, req, progress);
  }

  /** Match the repository to the kernel (supervision.ts). */
  reconcile(): Promise<void> {
    return reconcile.call(this);
  }

  /** Act on the end of the zones' inits (supervision.ts). */
  supervise(): void {
    supervise.call(this);
  }

  /** After a restart: take each running zone's console back from its holder process (supervision.ts). */
  recoverConsoles(): void {
    recoverConsoles.call(this);
  }

  /** One connection to root's socket (serving.ts). */
  serve(c: net.Socket): void {
    serve.call(this, c);
  }

  /** Accept an operation, run it on the client's "go" (serving.ts). */
  serveOperation(c: net.Socket, req: Request): void {
    serveOperation.call(this, c, req);
  }

  /** zlogin -C (serving.ts). */
  attachConsole(c: net.Socket, req: Request, rest: Buffer): void {
    attachConsole.call(this, c, req, rest);
  }

  /** zoneadm web: a one-time login URL (serving.ts). */
  webLogin(): Promise<Reply> {
    return webLogin.call(this);
  }
}
