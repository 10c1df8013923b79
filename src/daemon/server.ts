/**
 * zoneadmd: one daemon that owns every zone's lifecycle (illumos runs one per zone; one
 * per host is cheaper here). It serializes operations per zone and lets different
 * zones proceed at once, supervises each zone's init, and can be killed and started
 * again at any time: zones run on without it, and at start it reconciles what the
 * kernel has with what the repository says.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { ZoneError } from "../native/errors.js";
import { checkZoneName } from "../document/names.js";
import { chooseRuntime, type RuntimeVersion } from "../platform/oci/runtime.js";
import type { ZonePaths } from "../document/store/paths.js";
import { alive, Platform } from "../platform/platform.js";
import { Repository, type IndexEntry, type IndexScan } from "../document/store/repository.js";
import { rebuildIndex } from "../platform/rebuild.js";
import { SlotRegistry } from "../platform/slots.js";
import { sys } from "../native/sys.js";
import { ACCEPTED, OPERATIONS, socketPath, type DaemonStats, type Reply, type Request } from "./protocol.js";
import { ZoneConsoles } from "./console.js";
import { fdOfProcess } from "../native/fdpass.js";
import { HOLDER_FD, writeHaltNote } from "../document/store/runstate.js";
import { Broker } from "./broker.js";
import { applyReserveAtStart } from "../platform/reserve.js";
import { ZoneLog, type LogSource } from "./log.js";
import { writeFileAtomic } from "../native/atomic.js";
import { Reaper } from "./reaper.js";
import { AdminSocket } from "./adminsock.js";
import { serveLogin } from "./login.js";
import { LxcfsService } from "./lxcfs.js";
import { PackageProxy } from "./proxy.js";
import { cloneZone, type ZoneOps } from "../platform/clone.js";
import { moveZone } from "../platform/move.js";
import { attachZone, detachZone } from "../platform/attach.js";
import { ApiTcp } from "./api/tcp.js";
import { OperationMetrics } from "./metrics.js";
import { UsageService } from "./usageservice.js";
import { Api } from "./api/api.js";
import { installImage } from "./imagebuild.js";

const PR_SET_CHILD_SUBREAPER = 36;
const LOCK_EX_NB = 2 | 4;
const SUPERVISE_MS = 200;
const SIGHUP = 1;
/** A zone whose init reboots it more often than this in the window is halted (illumos gives up too). */
const REBOOT_LIMIT = 10;
const REBOOT_WINDOW_MS = 60_000;

export class Daemon {
  readonly platform: Platform;
  private readonly queues = new Map<string, Promise<unknown>>();
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
  private readonly reboots = new Map<string, number[]>();
  /** The socket for delegated admins (adminsock.ts). */
  private admins?: AdminSocket;
  /** lxcfs: what zones see of their own memory, CPUs and uptime (lxcfs.ts). */
  readonly lxcfs: LxcfsService;
  /** The zones' package proxy on the bridge addresses (proxy.ts). */
  readonly proxy: PackageProxy;
  /** The API over TCP with TLS (api/tcp.ts): off unless zoneadmd.conf says api-listen=. */
  private tcp?: ApiTcp;
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
  private serialize<T>(zone: string, fn: () => Promise<T>): Promise<T> {
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

  private async dispatch(req: Request, progress?: (line: string) => void): Promise<Reply> {
    if (!OPERATIONS.includes(req.op)) return { ok: false, error: `unknown operation ${JSON.stringify(req.op)}` };
    if (req.op === "ping") return { ok: true, pid: process.pid, runtime: this.runtimeVersion };
    if (req.op === "stats") return { ok: true, pid: process.pid, stats: this.stats() };
    if (req.op === "web") return this.webLogin();
    if (req.op === "login") return { ok: false, error: "login is served on the admin socket (root's zlogin runs the runtime itself)" };
    if (req.op === "post") {
      // The global zone posts a fault or error event into a zone's event channel.
      try {
        return { ok: true, delivered: this.broker.post(req.zone ?? "", req.channel ?? "", Buffer.from(req.message ?? "")) };
      } catch (e) {
        return { ok: false, error: (e as Error).message };
      }
    }
    const zone = req.zone ?? "";
    try {
      checkZoneName(zone);
      const p = this.platform;
      // clone, move, detach, attach: their bodies are in platform/clone.ts and attach.ts.
      const ops: ZoneOps = { paths: p.paths, repo: p.repo, slots: p.slots, log: (l) => this.log(l) };
      if (req.op === "clone") {
        // The source must stay halted while it is copied: both zones' queues are held,
        // taken in name order so that two crossing clones cannot wait on each other.
        const source = req.source ?? "";
        checkZoneName(source);
        if (source === zone) return { ok: false, error: "a zone cannot be cloned from itself" };
        const [first, second] = [zone, source].sort() as [string, string];
        await this.serialize(first, () => this.serialize(second, () => cloneZone(ops, zone, source)));
        return { ok: true };
      }
      return await this.serialize(zone, async (): Promise<Reply> => {
        switch (req.op) {
          case "install":
            // The brand's base image first (imagebuild.ts), then the zone's tree.
            await installImage(this, zone, req, progress);
            await p.install(zone, { image: req.image, copy: req.copy === true });
            return { ok: true };
          case "uninstall":
            await p.uninstall(zone);
            return { ok: true };
          case "move":
            await moveZone(ops, zone, req.zonepath ?? "");
            return { ok: true };
          case "detach":
            await detachZone(ops, zone);
            return { ok: true };
          case "attach":
            await attachZone(ops, zone, req.force === true);
            return { ok: true };
          case "ready":
            return { ok: true, run: await p.ready(zone, req.init), runtime: this.runtimeVersion };
          case "boot":
            return { ok: true, run: await p.boot(zone, req.init), runtime: this.runtimeVersion };
          case "halt":
            await p.halt(zone);
            return { ok: true };
          case "reboot":
            return { ok: true, run: await p.reboot(zone) };
          case "shutdown":
            return { ok: true, run: await p.shutdown(zone, false) };
          case "shutdown-reboot":
            return { ok: true, run: await p.shutdown(zone, true) };
          default:
            return { ok: false, error: "unreachable" };
        }
      });
    } catch (e) {
      if (e instanceof ZoneError) return { ok: false, error: e.message, kind: e.kind };
      this.log(`internal error: ${(e as Error).stack}`);
      return { ok: false, error: `internal error: ${(e as Error).message}` };
    }
  }

  /**
   * Match the repository to the kernel: zones whose init is gone are halted, runtime
   * containers of zones the repository positively knows to be halted (or not to exist)
   * are removed. A repository that cannot be read makes it touch nothing: a zone it
   * cannot see may be running. Runs at start and whenever an init dies.
   */
  async reconcile(): Promise<void> {
    const p = this.platform;
    let scan: IndexScan;
    try {
      scan = p.repo.scan();
    } catch (e) {
      if (!(e instanceof ZoneError)) throw e;
      this.log(`touching no zone: ${e.message}`);
      return;
    }
    for (const problem of scan.problems) this.log(problem);
    const entries = scan.entries;
    for (const e of entries) {
      if (!["ready", "running", "shutting_down", "down"].includes(e.state)) {
        // A ready or halt cut short by a kill: what it made goes, whatever the index says.
        if (this.queues.has(e.name)) continue;
        await this.serialize(e.name, async () => {
          const z = p.repo.load(e.name);
          if (!["installed", "incomplete"].includes(p.repo.find(e.name)?.state ?? "") || !(await p.leftovers(e.name, z))) return;
          this.log(`zone '${e.name}': removing what an interrupted operation left`);
          await p.teardown(e.name, z);
        }).catch((err: Error) => this.log(`zone '${e.name}': cleanup failed: ${err.message}`));
        continue;
      }
      if (!p.readRun(e.name)) {
        // Unreadable run state is rebuilt from the kernel, never taken as a dead zone.
        const rebuilt = await p.recoverRun(e.name).catch(() => undefined);
        if (rebuilt) this.log(`zone '${e.name}': run state unreadable; rebuilt from the runtime (init ${rebuilt.pid})`);
      }
      const run = p.readRun(e.name);
      if (run && run.pid > 0 && alive(run.pid)) continue;
      await this.serialize(e.name, async () => {
        const now = p.repo.find(e.name);
        if (!now || !["ready", "running", "shutting_down", "down"].includes(now.state)) return;
        const r = p.readRun(e.name);
        if (r && r.pid > 0 && alive(r.pid)) return;
        await p.halt(e.name, "its init is gone").catch((err: Error) => this.log(`zone '${e.name}': halt failed: ${err.message}`));
      }).catch((err: Error) => this.log(`zone '${e.name}': ${err.message}`));
    }
    const active = new Set(entries.filter((e) => ["ready", "running"].includes(e.state)).map((e) => e.name));
    const listed = new Set(entries.map((e) => e.name));
    // A zone the index does not name is known not to exist only if no bad line could be it and no document names it.
    const unsure = (id: string): boolean => !listed.has(id) && (scan.bad.length > 0 || p.repo.documents().includes(id));
    for (const id of await p.runtime.list()) {
      if (active.has(id) || this.queues.has(id)) continue;
      if (unsure(id)) {
        this.log(`leaving container '${id}' alone: the repository does not say its zone is halted`);
        continue;
      }
      this.log(`removing container '${id}' that no ready or running zone owns`);
      await p.runtime.delete(id, true).catch(() => undefined);
    }
    // Network left by a crash mid-boot or mid-halt (network.ts): only zones alive keep theirs.
    await p.network.sweep((z) => this.queues.has(z) || ((active.has(z) || unsure(z)) && alive(p.readRun(z)?.pid ?? 0)));
  }

  /**
   * Reap the inits we are parent of (as subreaper) and act on their end: an init killed
   * by SIGHUP ran reboot(2) in its pid namespace, so the zone boots again; any other
   * end (SIGINT is halt or power-off) halts it. Inits of an earlier daemon are not our
   * children: their end is seen as a vanished process and halts the zone.
   */
  private supervise(): void {
    // Halts that could not write their state (a full disk) are recorded once there is room.
    for (const name of this.platform.unrecorded) if (!this.queues.has(name)) void this.serialize(name, async () => this.platform.retryUnrecorded(name));
    for (const e of this.readable()) {
      if ((e.state !== "running" && e.state !== "ready") || this.queues.has(e.name)) continue;
      const run = this.platform.readRun(e.name);
      if (!run || run.pid === 0) continue;
      // Reap only pids we know: waitpid(-1) would steal Node's own children's statuses.
      const end = this.reaper.ended(run.pid);
      if (end === undefined) continue;
      const reaped = end !== "gone";
      const status = reaped ? end : 0;
      const signal = status & 0x7f;
      void this.serialize(e.name, async () => {
        const now = this.platform.repo.find(e.name);
        if (!now || (now.state !== "running" && now.state !== "ready")) return;
        if (signal === SIGHUP) {
          const now = Date.now();
          const times = (this.reboots.get(e.name) ?? []).filter((t) => now - t < REBOOT_WINDOW_MS);
          if (times.length >= REBOOT_LIMIT) {
            this.reboots.delete(e.name);
            const why = `rebooted ${REBOOT_LIMIT} times in ${REBOOT_WINDOW_MS / 1000} s; halted (zoneadm boot to try again)`;
            await this.platform.halt(e.name, why);
            writeHaltNote(this.paths, e.name, why);
            this.log(`zone '${e.name}': ${why}`);
            return;
          }
          this.reboots.set(e.name, [...times, now]);
          await this.platform.halt(e.name, "its init rebooted the zone");
          await this.platform.boot(e.name);
        } else {
          const why = !reaped ? "its init is gone" : signal !== 0 ? `its init ended on signal ${signal}` : `its init exited with status ${(status >> 8) & 0xff}`;
          await this.platform.halt(e.name, why);
        }
      }).catch((err: Error) => this.log(`zone '${e.name}': ${err.message}`));
    }
    this.lxcfs.check();
    const orphans = this.reaper.sweep();
    if (orphans > 0) this.log(`zoneadmd ${process.pid}: reaped ${orphans} orphaned process${orphans === 1 ? "" : "es"}`);
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

  private serve(c: net.Socket): void {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return;
      c.off("data", onData);
      let req: Request;
      try {
        req = JSON.parse(buf.subarray(0, nl).toString("utf8")) as Request;
      } catch {
        c.end(`${ACCEPTED}\n${JSON.stringify({ ok: false, error: "malformed request" })}\n`);
        return;
      }
      if (req.op === "console") return this.attachConsole(c, req, buf.subarray(nl + 1));
      this.serveOperation(c, req);
    };
    c.on("data", onData);
    c.on("error", () => undefined);
  }

  /**
   * The daemon says "accepted" and starts the operation only on the client's "go": a
   * client that gave up meanwhile (the daemon was stopped while it waited) sends none,
   * so nothing runs behind its back. Once started, an operation runs to its end even if
   * the client leaves (dropped midway it would leave a zone half-done); its outcome is
   * then logged.
   */
  private serveOperation(c: net.Socket, req: Request): void {
    const what = `${req.zone ? `zone '${req.zone}': ` : ""}${req.op}`;
    let left = false;
    let started = false;
    c.on("close", () => {
      left = true;
      if (!started && req.op !== "ping") this.log(`${what}: not started: its client left before it said go`);
    });
    const onGo = (d: Buffer): void => {
      if (!d.includes(0x0a) || started) return;
      started = true;
      c.off("data", onGo);
      // Progress lines (an image build) go before the reply, each a {"progress"} line (client.ts).
      const progress = (line: string): void => void (left || c.write(JSON.stringify({ progress: line }) + "\n"));
      void this.handle(req, progress).then((reply) => {
        if (left && req.op !== "ping") this.log(`${what}: finished after its client left: ${reply.ok ? "ok" : reply.error}`);
        if (!left) c.end(JSON.stringify(reply) + "\n");
      });
    };
    c.on("data", onGo);
    c.write(ACCEPTED + "\n");
  }

  /** zlogin -C: from installed on, the connection carries the console both ways. */
  private attachConsole(c: net.Socket, req: Request, rest: Buffer): void {
    const zone = req.zone ?? "";
    const e = (() => {
      try {
        checkZoneName(zone);
        return this.platform.repo.find(zone);
      } catch {
        return undefined;
      }
    })();
    if (!e) return void c.end(JSON.stringify({ ok: false, error: "no such zone configured" }) + "\n");
    if (e.state === "configured" || e.state === "incomplete") return void c.end(JSON.stringify({ ok: false, error: `zone is ${e.state}; its console exists from installed on` }) + "\n");
    this.consoles.attach(zone, c, req.detachOnHalt === true, rest);
  }

  /** zoneadm web (root's: admins.ts names no user for it): a one-time login URL on 127.0.0.1. */
  private async webLogin(): Promise<Reply> {
    try {
      if (!this.tcp) return { ok: false, error: "zoneadmd is still starting; try again" };
      return { ok: true, url: await this.tcp.web() };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  /** What the daemon holds now, after a full garbage collection where node allows one (--expose-gc). */
  private stats(): DaemonStats {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, fds: fs.readdirSync("/proc/self/fd").length, zombies: this.reaper.zombies(), inits: this.reaper.watched };
  }

  /** The index's zones, or none while it cannot be read (reconcile has logged why). */
  private readable(): IndexEntry[] {
    try {
      return this.platform.repo.list();
    } catch {
      return [];
    }
  }

  /** After a restart: take each running zone's console back from its holder process. */
  private recoverConsoles(): void {
    for (const e of this.readable()) {
      if (e.state !== "ready" && e.state !== "running") continue;
      const run = this.platform.readRun(e.name);
      if (!run?.consoleHolder || !alive(run.consoleHolder)) continue;
      try {
        this.consoles.opened(e.name, fdOfProcess(run.consoleHolder, HOLDER_FD));
      } catch (err) {
        this.log(`zone '${e.name}': console not recovered: ${(err as Error).message}`);
      }
    }
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
}
