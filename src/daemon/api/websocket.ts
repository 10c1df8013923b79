/**
 * RFC 6455 WebSockets, both sides, on Node's own sockets: the API's exec, console and
 * login streams (exec.ts, consolews.ts) and the tests' client. Our own small
 * implementation rather than the `ws` package: the daemon needs text and binary
 * messages, fragmentation, ping/pong and close, no extensions, and a size cap; that is
 * two hundred lines, with nothing more in the bundle to follow for fixes.
 *
 * Limits, because the peer may be hostile: a message (all its fragments) is at most
 * `maxMessage` bytes (close 1009 beyond); an unmasked client frame, a masked server
 * frame, reserved bits, an unknown opcode or a bad control frame close with 1002;
 * text that is not UTF-8 closes with 1007.
 *
 * Backpressure: send() returns what the socket's write returned, and "drain" follows
 * it; pause()/resume() stop and restart reading the peer, which the kernel then
 * throttles.
 */
import { createHash, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type * as http from "node:http";
import type { Duplex } from "node:stream";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
export const DEFAULT_MAX_MESSAGE = 1024 * 1024;

const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

export interface WebSocketOptions {
  /** The client side masks what it sends and expects the server not to. */
  client?: boolean;
  maxMessage?: number;
}

export declare interface WebSocket {
  on(event: "message", l: (data: Buffer, binary: boolean) => void): this;
  on(event: "close", l: (code: number, reason: string) => void): this;
  on(event: "drain" | "pong", l: () => void): this;
  once(event: "message", l: (data: Buffer, binary: boolean) => void): this;
  once(event: "close", l: (code: number, reason: string) => void): this;
  once(event: "drain" | "pong", l: () => void): this;
}

export class WebSocket extends EventEmitter {
  private buf: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentOp = -1;
  private fragmentBytes = 0;
  private closeSent = false;
  private closedEmitted = false;
  private readonly client: boolean;
  private readonly maxMessage: number;
  private readonly utf8 = new TextDecoder("utf-8", { fatal: true });

  constructor(
    readonly socket: Duplex,
    head: Buffer,
    opts: WebSocketOptions = {},
  ) {
    super();
    this.client = opts.client === true;
    this.maxMessage = opts.maxMessage ?? DEFAULT_MAX_MESSAGE;
    socket.on("data", (d: Buffer) => this.receive(d));
    socket.on("drain", () => this.emit("drain"));
    socket.on("error", () => this.finish(1006, ""));
    socket.on("close", () => this.finish(1006, ""));
    // An http server's sockets are half-open: the peer's end would not close ours.
    socket.on("end", () => {
      socket.end();
      this.finish(1006, "");
    });
    // The socket may already carry a frame that came with the handshake: delivered after
    // the caller (awaiting the handshake) has put its listeners on.
    if (head.length > 0) setImmediate(() => this.receive(head));
  }

  get open(): boolean {
    return !this.closeSent && !this.socket.destroyed;
  }

  /** A text frame for a string, a binary one for bytes; false: wait for "drain". */
  send(data: string | Buffer): boolean {
    if (!this.open) return false;
    return typeof data === "string" ? this.frame(OP_TEXT, Buffer.from(data, "utf8")) : this.frame(OP_BINARY, data);
  }

  ping(data: Buffer = Buffer.alloc(0)): void {
    if (this.open) this.frame(OP_PING, data.subarray(0, 125));
  }

  /** Start the closing handshake; the socket ends when the peer answers (or at once if it is gone). */
  close(code = 1000, reason = ""): void {
    if (this.closeSent || this.socket.destroyed) return;
    const r = Buffer.from(reason, "utf8").subarray(0, 123);
    const body = Buffer.alloc(2 + r.length);
    body.writeUInt16BE(code, 0);
    r.copy(body, 2);
    this.frame(OP_CLOSE, body);
    this.closeSent = true;
    // A peer that never answers does not hold the socket.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  terminate(): void {
    this.socket.destroy();
  }

  private frame(op: number, payload: Buffer): boolean {
    const len = payload.length;
    const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
    const mask = this.client ? 4 : 0;
    const head = Buffer.alloc(2 + ext + mask);
    head[0] = 0x80 | op;
    head[1] = (this.client ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
    if (ext === 2) head.writeUInt16BE(len, 2);
    if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
    let body = payload;
    if (this.client) {
      const key = randomBytes(4);
      key.copy(head, 2 + ext);
      body = Buffer.from(payload);
      for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
    }
    return this.socket.write(Buffer.concat([head, body]));
  }

  private fail(code: number, reason: string): void {
    this.close(code, reason);
    this.buf = Buffer.alloc(0);
    // end, not destroy: the close frame still goes out before the FIN.
    this.socket.end();
    this.finish(code, reason);
  }

  private finish(code: number, reason: string): void {
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    this.emit("close", code, reason);
  }

  private receive(d: Buffer): void {
    if (this.closedEmitted) return;
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    while (!this.closedEmitted) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0]! & 0x80) !== 0;
      const op = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let off = 2;
      if ((b[0]! & 0x70) !== 0) return this.fail(1002, "reserved bits set");
      if (masked === this.client) return this.fail(1002, this.client ? "masked frame from the server" : "unmasked frame from the client");
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(this.maxMessage)) return this.fail(1009, `frame of ${big} bytes exceeds ${this.maxMessage}`);
        len = Number(big);
        off = 10;
      }
      const control = op >= 0x8;
      if (control && (!fin || len > 125)) return this.fail(1002, "fragmented or long control frame");
      if (!control && this.fragmentBytes + len > this.maxMessage) return this.fail(1009, `message exceeds ${this.maxMessage} bytes`);
      const need = off + (masked ? 4 : 0) + len;
      if (b.length < need) return;
      const payload = Buffer.from(b.subarray(need - len, need));
      if (masked) {
        const key = b.subarray(off, off + 4);
        for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
      }
      this.buf = b.subarray(need);
      this.handle(op, fin, payload);
    }
  }

  private handle(op: number, fin: boolean, payload: Buffer): void {
    switch (op) {
      case OP_PING:
        if (this.open) this.frame(OP_PONG, payload);
        return;
      case OP_PONG:
        this.emit("pong");
        return;
      case OP_CLOSE: {
        if (payload.length === 1) return this.fail(1002, "close frame of one byte");
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        let reason: string;
        try {
          reason = this.utf8.decode(payload.subarray(2));
        } catch {
          return this.fail(1007, "close reason is not UTF-8");
        }
        if (payload.length >= 2 && !validCloseCode(code)) return this.fail(1002, `close code ${code} is not allowed`);
        // Answer (echoing the code), then the server ends the connection.
        if (!this.closeSent) this.close(payload.length >= 2 ? code : 1000);
        if (!this.client) this.socket.end();
        this.finish(code, reason);
        return;
      }
      case OP_TEXT:
      case OP_BINARY:
        if (this.fragmentOp !== -1) return this.fail(1002, "new message inside a fragmented one");
        if (fin) return this.deliver(op, [payload]);
        this.fragmentOp = op;
        this.fragments = [payload];
        this.fragmentBytes = payload.length;
        return;
      case OP_CONT:
        if (this.fragmentOp === -1) return this.fail(1002, "continuation without a message");
        this.fragments.push(payload);
        this.fragmentBytes += payload.length;
        if (!fin) return;
        {
          const first = this.fragmentOp;
          const parts = this.fragments;
          this.fragmentOp = -1;
          this.fragments = [];
          this.fragmentBytes = 0;
          this.deliver(first, parts);
        }
        return;
      default:
        return this.fail(1002, `unknown opcode ${op}`);
    }
  }

  private deliver(op: number, parts: Buffer[]): void {
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (op === OP_TEXT) {
      try {
        this.utf8.decode(data);
      } catch {
        return this.fail(1007, "text message is not UTF-8");
      }
    }
    this.emit("message", data, op === OP_BINARY);
  }
}

function validCloseCode(c: number): boolean {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/** Why `req` is not a WebSocket handshake we take, or undefined. */
export function handshakeProblem(req: http.IncomingMessage): string | undefined {
  if (req.method !== "GET") return `a WebSocket handshake is a GET, not ${JSON.stringify(req.method)}`;
  if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") return "the request does not ask for Upgrade: websocket";
  if (req.headers["sec-websocket-version"] !== "13") return `WebSocket version ${JSON.stringify(req.headers["sec-websocket-version"] ?? "")} is not supported (13 is)`;
  const key = req.headers["sec-websocket-key"] ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return "Sec-WebSocket-Key is not 16 bytes in base64";
  return undefined;
}

/** Complete the handshake of an http "upgrade" event; the caller checked handshakeProblem. */
export function acceptWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, opts: Omit<WebSocketOptions, "client"> = {}): WebSocket {
  socket.write(["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Accept: ${acceptKey(req.headers["sec-websocket-key"] ?? "")}`, "", ""].join("\r\n"));
  return new WebSocket(socket, head, opts);
}

/** Answer an upgrade request with a plain HTTP response (an error envelope) and end it. */
export function refuseUpgrade(socket: Duplex, status: number, body: object): void {
  const text = JSON.stringify(body);
  const reason = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict" }[status] ?? "Error";
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}
