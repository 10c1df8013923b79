/**
 * The inter-zone channel broker (the patent's Fig. 3I: inter-zone IPC only through the
 * global zone). zoneadmd listens on one UNIX socket per running zone, in a host
 * directory bind-mounted at /run/zones in that zone, and on one for the global zone.
 * The wire protocol is docs/channel-protocol.md.
 *
 * Who is calling is never read from a message: the socket a connection arrived on
 * names the zone, and the kernel's SO_PEERCRED (pid, host uid, host gid) must agree
 * with it — the uid inside the zone's uid slot, the pid inside the zone's cgroup.
 * A permitted call gets a socketpair whose ends go to the server and to the caller
 * with SCM_RIGHTS: the broker is not in the data path, so established channels
 * survive a zoneadmd restart. Event channels are per zone; only the global zone
 * (zoneadmd's "post" operation) posts into another zone's channel.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import type { ZoneConfig } from "../document/model.js";
import type { ZonePaths } from "../document/store/paths.js";
import type { Repository } from "../document/store/repository.js";
import { SERVICE_NAME } from "../document/resources.js";
import { readRun, zoneRunDir } from "../document/store/runstate.js";
import { SLOT_SIZE, type SlotRegistry } from "../platform/slots.js";
import type { LogFn } from "./log.js";
import { inCgroup, peerCred, rawFd, sendWithFd, socketPair, zonePid, type PeerCred } from "./peers.js";

/** Concurrent broker connections one zone may hold (registrations and subscriptions included). */
export const MAX_CONNS_PER_ZONE = 64;
/** Longest request line, newline included. */
export const MAX_LINE = 1024;
/** Largest event payload. */
export const MAX_EVENT = 65536;
/** A connection that has not sent a whole request by then is closed. */
const REQUEST_TIMEOUT_MS = 10_000;
export const GLOBAL = "global";

export function brokerSocket(dir: string): string {
  return path.join(dir, "broker.sock");
}

/** The host directory mounted at /run/zones in the zone (made by Platform.ready). */
export function zoneBrokerDir(paths: ZonePaths, zone: string): string {
  return path.join(zoneRunDir(paths, zone), "broker");
}

/** What the server of a channel learns about its caller: all from the kernel. */
export interface CallerCred {
  zone: string;
  zoneId: number;
  /** uid and gid inside the caller's zone. */
  uid: number;
  gid: number;
  /** pid as the caller's zone sees it. */
  pid: number;
}

type Mode = "new" | "offer" | "sub" | "pub" | "done";

interface Conn {
  sock: net.Socket;
  fd: number;
  ep: Endpoint;
  cred: CallerCred;
  mode: Mode;
  buf: Buffer;
  service?: string;
  channel?: string;
  timer?: NodeJS.Timeout;
}

interface Endpoint {
  zone: string;
  zoneId: number;
  /** host uid of the zone's uid 0; 0 for the global zone. */
  base: number;
  /** the zone's cgroup path; "" for the global zone. */
  cgroup: string;
  /** service name -> zones that may call it (from the zone's configuration at ready). */
  services: Map<string, Set<string>>;
  server: net.Server;
  socketPath: string;
  conns: Set<Conn>;
  offers: Map<string, Conn[]>;
  subs: Map<string, Set<Conn>>;
}

export class Broker {
  private readonly endpoints = new Map<string, Endpoint>();

  constructor(
    private readonly paths: ZonePaths,
    private readonly repo: Repository,
    private readonly slots: SlotRegistry,
    /** Lines a zone's requests cause name that zone: the log limits each zone's share (log.ts). */
    private readonly log: LogFn,
  ) {}

  /** The global zone's endpoint, and every ready or running zone's (after a restart). */
  start(): void {
    this.listen(GLOBAL, brokerSocket(this.paths.runDir), 0o666);
    for (const e of this.repo.list()) if (e.state === "ready" || e.state === "running") this.open(e.name);
  }

  stop(): void {
    for (const zone of [...this.endpoints.keys()]) this.close(zone);
  }

  /** Open connections over every endpoint (metrics.ts). */
  connections(): number {
    let n = 0;
    for (const ep of this.endpoints.values()) n += ep.conns.size;
    return n;
  }

  /** Listen for `zone` (its platform is ready: run state and endpoint directory exist). */
  open(zone: string): void {
    const dir = zoneBrokerDir(this.paths, zone);
    if (!fs.existsSync(dir)) return this.log(`zone '${zone}': no broker endpoint directory ${dir}`);
    try {
      this.listen(zone, brokerSocket(dir), 0o666);
    } catch (e) {
      this.log(`zone '${zone}': broker endpoint not opened: ${(e as Error).message}`);
    }
  }

  /** The zone halted: stop serving it (its processes, and so their connections, are gone). */
  close(zone: string): void {
    const ep = this.endpoints.get(zone);
    if (!ep) return;
    this.endpoints.delete(zone);
    ep.server.close();
    for (const c of ep.conns) c.sock.destroy();
    fs.rmSync(ep.socketPath, { force: true });
  }

  /** The global zone posts `data` into `zone`'s event channel; returns how many got it. */
  post(zone: string, channel: string, data: Buffer): number {
    if (!SERVICE_NAME.test(channel)) throw new ZoneError(`invalid channel name ${q(channel)}: 1-64 characters of [A-Za-z0-9_.-]`);
    if (data.length > MAX_EVENT) throw new ZoneError(`event for channel ${q(channel)} is larger than ${MAX_EVENT} bytes`);
    const ep = this.endpoints.get(zone);
    if (!ep) throw new ZoneError(`zone '${zone}' is not running: it has no event channels`);
    return this.deliver(ep, channel, GLOBAL, data);
  }

  private listen(zone: string, socketPath: string, mode: number): void {
    this.close(zone);
    let ep: Endpoint;
    if (zone === GLOBAL) ep = this.endpoint(GLOBAL, 0, 0, "", new Map(), socketPath);
    else {
      const run = readRun(this.paths, zone);
      if (!run) throw new ZoneError(`zone '${zone}' has no run state`);
      const e = this.repo.find(zone);
      const slot = e ? this.slots.find(e.uuid, this.paths.configDir) : undefined;
      if (!slot) throw new ZoneError(`zone '${zone}' has no uid slot`);
      const z: ZoneConfig = this.repo.load(zone);
      const services = new Map(z.service.map((v) => [v.name, new Set(v.caller)]));
      ep = this.endpoint(zone, run.id, slot.slot * SLOT_SIZE, `/${this.paths.hostPrefix}/${zone}`, services, socketPath);
    }
    fs.rmSync(socketPath, { force: true });
    // pauseOnConnect: the credentials are checked before a byte is read.
    ep.server.listen(socketPath, () => fs.chmodSync(socketPath, mode));
    ep.server.on("error", (e) => this.log(`zone '${zone}': broker endpoint ${socketPath}: ${e.message}`));
    this.endpoints.set(zone, ep);
  }

  private endpoint(zone: string, zoneId: number, base: number, cgroup: string, services: Map<string, Set<string>>, socketPath: string): Endpoint {
    const ep: Endpoint = {
      zone,
      zoneId,
      base,
      cgroup,
      services,
      socketPath,
      conns: new Set(),
      offers: new Map(),
      subs: new Map(),
      server: net.createServer({ pauseOnConnect: true }, (s) => this.accept(ep, s)),
    };
    return ep;
  }

  private accept(ep: Endpoint, sock: net.Socket): void {
    sock.on("error", () => undefined);
    const fd = rawFd(sock);
    const refuse = (why: string): void => {
      sendWithFd(fd, Buffer.from(`ERR ${why}\n`));
      sock.destroy();
    };
    if (ep.conns.size >= MAX_CONNS_PER_ZONE) return refuse(`zone '${ep.zone}': too many broker connections (limit ${MAX_CONNS_PER_ZONE})`);
    let cred: CallerCred;
    try {
      cred = this.identify(ep, peerCred(fd));
    } catch (e) {
      this.log(`broker: zone '${ep.zone}': connection refused: ${(e as Error).message}`, { zone: ep.zone, kind: "broker connection refused" });
      return refuse((e as Error).message);
    }
    const c: Conn = { sock, fd, ep, cred, mode: "new", buf: Buffer.alloc(0) };
    ep.conns.add(c);
    c.timer = setTimeout(() => this.fail(c, "no complete request in time"), REQUEST_TIMEOUT_MS);
    sock.on("close", () => this.forget(c));
    sock.on("data", (d: Buffer) => this.data(c, d));
    sock.resume();
  }

  /** The caller's identity from the kernel, checked against the endpoint it came in on. */
  private identify(ep: Endpoint, p: PeerCred): CallerCred {
    if (ep.zone === GLOBAL) return { zone: GLOBAL, zoneId: 0, uid: p.uid, gid: p.gid, pid: p.pid };
    const inSlot = (id: number): boolean => id >= ep.base && id < ep.base + SLOT_SIZE;
    let ok = inSlot(p.uid) && inSlot(p.gid);
    let pid = p.pid;
    try {
      ok = ok && inCgroup(p.pid, ep.cgroup);
      pid = zonePid(p.pid);
    } catch {
      ok = false;
    }
    if (!ok) throw new ZoneError(`caller's credentials (pid ${p.pid}, uid ${p.uid}) do not belong to zone '${ep.zone}'`);
    return { zone: ep.zone, zoneId: ep.zoneId, uid: p.uid - ep.base, gid: p.gid - ep.base, pid };
  }

  private forget(c: Conn): void {
    clearTimeout(c.timer);
    c.ep.conns.delete(c);
    if (c.mode === "offer" && c.service) {
      const list = c.ep.offers.get(c.service)?.filter((x) => x !== c) ?? [];
      if (list.length > 0) c.ep.offers.set(c.service, list);
      else c.ep.offers.delete(c.service);
    }
    if (c.mode === "sub" && c.channel) c.ep.subs.get(c.channel)?.delete(c);
  }

  /** A protocol error: tell the peer in one line and close only this connection. */
  private fail(c: Conn, why: string): void {
    if (c.sock.destroyed) return;
    if (c.mode === "sub") c.sock.end(`ERR ${why}\n`);
    else {
      sendWithFd(c.fd, Buffer.from(`ERR ${why}\n`));
      c.sock.destroy();
    }
    c.mode = "done";
  }

  private reply(c: Conn, line: string, passFd?: number): boolean {
    return sendWithFd(c.fd, Buffer.from(line + "\n"), passFd);
  }

  private data(c: Conn, d: Buffer): void {
    if (c.mode === "done") return;
    if (c.mode === "offer" || c.mode === "sub") return this.fail(c, "malformed request: nothing may follow OFFER or SUB on its connection");
    c.buf = c.buf.length === 0 ? d : Buffer.concat([c.buf, d]);
    for (;;) {
      // (methods called below change c.mode: read it afresh)
      if ((c.mode as Mode) === "done" || c.sock.destroyed) return;
      const nl = c.buf.indexOf(0x0a);
      if (nl < 0) {
        if (c.buf.length >= MAX_LINE) this.fail(c, `malformed request: line longer than ${MAX_LINE} bytes`);
        return;
      }
      if (nl + 1 > MAX_LINE) return this.fail(c, `malformed request: line longer than ${MAX_LINE} bytes`);
      const line = c.buf.subarray(0, nl).toString("latin1");
      const words = line.split(" ");
      if (words[0] === "PUB") {
        // PUB <channel> <length>\n<length bytes>
        const n = Number(words[2]);
        if (words.length !== 3 || !SERVICE_NAME.test(words[1] ?? "") || !/^[0-9]{1,6}$/.test(words[2] ?? "") || n > MAX_EVENT)
          return this.fail(c, `malformed request: expected PUB <channel> <length up to ${MAX_EVENT}>: ${q(line.slice(0, 80))}`);
        if (c.buf.length < nl + 1 + n) return; // the payload is still coming
        const payload = Buffer.from(c.buf.subarray(nl + 1, nl + 1 + n));
        c.buf = c.buf.subarray(nl + 1 + n);
        c.mode = "pub";
        clearTimeout(c.timer);
        const delivered = this.deliver(c.ep, words[1]!, c.cred.zone, payload);
        if (!this.reply(c, `OK ${delivered}`)) return this.fail(c, "peer is not reading");
        continue;
      }
      c.buf = c.buf.subarray(nl + 1);
      if (c.mode === "pub") return this.fail(c, "malformed request: only PUB may follow PUB on a connection");
      this.request(c, words, line);
      const now = c.mode as Mode;
      if ((now === "offer" || now === "sub") && c.buf.length > 0) this.fail(c, "malformed request: nothing may follow OFFER or SUB on its connection");
      return;
    }
  }

  private request(c: Conn, words: string[], line: string): void {
    clearTimeout(c.timer);
    const bad = (): void => this.fail(c, `malformed request: ${q(line.slice(0, 80))}`);
    if (!/^[\x20-\x7e]*$/.test(line)) return this.fail(c, "malformed request: not printable ASCII");
    switch (words[0]) {
      case "OFFER": {
        if (words.length !== 2 || !SERVICE_NAME.test(words[1]!)) return bad();
        const name = words[1]!;
        c.mode = "offer";
        c.service = name;
        c.ep.offers.set(name, [...(c.ep.offers.get(name) ?? []), c]);
        if (!this.reply(c, "OK")) c.sock.destroy();
        this.log(`broker: zone '${c.ep.zone}' offers service ${q(name)} (pid ${c.cred.pid})`, { zone: c.ep.zone, kind: "broker offer" });
        return;
      }
      case "SUB": {
        if (words.length !== 2 || !SERVICE_NAME.test(words[1]!)) return bad();
        c.mode = "sub";
        c.channel = words[1]!;
        const set = c.ep.subs.get(c.channel) ?? new Set<Conn>();
        set.add(c);
        c.ep.subs.set(c.channel, set);
        if (!this.reply(c, "OK")) c.sock.destroy();
        return;
      }
      case "CALL": {
        if (words.length !== 3 || !SERVICE_NAME.test(words[1]!) || !SERVICE_NAME.test(words[2]!)) return bad();
        return this.call(c, words[1]!, words[2]!);
      }
      default:
        return bad();
    }
  }

  /** Check the target zone's policy, then hand each side one end of a fresh socketpair. */
  private call(c: Conn, zone: string, service: string): void {
    c.mode = "done";
    const deny = (why: string): void => {
      this.reply(c, `ERR ${why}`);
      c.sock.destroy();
    };
    const from = c.cred.zone;
    const target = this.endpoints.get(zone);
    // The global zone's own services (no configuration) take calls from the global zone only.
    if (!target) return deny(`service ${q(service)} of zone '${zone}' is not available: the zone is not running`);
    const allowed = from === GLOBAL || from === zone || target.services.get(service)?.has(from) === true;
    if (!allowed) {
      this.log(`broker: refused: zone '${from}' (pid ${c.cred.pid}) may not call service ${q(service)} of zone '${zone}'`, { zone: from, kind: "broker call refused" });
      return deny(`zone '${from}' may not call service ${q(service)} of zone '${zone}'`);
    }
    const cr = c.cred;
    const note = Buffer.from(`CALL ${service} ${cr.zone} ${cr.zoneId} ${cr.uid} ${cr.gid} ${cr.pid}\n`);
    for (;;) {
      const offers = target.offers.get(service) ?? [];
      const server = offers[0];
      if (!server) return deny(`service ${q(service)} of zone '${zone}' is not offered`);
      // Round robin among the registrations of one service.
      target.offers.set(service, [...offers.slice(1), server]);
      const [mine, theirs] = socketPair();
      try {
        if (!sendWithFd(server.fd, note, theirs)) {
          // That server is gone or not reading: drop it and try the next one.
          server.sock.destroy();
          this.forget(server);
          continue;
        }
        this.reply(c, `OK ${zone} ${target.zoneId}`, mine);
        c.sock.end();
        return;
      } finally {
        fs.closeSync(mine);
        fs.closeSync(theirs);
      }
    }
  }

  private deliver(ep: Endpoint, channel: string, from: string, payload: Buffer): number {
    let n = 0;
    const head = Buffer.from(`EVENT ${channel} ${from} ${payload.length}\n`);
    for (const s of ep.subs.get(channel) ?? []) {
      // A subscriber that lets a megabyte pile up is not reading: drop it, not the broker.
      if (s.sock.writableLength > 1 << 20) {
        s.sock.destroy();
        continue;
      }
      s.sock.write(Buffer.concat([head, payload]));
      n++;
    }
    return n;
  }
}
