/**
 * The API's HTTP/1.1 server on a UNIX socket: the caller's uid comes from the kernel
 * (SO_PEERCRED) when the connection is accepted, never from the request. Bodies are
 * read up to MAX_BODY, requests must arrive within REQUEST_MS, and every answer is a
 * JSON envelope (envelope.ts) unless the route says otherwise (text, event stream).
 * serve() is the entry for any transport: the TLS listener calls it with its own
 * caller. WebSocket upgrades go to the handlers parts registered (router.upgrade).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { peerCred, rawFd } from "../peers.js";
import { asyncEnvelope, errorEnvelope, syncEnvelope } from "./envelope.js";
import { ApiError, toApiError } from "./errors.js";
import { originProblem } from "./origin.js";
import { refuseUpgrade } from "./websocket.js";
import type { ApiRequest, ApiResult, Caller, Route, Router } from "./router.js";

/** Far above any configuration (a few KiB), far below what could hurt the daemon. */
export const MAX_BODY = 4 * 1024 * 1024;
/** Headers and body must arrive within these (slow clients hold no socket for long). */
const HEADERS_MS = 10_000;
const REQUEST_MS = 30_000;
const MAX_CONNECTIONS = 512;
/** Open connections of one uid other than root's (event streams and waits stay open): one user cannot crowd the others out. */
const MAX_PER_UID = 32;

export interface HttpHooks {
  /** Throws (403) unless the caller may use the route (access.ts); routes with "handler" access check themselves. */
  authorize(route: Route, r: ApiRequest): void;
  /** An error no handler expected (logged; the client gets a 500 with one line). */
  internal(e: Error): void;
}

export class ApiServer {
  private server?: http.Server;
  /** Further sockets whose connections the one server serves (the admin directory's). */
  private readonly doors: { server: net.Server; path: string }[] = [];
  private readonly callers = new WeakMap<net.Socket, Caller>();
  private readonly open = new Map<number, number>();

  constructor(
    readonly path: string,
    private readonly router: Router,
    private readonly hooks: HttpHooks,
  ) {}

  /**
   * Serve a second socket path too: its connections go to the same server, their
   * callers identified the same way (the run directory is root's alone; host users
   * reach the admin directory, protocol.ts adminSocketPath).
   */
  async door(path: string): Promise<void> {
    if (!this.server) throw new Error("listen() before door()");
    const http = this.server;
    fs.rmSync(path, { force: true });
    const door = net.createServer((s) => http.emit("connection", s));
    door.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      door.once("error", reject);
      door.listen(path, () => {
        door.off("error", reject);
        resolve();
      });
    });
    fs.chmodSync(path, 0o666);
    this.doors.push({ server: door, path });
  }

  async listen(): Promise<void> {
    fs.rmSync(this.path, { force: true });
    const server = http.createServer({ headersTimeout: HEADERS_MS, requestTimeout: REQUEST_MS }, (req, res) => {
      const caller = this.callers.get(req.socket);
      if (!caller) return void res.destroy();
      this.serve(req, res, caller);
    });
    server.maxConnections = MAX_CONNECTIONS;
    server.on("connection", (s: net.Socket) => {
      let uid: number;
      try {
        uid = peerCred(rawFd(s)).uid;
      } catch {
        return void s.destroy();
      }
      const n = this.open.get(uid) ?? 0;
      if (uid !== 0 && n >= MAX_PER_UID) return void s.destroy();
      this.open.set(uid, n + 1);
      s.once("close", () => {
        const left = (this.open.get(uid) ?? 1) - 1;
        if (left > 0) this.open.set(uid, left);
        else this.open.delete(uid);
      });
      this.callers.set(s, { uid, via: "unix" });
    });
    server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const caller = this.callers.get(socket);
      if (caller) this.upgrade(req, socket, head, caller);
      else socket.destroy();
    });
    server.on("clientError", (_e, socket: net.Socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    // Anyone may connect; what each caller may do is decided per request (access.ts).
    fs.chmodSync(this.path, 0o666);
    this.server = server;
  }

  close(): void {
    for (const d of this.doors.splice(0)) {
      d.server.close();
      fs.rmSync(d.path, { force: true });
    }
    this.server?.close();
    this.server?.closeAllConnections();
    fs.rmSync(this.path, { force: true });
  }

  /** A WebSocket upgrade: the first handler that takes it; 404 when none does. */
  upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, caller: Caller): void {
    socket.on("error", () => undefined);
    // A page of another origin may not open a zone's streams (origin.ts).
    const cross = originProblem(req, socket, caller);
    if (cross !== undefined) return refuseUpgrade(socket, 403, errorEnvelope(403, cross));
    for (const h of this.router.upgrades) {
      try {
        if (h(req, socket, head, caller)) return;
      } catch (e) {
        this.hooks.internal(e as Error);
        return void socket.destroy();
      }
    }
    const body = JSON.stringify(errorEnvelope(404, `no WebSocket at ${JSON.stringify((req.url ?? "").split("?")[0])}`));
    socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }

  /** Answer one request from `caller`. */
  serve(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller): void {
    const url = new URL(req.url ?? "/", "http://zoneadmd");
    const method = req.method ?? "GET";
    const m = this.router.match(method, url.pathname);
    if (!("route" in m)) {
      drain(req);
      if (m.status === 405) res.setHeader("Allow", m.allow.join(", "));
      const what = m.status === 404 ? `no such API path ${JSON.stringify(url.pathname)}` : `method ${JSON.stringify(method)} is not allowed on ${JSON.stringify(url.pathname)} (allowed: ${m.allow.join(", ")})`;
      return send(res, m.status, errorEnvelope(m.status, what), method);
    }
    const r = apiRequest(req, res, method, url, m.params, caller);
    void this.run(m.route, r).then(
      (result) => {
        if ("handled" in result) return;
        if ("async" in result) {
          const at = `/1.0/operations/${result.async.id}`;
          res.setHeader("Location", at);
          return send(res, 202, asyncEnvelope(at, result.async), method);
        }
        if ("text" in result) {
          const body = Buffer.from(result.text);
          res.writeHead(result.status ?? 200, { "Content-Type": result.type ?? "text/plain; charset=utf-8", "Content-Length": body.length });
          return void res.end(method === "HEAD" ? undefined : body);
        }
        send(res, result.status ?? 200, syncEnvelope(result.sync), method);
      },
      (e: unknown) => {
        const err = toApiError(e, this.hooks.internal);
        drain(req);
        if (res.headersSent) return void res.destroy();
        send(res, err.status, errorEnvelope(err.status, err.message), method);
      },
    );
  }

  private async run(route: Route, r: ApiRequest): Promise<ApiResult> {
    this.hooks.authorize(route, r);
    return route.handler(r);
  }
}

function apiRequest(req: http.IncomingMessage, res: http.ServerResponse, method: string, url: URL, params: Record<string, string>, caller: Caller): ApiRequest {
  let body: Promise<string> | undefined;
  const text = (): Promise<string> => (body ??= readBody(req));
  return {
    method,
    path: url.pathname,
    params,
    query: url.searchParams,
    caller,
    raw: req,
    res,
    body: text,
    async json() {
      const t = await text();
      // No body is an empty object: POST .../detach needs none, and a missing field is named below.
      if (t.trim() === "") return {};
      let v: unknown;
      try {
        v = JSON.parse(t);
      } catch (e) {
        throw new ApiError(400, `request body is not JSON: ${(e as Error).message}`);
      }
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ApiError(400, "request body must be a JSON object");
      return v as Record<string, unknown>;
    },
  };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > MAX_BODY) return reject(new ApiError(413, `request body of ${declared} bytes is longer than ${MAX_BODY} bytes`));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) {
        req.removeAllListeners("data");
        req.resume();
        reject(new ApiError(413, `request body is longer than ${MAX_BODY} bytes`));
      } else chunks.push(d);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", (e) => reject(new ApiError(400, `request body not read: ${e.message}`)));
  });
}

/** Read and discard what is left of a body, so that the connection can serve the next request. */
function drain(req: http.IncomingMessage): void {
  if (!req.readableEnded) req.resume();
}

function send(res: http.ServerResponse, status: number, envelope: unknown, method: string): void {
  const body = Buffer.from(JSON.stringify(envelope));
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": body.length });
  res.end(method === "HEAD" ? undefined : body);
}
