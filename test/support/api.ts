/**
 * A tiny client of zoneadmd's HTTP API (src/daemon/api) for tests and benches:
 * http.request over the UNIX socket, JSON in and out, a timeout on every call, and
 * the server-sent event stream. Optionally as another host user: `asUser` runs the
 * request from a child process under setpriv, so the daemon sees that uid.
 */
import * as http from "node:http";
import { apiSocketPath } from "../../src/daemon/api/api.js";
import { sseReader } from "./sse.js";

export interface ApiReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The parsed body when it is JSON, else undefined. */
  json: ApiBody | undefined;
  text: string;
}

/** The envelope's fields tests read (src/daemon/api/envelope.ts). */
export interface ApiBody {
  type: "sync" | "async" | "error";
  status: string;
  status_code: number;
  operation: string;
  error_code: number;
  error: string;
  metadata: unknown;
}

export interface ApiOptions {
  body?: unknown;
  /** Raw text body (zonecfg commands), sent as text/plain. */
  text?: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export class ApiClient {
  readonly socketPath: string;
  /** One agent: requests share keep-alive connections, as a real client's would. */
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  constructor(runDir: string) {
    this.socketPath = apiSocketPath(runDir);
  }

  request(method: string, path: string, opts: ApiOptions = {}): Promise<ApiReply> {
    return new Promise((resolve, reject) => {
      const body = opts.text !== undefined ? opts.text : opts.body !== undefined ? JSON.stringify(opts.body) : undefined;
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (body !== undefined) headers["Content-Type"] ??= opts.text !== undefined ? "text/plain" : "application/json";
      const req = http.request({ socketPath: this.socketPath, method, path, headers, agent: this.agent, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: ApiBody | undefined;
          if (text !== "" && (res.headers["content-type"] ?? "").startsWith("application/json")) json = JSON.parse(text) as ApiBody;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json, text });
        });
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 30_000} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  get = (path: string, opts?: ApiOptions): Promise<ApiReply> => this.request("GET", path, opts);

  /** The metadata of a sync answer; throws with the error line otherwise. */
  async sync<T = unknown>(method: string, path: string, opts?: ApiOptions): Promise<T> {
    const r = await this.request(method, path, opts);
    if (r.json?.type !== "sync") throw new Error(`${method} ${path}: ${r.status} ${r.json?.error ?? r.text}`);
    return r.json.metadata as T;
  }

  /** Start an operation and wait for its end; the operation object. */
  async operate(method: string, path: string, opts?: ApiOptions): Promise<{ id: string; status: string; err: string; metadata: unknown }> {
    const r = await this.request(method, path, opts);
    if (r.status !== 202 || r.json?.type !== "async") throw new Error(`${method} ${path}: ${r.status} ${r.json?.error ?? r.text}`);
    return this.sync("GET", `${r.json.operation}/wait?timeout=120`, { timeoutMs: 130_000 });
  }

  /** Subscribe to /1.0/events; `events` fills as they come; close() ends it. */
  events(types = "lifecycle,operation,logging"): Promise<EventStream> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, method: "GET", path: `/1.0/events?type=${types}` }, (res) => {
        const stream: EventStream = { status: res.statusCode ?? 0, events: [], close: () => req.destroy() };
        res.setEncoding("utf8");
        res.on("data", sseReader((data) => stream.events.push(JSON.parse(data) as StreamEvent)));
        res.on("error", () => undefined);
        resolve(stream);
      });
      req.on("error", reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface StreamEvent {
  type: string;
  timestamp: string;
  metadata: Record<string, unknown>;
}

export interface EventStream {
  status: number;
  events: StreamEvent[];
  close(): void;
}
