/**
 * The API's routes: method + pattern ("/1.0/zones/:name") -> handler, with what each
 * route needs of its caller and a line for the OpenAPI description (openapi.ts builds
 * it from these, so the description cannot drift from what is served). Each part of
 * the API registers its routes from a file of its own: `register(router, api)`.
 */
import type * as http from "node:http";
import type * as net from "node:net";
import type { Verb } from "../admins.js";
import type { Operation } from "./operations.js";

/** Who is asking: the kernel's word on the UNIX socket (SO_PEERCRED), the token's or certificate's on TLS. */
export interface Caller {
  uid: number;
  via: "unix" | "tls";
  token?: string;
}

export interface ApiRequest {
  method: string;
  path: string;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  caller: Caller;
  raw: http.IncomingMessage;
  res: http.ServerResponse;
  /** The body as text, read up to the server's limit (http.ts). */
  body(): Promise<string>;
  /** The body parsed as a JSON object ({} when empty); 400 for anything else. */
  json(): Promise<Record<string, unknown>>;
}

/**
 * What a handler answers: a sync envelope (`sync`, status 200 unless given), an
 * operation (202 + async envelope), plain text, or `handled` when it wrote the
 * response itself (the events stream).
 */
export type ApiResult = { sync: unknown; status?: number } | { async: Operation } | { text: string; type?: string; status?: number } | { handled: true };

export type Handler = (r: ApiRequest) => Promise<ApiResult> | ApiResult;

/**
 * Who may call a route, checked before its handler runs (access.ts, through admins.ts
 * refusal): "anyone" (GET /1.0), a verb on the zone the `zone` parameter names, or
 * "handler": the handler checks, because the verb depends on the body or the answer
 * is filtered per caller (a delegated admin lists only her zones).
 */
export type Access = "anyone" | "handler" | { verb: Verb; zone?: string };

export interface RouteDoc {
  summary: string;
  /** What the body is, for the description: "json" (an object), "text" (zonecfg commands) or none. */
  body?: "json" | "text";
  /** The answer is an operation (202). */
  async?: boolean;
  /** Answers a stream (text/event-stream) or text instead of an envelope. */
  produces?: string;
  /** A WebSocket upgrade (parts of the API that take the connection over: http.ts upgrade). */
  websocket?: boolean;
}

export interface Route {
  method: string;
  pattern: string;
  access: Access;
  doc: RouteDoc;
  handler: Handler;
}

/** A WebSocket (or other) upgrade: true when it took the socket over. */
export type UpgradeHandler = (req: http.IncomingMessage, socket: net.Socket, head: Buffer, caller: Caller) => boolean;

export type Match = { route: Route; params: Record<string, string> } | { status: 404 | 405; allow: string[] };

const PARAM = /^:([a-z][a-zA-Z]*)$/;

export class Router {
  private readonly table: Route[] = [];
  readonly upgrades: UpgradeHandler[] = [];

  add(method: string, pattern: string, access: Access, doc: RouteDoc, handler: Handler): void {
    if (!pattern.startsWith("/")) throw new Error(`route pattern ${JSON.stringify(pattern)} must start with /`);
    if (this.table.some((r) => r.method === method && r.pattern === pattern)) throw new Error(`route ${method} ${pattern} is registered twice`);
    this.table.push({ method, pattern, access, doc, handler });
  }

  /** The first handler that takes an upgrade request gets it (http.ts). */
  upgrade(h: UpgradeHandler): void {
    this.upgrades.push(h);
  }

  routes(): readonly Route[] {
    return this.table;
  }

  /** The route for `method` and `path` (already without its query), 404 or 405 with the allowed methods. */
  match(method: string, path: string): Match {
    const segs = split(path);
    if (segs === undefined) return { status: 404, allow: [] };
    const allow: string[] = [];
    for (const r of this.table) {
      const params = bind(split(r.pattern)!, segs);
      if (!params) continue;
      if (r.method === method || (method === "HEAD" && r.method === "GET")) return { route: r, params };
      allow.push(r.method);
    }
    return allow.length > 0 ? { status: 405, allow } : { status: 404, allow: [] };
  }
}

/** The decoded segments of a path; undefined for one that cannot be decoded or holds a "/" once decoded. */
function split(path: string): string[] | undefined {
  const parts = path.split("/").slice(1);
  // A trailing slash names the same resource (curl users type both).
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  try {
    const segs = parts.map((p) => decodeURIComponent(p));
    return segs.some((s) => s.includes("/")) ? undefined : segs;
  } catch {
    return undefined;
  }
}

function bind(pattern: string[], segs: string[]): Record<string, string> | undefined {
  if (pattern.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const m = PARAM.exec(pattern[i]!);
    if (m) params[m[1]!] = segs[i]!;
    else if (pattern[i] !== segs[i]) return undefined;
  }
  return params;
}
