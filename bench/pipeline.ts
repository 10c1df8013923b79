/**
 * An HTTP/1.1 client on ONE keep-alive connection that pipelines: every request is
 * written at once, and the answers come back in the order asked (RFC 9112 9.3.2). Node's
 * own client never pipelines (one request per connection at a time), so a client that
 * wants operations in flight on one connection needs this. zoneadmd's server (node's
 * http) starts each pipelined request's handler as soon as it has parsed it and only
 * holds the answers in order, so requests sent together run together.
 * Answers must carry Content-Length (zoneadmd's API always sends it).
 */
import * as net from "node:net";

export interface Answer {
  status: number;
  body: string;
}

interface Waiting {
  what: string;
  resolve: (a: Answer) => void;
  reject: (e: Error) => void;
}

export class PipelinedConnection {
  private readonly sock: net.Socket;
  private readonly waiting: Waiting[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private failed: Error | undefined;
  /** Requests written on this one connection, for the report. */
  sent = 0;

  constructor(socketPath: string) {
    this.sock = net.createConnection(socketPath);
    this.sock.on("data", (d: Buffer) => this.parse(d));
    this.sock.on("error", (e) => this.fail(new Error(`API connection ${socketPath}: ${e.message}`)));
    this.sock.on("close", () => this.fail(new Error(`API connection ${socketPath} closed by the daemon`)));
  }

  request(method: string, path: string, body?: unknown): Promise<Answer> {
    if (this.failed) return Promise.reject(this.failed);
    const text = body === undefined ? "" : JSON.stringify(body);
    const head = `${method} ${path} HTTP/1.1\r\nHost: zoneadmd\r\nConnection: keep-alive\r\n` + (body === undefined ? "" : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n`);
    this.sent++;
    return new Promise((resolve, reject) => {
      this.waiting.push({ what: `${method} ${path}`, resolve, reject });
      this.sock.write(`${head}\r\n${text}`);
    });
  }

  /** A JSON envelope's metadata, or an Error naming the request and the API's one line. */
  async json(method: string, path: string, body?: unknown): Promise<{ status: number; env: Envelope }> {
    const a = await this.request(method, path, body);
    const env = JSON.parse(a.body) as Envelope;
    if (env.type === "error") throw new Error(`${method} ${path}: ${a.status} ${env.error}`);
    return { status: a.status, env };
  }

  private parse(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    for (;;) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString("latin1");
      const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
      if (!Number.isInteger(len)) return this.fail(new Error(`API answer without Content-Length: ${JSON.stringify(head.split("\r\n")[0])}`));
      if (this.buf.length < end + 4 + len) return;
      const body = this.buf.subarray(end + 4, end + 4 + len).toString("utf8");
      this.buf = this.buf.subarray(end + 4 + len);
      const status = Number(head.slice(9, 12));
      const w = this.waiting.shift();
      if (!w) return this.fail(new Error(`API answer to no request: ${status}`));
      w.resolve({ status, body });
    }
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const w of this.waiting.splice(0)) w.reject(new Error(`${w.what}: ${e.message}`));
  }

  close(): void {
    this.failed ??= new Error("closed");
    this.sock.destroy();
  }
}

export interface Envelope {
  type: "sync" | "async" | "error";
  operation: string;
  error: string;
  metadata: { status?: string; err?: string } | null;
}
