/**
 * The API over TCP: TLS only (a client speaking plain HTTP fails the handshake and is
 * dropped), every request and WebSocket upgrade authenticated (tcpauth.ts) before the
 * API's own handler sees it, with the caller that authentication found. The web
 * console's one-time login (`/?token=…`, weblogin.ts) is traded here for a cookie.
 */
import * as https from "node:https";
import type * as http from "node:http";
import type * as net from "node:net";
import type { Duplex } from "node:stream";
import { ZoneError, q } from "../../native/errors.js";
import type { LogFn } from "../log.js";
import type { AuthResult, Authenticator, Caller } from "./tcpauth.js";
import type { KeyPair } from "./tlscert.js";
import { urlHost, type ListenAddress } from "./tcpsettings.js";
import { WebLogins } from "./weblogin.js";

/** What serves a request once its caller is known: the API's server (http.ts), the same for the UNIX socket. */
export interface ApiEntry {
  serve(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller): void;
  upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, caller: Caller): void;
}

/** How long a failed authentication waits before its answer (a guesser's round trip gets longer). */
export const FAILURE_DELAY_MS = 250;
const MAX_CONNECTIONS = 1024;
/** Open connections from one source address, before any authentication: one host cannot crowd the others out. */
export const MAX_PER_ADDRESS = 64;

export interface TcpListenerOptions {
  listen: ListenAddress;
  pair: KeyPair;
  /** PEM of the CA whose client certificates are accepted (api-client-ca). */
  clientCa?: Buffer;
  /** Ask for a client certificate (a CA or pinned fingerprints are configured). */
  requestCert: boolean;
  auth: Authenticator;
  api: ApiEntry;
  log: LogFn;
}

/** The error envelope (the API's, as Incus has it). */
function errorBody(code: number, error: string): string {
  return JSON.stringify({ type: "error", status: "", status_code: 0, operation: "", error_code: code, error, metadata: null });
}

function refusalHeaders(r: Exclude<AuthResult, { caller: Caller }>): Record<string, string> {
  const h: Record<string, string> = { "content-type": "application/json" };
  if (r.status === 401) h["www-authenticate"] = 'Bearer realm="zoneadmd"';
  if (r.retryAfter !== undefined) h["retry-after"] = String(r.retryAfter);
  return h;
}

export class TcpListener {
  private constructor(
    private readonly server: https.Server,
    readonly address: ListenAddress,
  ) {}

  /** https://host:port (for messages and `zoneadm web`). */
  get url(): string {
    return `https://${urlHost(this.address.host)}:${this.address.port}`;
  }

  static async start(o: TcpListenerOptions): Promise<TcpListener> {
    const server = https.createServer({
      cert: o.pair.cert,
      key: o.pair.key,
      minVersion: "TLSv1.2",
      // A certificate is asked for only when a CA says which to trust; an untrusted one
      // is not a handshake failure, so the answer can be a 401 that says why.
      requestCert: o.requestCert,
      rejectUnauthorized: false,
      ...(o.clientCa !== undefined ? { ca: o.clientCa } : {}),
    });
    server.maxConnections = MAX_CONNECTIONS;
    const open = new Map<string, number>();
    server.on("connection", (s: net.Socket) => {
      const addr = s.remoteAddress ?? "unknown";
      const n = open.get(addr) ?? 0;
      if (n >= MAX_PER_ADDRESS) return void s.destroy();
      open.set(addr, n + 1);
      s.once("close", () => {
        const left = (open.get(addr) ?? 1) - 1;
        if (left > 0) open.set(addr, left);
        else open.delete(addr);
      });
    });
    server.headersTimeout = 10_000;
    // As on the UNIX socket (http.ts): a slow client holds no socket for long.
    server.requestTimeout = 30_000;
    const penalize = (r: AuthResult, fn: () => void): void => {
      if ("caller" in r || r.status !== 401 || r.error.startsWith("authentication required")) fn();
      else setTimeout(fn, FAILURE_DELAY_MS).unref();
    };
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const r = TcpListener.login(o.auth, req, res) ?? o.auth.authenticate(req);
      if (r === "answered") return;
      if ("caller" in r) return o.api.serve(req, res, r.caller);
      penalize(r, () => {
        if (res.destroyed) return;
        res.writeHead(r.status, refusalHeaders(r)).end(errorBody(r.status, r.error));
      });
    });
    server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => undefined);
      const r = o.auth.authenticate(req);
      // An https server's upgrade socket is its TLSSocket, a net.Socket.
      if ("caller" in r) return o.api.upgrade(req, socket as net.Socket, head, r.caller);
      penalize(r, () => {
        const body = errorBody(r.status, r.error);
        const headers = Object.entries({ ...refusalHeaders(r), "content-length": String(Buffer.byteLength(body)), connection: "close" }).map(([k, v]) => `${k}: ${v}\r\n`);
        socket.end(`HTTP/1.1 ${r.status} ${r.status === 401 ? "Unauthorized" : "Too Many Requests"}\r\n${headers.join("")}\r\n${body}`);
      });
    });
    // A client that is not speaking TLS (or gave up mid-handshake) is dropped; nothing to answer.
    server.on("tlsClientError", (_e: Error, s: net.Socket) => s.destroy());
    server.on("clientError", (_e: Error, s: Duplex) => s.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) => reject(new ZoneError(`cannot listen for the API on ${q(`${o.listen.host}:${o.listen.port}`)}: ${e.code ?? e.message}`)));
      server.listen(o.listen.port, o.listen.host, () => resolve());
    });
    server.on("error", (e: Error) => o.log(`API over TCP: ${e.message}`));
    const a = server.address() as net.AddressInfo;
    return new TcpListener(server, { host: a.address, port: a.port });
  }

  /**
   * `/…?token=SECRET`: trade zoneadm web's one-time secret for a session cookie, then
   * send the browser to the same path without the secret (no history or Referer keeps it).
   */
  private static login(auth: Authenticator, req: http.IncomingMessage, res: http.ServerResponse): "answered" | AuthResult | undefined {
    const url = new URL(req.url ?? "/", "https://zoneadmd");
    const secret = url.searchParams.get("token");
    if (secret === null || req.method !== "GET") return undefined;
    const limited = auth.limited(req);
    if (limited) return limited;
    const session = auth.web.redeem(secret);
    if (session === undefined) return auth.failed(req, "unknown, used or expired login token");
    url.searchParams.delete("token");
    res.writeHead(303, { location: url.pathname + url.search, "set-cookie": WebLogins.cookie(session), "cache-control": "no-store", "content-length": "0" }).end();
    return "answered";
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
