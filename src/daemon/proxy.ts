/**
 * The zones' package proxy (Solaris 11's system-repository proxy): zones reach the
 * package archives only through the global zone, which fetches from the archives its
 * own apt uses (platform/archives.ts) and nothing else. A zone talks plain HTTP to it,
 * either as to a mirror (GET /debian/dists/...) or as to a proxy (GET
 * http://deb.debian.org/debian/dists/...); https archives are fetched over TLS by the
 * proxy itself.
 *
 * It listens on the global zone's address on each zone bridge (a zone's default
 * router), and only there: each listener is opened when a zone's network brings the
 * address up and closed when the last zone using it goes (sync), and answers only peers
 * in that bridge's subnet, so the host's other networks never reach it, even by routing
 * to the bridge address. It is no open relay: GET and HEAD only, no CONNECT, only paths
 * under an allowed archive (no "..", no query), request headers bounded, timeouts on
 * both sides, a bound on upstream fetches at once and on connections; every refusal is
 * one line naming what is allowed. Zone-written text reaches the log only through
 * ZoneLog (escaped, rate-limited per zone). Packages fetched are kept (proxycache.ts).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as path from "node:path";
import type { ZonePaths } from "../document/store/paths.js";
import { hostSources, proxySettings, type Archive, type HostSources, type ProxySettings } from "../platform/archives.js";
import { SETTINGS_FILE } from "../platform/reserve.js";
import { inSubnet } from "../platform/network/plan.js";
import { printable } from "../native/printable.js";
import type { LogFn } from "./log.js";
import { DebCache } from "./proxycache.js";

/** Request line and headers together, in bytes. */
export const MAX_HEADER = 8192;
const HEADERS_TIMEOUT_MS = 10_000;
const UPSTREAM_TIMEOUT_MS = 30_000;
const MAX_CONNECTIONS = 64;
const MAX_PER_PEER = 16;
const IDLE_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 3;
/** Request headers passed to the archive: what apt's conditional and resumed fetches need. */
const PASS_UP = ["if-modified-since", "if-none-match", "range", "if-range", "accept"];
/** Response headers passed to the zone. */
const PASS_DOWN = ["content-type", "content-length", "content-range", "last-modified", "etag", "accept-ranges", "date", "expires", "cache-control"];

interface Listener {
  /** The global zone's address on the bridge, as CIDR. */
  cidr: string;
  server: http.Server;
}

/** What a zone's request asks for, once checked: the archive and the path under it. */
interface Target {
  archive: Archive;
  rest: string;
}

/** A refusal or failure: its status and one line. */
class Refusal {
  constructor(
    readonly status: number,
    readonly line: string,
  ) {}
}

/** Zone-given text shown in a reply or the log: escaped and cut short. */
function shown(s: string): string {
  const p = printable(s);
  return JSON.stringify(p.length > 200 ? `${p.slice(0, 200)}...` : p);
}

/**
 * A path below an archive, checked: only the characters apt's URIs use, no query or
 * fragment, and no segment that is "." or ".." (also percent-encoded) or that hides a
 * slash, backslash or NUL.
 */
function checkPath(p: string): string | undefined {
  if (!/^\/[A-Za-z0-9._~+\-/%:@=,]*$/.test(p)) return undefined;
  for (const seg of p.split("/")) {
    let d: string;
    try {
      d = decodeURIComponent(seg);
    } catch {
      return undefined;
    }
    if (d === "." || d === ".." || /[/\\\0]/.test(d)) return undefined;
  }
  return p;
}

export class PackageProxy {
  private readonly listeners = new Map<string, Listener>();
  private settings: ProxySettings = { enabled: false, only: true, port: 0, fetches: 0, cache: "", cacheSize: 0 };
  private cache = new DebCache("", 0);
  private sources: HostSources = { archives: [], entries: [] };
  private fetching = 0;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    readonly paths: ZonePaths,
    private readonly log: LogFn,
    /** The zone that has `address` (for the log's rate limit), if any. */
    private readonly zoneOf: (address: string) => string | undefined = () => undefined,
  ) {}

  /** The addresses it listens on now (CIDR). */
  get addresses(): string[] {
    return [...this.listeners.keys()];
  }

  get port(): number {
    return this.settings.port;
  }

  /** What the refusals name as allowed. */
  allowed(): string {
    if (this.sources.archives.length === 0) return "no archive (the host's apt sources name no http or https archive)";
    return this.sources.archives.map((a) => `${a.mount} (${this.settings.mirror ? `file://${this.settings.mirror}${a.mount}` : `${a.scheme}://${a.host}${a.path}`})`).join(", ");
  }

  /**
   * Listen on exactly the global zone's bridge addresses `cidrs` (network.ts
   * globalAddresses): open what is new, close what is gone. The settings and the host's
   * sources are read again each time, so a change takes effect at the next zone boot.
   * Never throws: a listener that cannot open is logged, and the zone boots without it.
   */
  sync(cidrs: readonly string[]): Promise<void> {
    const next = this.lock.then(() => this.syncLocked(cidrs));
    this.lock = next.catch(() => undefined);
    return next;
  }

  private async syncLocked(cidrs: readonly string[]): Promise<void> {
    const before = `${this.settings.enabled}/${this.settings.port}`;
    try {
      this.settings = proxySettings(path.join(this.paths.configDir, SETTINGS_FILE));
      this.sources = hostSources();
      this.cache = new DebCache(this.settings.cache, this.settings.cache === "" ? 0 : this.settings.cacheSize);
    } catch (e) {
      this.log(`package proxy: settings not read, keeping the last ones: ${(e as Error).message}`);
    }
    // A changed port or proxy=off: every listener opens again (or not at all).
    const want = new Set(this.settings.enabled ? cidrs.filter((c) => net.isIP(c.split("/")[0]!) !== 0) : []);
    for (const [cidr, l] of this.listeners)
      if (!want.has(cidr) || before !== `${this.settings.enabled}/${this.settings.port}`) {
        this.listeners.delete(cidr);
        const closed = new Promise<void>((r) => l.server.close(() => r()));
        l.server.closeAllConnections();
        await closed;
      }
    for (const cidr of want) {
      if (this.listeners.has(cidr)) continue;
      const server = this.server(cidr);
      const address = cidr.split("/")[0]!;
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen({ host: address, port: this.settings.port, exclusive: true }, () => {
            server.off("error", reject);
            resolve();
          });
        });
        this.listeners.set(cidr, { cidr, server });
        this.log(`package proxy listening on ${address}:${this.settings.port} for ${cidr}; serving ${this.allowed()}`);
      } catch (e) {
        this.log(`package proxy: cannot listen on ${address}:${this.settings.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  }

  /** Close every listener and connection. */
  stop(): void {
    for (const l of this.listeners.values()) {
      l.server.close();
      l.server.closeAllConnections();
    }
    this.listeners.clear();
  }

  private server(cidr: string): http.Server {
    const server = http.createServer({ maxHeaderSize: MAX_HEADER, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: UPSTREAM_TIMEOUT_MS * 2, keepAliveTimeout: 5_000 });
    server.maxConnections = MAX_CONNECTIONS;
    // A client that stops reading (or sending) loses its connection, and with it any fetch slot it held.
    server.setTimeout(IDLE_TIMEOUT_MS);
    const peers = new Map<string, number>();
    server.on("connection", (s: net.Socket) => {
      const peer = s.remoteAddress?.replace(/^::ffff:/, "") ?? "";
      // Only the bridge's own network: anything routed to this address from elsewhere is dropped unanswered.
      if (!inSubnet(peer, cidr)) return void s.destroy();
      // One zone cannot take every connection of a bridge its neighbours share.
      const n = peers.get(peer) ?? 0;
      if (n >= MAX_PER_PEER) return void s.end(raw(503, `zones package proxy: ${MAX_PER_PEER} connections from ${peer} already; try again`));
      peers.set(peer, n + 1);
      s.on("close", () => {
        const left = (peers.get(peer) ?? 1) - 1;
        if (left > 0) peers.set(peer, left);
        else peers.delete(peer);
      });
    });
    server.on("request", (req, res) => void this.serve(req, res));
    // CONNECT would make it a tunnel to anywhere.
    server.on("connect", (req: http.IncomingMessage, s: net.Socket) => {
      this.refuse(s.remoteAddress, `CONNECT ${req.url ?? ""}`, "tunnel");
      s.end(raw(405, `zones package proxy: CONNECT is refused; only GET and HEAD of ${this.allowed()}`));
    });
    server.on("clientError", (err: NodeJS.ErrnoException, s: net.Socket) => {
      if (!s.writable) return void s.destroy();
      const big = err.code === "HPE_HEADER_OVERFLOW";
      if (big) this.refuse(s.remoteAddress, "(request headers)", "huge");
      s.end(big ? raw(431, `zones package proxy: request headers over ${MAX_HEADER} bytes are refused`) : raw(400, "zones package proxy: malformed request"));
    });
    return server;
  }

  private refuse(remote: string | undefined, what: string, kind: string): void {
    const addr = (remote ?? "").replace(/^::ffff:/, "");
    const zone = this.zoneOf(addr);
    this.log(`package proxy: refused ${shown(what)} from ${addr}${zone ? ` (zone '${zone}')` : ""}`, { zone: zone ?? addr, kind: `proxy-${kind}` });
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? "";
    try {
      if (req.method !== "GET" && req.method !== "HEAD") throw new Refusal(405, `zones package proxy: method ${shown(req.method ?? "")} is refused; only GET and HEAD of ${this.allowed()}`);
      if ((req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0") || req.headers["transfer-encoding"] !== undefined) throw new Refusal(400, "zones package proxy: a request with a body is refused");
      const t = this.target(url);
      if (this.settings.mirror) return this.serveFile(t, req, res);
      // A package kept from an earlier fetch; a range is answered whole (HTTP allows it).
      const entry = this.cache.entry(t.archive, t.rest);
      if (entry && this.cache.serve(entry, req, res)) return;
      if (this.fetching >= this.settings.fetches) throw new Refusal(503, `zones package proxy: ${this.settings.fetches} fetch${this.settings.fetches === 1 ? "" : "es"} already under way; try again`);
      this.fetching++;
      try {
        await this.fetch(t, req, res, entry);
      } finally {
        this.fetching--;
      }
    } catch (e) {
      const r = e instanceof Refusal ? e : new Refusal(502, `zones package proxy: ${(e as Error).message}`);
      if (r.status === 403 || r.status === 405) this.refuse(req.socket.remoteAddress, `${req.method ?? ""} ${url}`, "path");
      if (res.headersSent) return void res.destroy();
      res.writeHead(r.status, { "content-type": "text/plain; charset=utf-8", connection: "close", ...(r.status === 503 ? { "retry-after": "5" } : {}) });
      res.end(`${r.line}\n`);
    }
  }

  /** The archive and path a request names, or the 403 that names what is allowed. */
  private target(url: string): Target {
    const refused = (): Refusal => new Refusal(403, `zones package proxy serves only the host's archives: ${this.allowed()}; refused ${shown(url)}`);
    let host: string | undefined;
    let p = url;
    if (!url.startsWith("/")) {
      // Proxy form: http://host/path (apt with Acquire::http::Proxy).
      const m = /^http:\/\/([A-Za-z0-9.\-[\]:]+)(\/.*)?$/i.exec(url);
      if (!m) throw refused();
      host = m[1]!.toLowerCase();
      p = m[2] ?? "/";
      // Asked as a proxy for itself: the mirror form.
      if (this.addresses.some((c) => host === `${c.split("/")[0]!}:${this.settings.port}`)) host = undefined;
    }
    const checked = checkPath(p);
    if (checked === undefined) throw refused();
    for (const a of this.sources.archives) {
      const prefix = host === undefined ? a.mount : a.path;
      if (host !== undefined && host !== a.host) continue;
      if (checked === prefix || checked.startsWith(`${prefix}/`)) return { archive: a, rest: checked.slice(prefix.length) };
    }
    throw refused();
  }

  /** Fetch from the archive and stream the answer; redirects are followed only within the archives. */
  private fetch(t: Target, req: http.IncomingMessage, res: http.ServerResponse, entry: string | undefined, hops = 0): Promise<void> {
    const a = t.archive;
    const headers: Record<string, string> = { "user-agent": "zones-package-proxy" };
    for (const h of PASS_UP) {
      const v = req.headers[h];
      if (typeof v === "string") headers[h] = v;
    }
    const [hostname, port] = a.host.split(":") as [string, string | undefined];
    const mod = a.scheme === "https" ? https : http;
    return new Promise<void>((resolve, reject) => {
      // The client may leave at any moment, before the archive answers too: the fetch
      // (and its slot) ends with it, never left waiting on a response nobody reads.
      const gone = (): void => {
        up.destroy();
        resolve();
      };
      const up = mod.request({ hostname, port: port ? Number(port) : undefined, path: `${a.path}${t.rest || "/"}`, method: req.method, headers, timeout: UPSTREAM_TIMEOUT_MS }, (ur) => {
        const status = ur.statusCode ?? 502;
        if (status >= 300 && status < 400 && status !== 304 && ur.headers.location) {
          ur.resume();
          res.off("close", gone);
          const next = this.redirect(ur.headers.location, a);
          if (!next || hops >= MAX_REDIRECTS) return reject(new Refusal(502, `zones package proxy: ${a.scheme}://${a.host}${a.path} redirected outside the allowed archives: ${shown(ur.headers.location)}`));
          return this.fetch(next, req, res, entry, hops + 1).then(resolve, reject);
        }
        const out: Record<string, string> = {};
        for (const h of PASS_DOWN) {
          const v = ur.headers[h];
          if (typeof v === "string") out[h] = v;
        }
        res.writeHead(status, out);
        // Kept only when it is the whole file.
        const keep = entry && status === 200 && req.method === "GET" && !req.headers.range ? this.cache.writer(entry, ur.headers["content-length"] ? Number(ur.headers["content-length"]) : undefined) : undefined;
        if (keep) ur.on("data", (b: Buffer) => keep.chunk(b));
        ur.pipe(res);
        ur.on("end", () => keep?.end());
        ur.on("error", () => res.destroy());
        ur.on("close", () => {
          if (!ur.complete) {
            keep?.abort();
            res.destroy();
          }
          resolve();
        });
      });
      if (res.destroyed || req.socket.destroyed) return gone();
      res.once("close", gone);
      up.on("timeout", () => up.destroy(new Error(`${a.host} did not answer in ${UPSTREAM_TIMEOUT_MS / 1000} s`)));
      up.on("error", (e: NodeJS.ErrnoException) => reject(new Refusal(502, `zones package proxy: cannot fetch from ${a.scheme}://${a.host}${a.path}: ${e.code ?? e.message}`)));
      up.end();
    });
  }

  /** A redirect's target when it is under an allowed archive. */
  private redirect(location: string, from: Archive): Target | undefined {
    let u: URL;
    try {
      u = new URL(location, `${from.scheme}://${from.host}${from.path}/`);
    } catch {
      return undefined;
    }
    const p = u.search === "" ? checkPath(u.pathname) : undefined;
    if (p === undefined) return undefined;
    const a = this.sources.archives.find((x) => `${x.scheme}:` === u.protocol && x.host === u.host.toLowerCase() && (p === x.path || p.startsWith(`${x.path}/`)));
    return a && { archive: a, rest: p.slice(a.path.length) };
  }

  /**
   * Offline (proxy-mirror=file:///dir): the archive mounted at /debian is the directory
   * <dir>/debian, a local mirror's layout; the administrator's tree, read as it is.
   */
  private serveFile(t: Target, req: http.IncomingMessage, res: http.ServerResponse): void {
    const file = path.join(this.settings.mirror!, t.archive.mount, decodeURIComponent(t.rest));
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      throw new Refusal(404, `zones package proxy: no ${shown(t.archive.mount + t.rest)} in the local mirror file://${this.settings.mirror}`);
    }
    if (!st.isFile()) throw new Refusal(404, `zones package proxy: ${shown(t.archive.mount + t.rest)} is not a file in the local mirror`);
    const since = Date.parse(req.headers["if-modified-since"] ?? "");
    if (!Number.isNaN(since) && Math.floor(st.mtimeMs / 1000) <= Math.floor(since / 1000)) {
      res.writeHead(304, { "last-modified": st.mtime.toUTCString() });
      return void res.end();
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(st.size), "last-modified": st.mtime.toUTCString() });
    if (req.method === "HEAD") return void res.end();
    const s = fs.createReadStream(file);
    s.on("error", () => res.destroy());
    s.pipe(res);
  }
}

/** A whole HTTP response for a raw socket (CONNECT, a malformed request). */
function raw(status: number, line: string): string {
  const body = `${line}\n`;
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
