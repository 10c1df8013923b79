/** websocket.ts against its own client and against hand-made frames: framing, fragments, limits, close. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { acceptWebSocket, handshakeProblem, refuseUpgrade, type WebSocket } from "../../../src/daemon/api/websocket.js";
import { UpgradeRefused, connectWebSocket } from "../../../src/daemon/api/wsclient.js";

let dir: string;
let sock: string;
let server: http.Server;

/** An echo server: each message comes back as it came (text as text); "close" closes with 4001. */
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-ws-"));
  sock = path.join(dir, "api.sock");
  server = http.createServer((_req, res) => res.end());
  server.on("upgrade", (req: http.IncomingMessage, socket, head: Buffer) => {
    if (req.url === "/forbidden") return refuseUpgrade(socket, 403, { type: "error", error_code: 403, error: "user 'x' is not authorized" });
    const no = handshakeProblem(req);
    if (no) return refuseUpgrade(socket, 400, { type: "error", error_code: 400, error: no });
    const ws = acceptWebSocket(req, socket, head, { maxMessage: 100_000 });
    ws.on("message", (d, binary) => {
      if (!binary && d.toString() === "close") return ws.close(4001, "asked");
      ws.send(binary ? d : d.toString("utf8"));
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
});

after(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function next(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    ws.once("message", (data: Buffer, binary: boolean) => resolve({ data, binary }));
    ws.once("close", (code: number, reason: string) => reject(new Error(`closed ${code} ${reason}`)));
  });
}

function closed(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => ws.once("close", (code: number, reason: string) => resolve([code, reason])));
}

/** A client frame made by hand (masked unless told), to test what the server refuses. */
function frame(op: number, payload: Buffer, o: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
  const mask = o.mask !== false;
  const len = payload.length;
  const ext = len < 126 ? Buffer.alloc(0) : len < 65536 ? Buffer.alloc(2) : Buffer.alloc(8);
  if (ext.length === 2) ext.writeUInt16BE(len);
  if (ext.length === 8) ext.writeBigUInt64BE(BigInt(len));
  const head = Buffer.from([(o.fin === false ? 0 : 0x80) | (o.rsv ?? 0) | op, (mask ? 0x80 : 0) | (ext.length === 0 ? len : ext.length === 2 ? 126 : 127)]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([head, ext, mask ? key : Buffer.alloc(0), body]);
}

test("text and binary messages of every length class come back whole", async () => {
  const ws = await connectWebSocket(sock, "/echo");
  ws.send("zonename ☃");
  assert.deepEqual(await next(ws), { data: Buffer.from("zonename ☃"), binary: false });
  for (const n of [0, 125, 126, 65535, 65536, 99_999]) {
    const b = randomBytes(n);
    ws.send(b);
    const got = await next(ws);
    assert.equal(got.binary, true);
    assert.ok(got.data.equals(b), `binary message of ${n} bytes`);
  }
  ws.close();
  assert.equal((await closed(ws))[0], 1000);
});

test("fragments are joined, pings answered between them, and the close code comes back", async () => {
  const ws = await connectWebSocket(sock, "/echo");
  const pong = new Promise<void>((r) => ws.once("pong", r));
  ws.socket.write(Buffer.concat([frame(0x1, Buffer.from("hel"), { fin: false }), frame(0x9, Buffer.from("p")), frame(0x0, Buffer.from("lo "), { fin: false }), frame(0x0, Buffer.from("world"))]));
  assert.equal((await next(ws)).data.toString(), "hello world");
  await pong;
  ws.send("close");
  assert.deepEqual(await closed(ws), [4001, "asked"]);
});

test("protocol violations and oversize messages close the connection with their codes", async () => {
  const cases: [string, Buffer, number][] = [
    ["unmasked client frame", frame(0x2, Buffer.from("x"), { mask: false }), 1002],
    ["reserved bit", frame(0x2, Buffer.from("x"), { rsv: 0x40 }), 1002],
    ["unknown opcode", frame(0x3, Buffer.from("x")), 1002],
    ["fragmented ping", frame(0x9, Buffer.from("x"), { fin: false }), 1002],
    ["continuation alone", frame(0x0, Buffer.from("x")), 1002],
    ["text not UTF-8", frame(0x1, Buffer.from([0xff, 0xfe])), 1007],
    ["message over the cap", frame(0x2, Buffer.alloc(100_001)), 1009],
    ["fragments over the cap", Buffer.concat([frame(0x2, Buffer.alloc(60_000), { fin: false }), frame(0x0, Buffer.alloc(60_000))]), 1009],
  ];
  for (const [what, bytes, code] of cases) {
    const ws = await connectWebSocket(sock, "/echo");
    const got = closed(ws);
    ws.socket.write(bytes);
    assert.equal((await got)[0], code, what);
  }
});

test("a refused upgrade rejects with the API's status and error text", async () => {
  await assert.rejects(connectWebSocket(sock, "/forbidden"), (e: unknown) => e instanceof UpgradeRefused && e.status === 403 && e.message === "WebSocket refused with HTTP 403: user 'x' is not authorized");
  await assert.rejects(connectWebSocket(sock, "/echo", { "Sec-WebSocket-Version": "8" }), (e: unknown) => e instanceof UpgradeRefused && e.status === 400);
});

test("backpressure: send reports a full socket and drain follows", async () => {
  const ws = await connectWebSocket(sock, "/echo");
  // The echo server's replies pile up while we do not read.
  ws.pause();
  let full = false;
  for (let i = 0; i < 400 && !full; i++) full = !ws.send(Buffer.alloc(65536));
  assert.ok(full, "send returned false once the socket buffered");
  const drained = new Promise<void>((r) => ws.once("drain", r));
  ws.resume();
  ws.on("message", () => undefined);
  await drained;
  ws.terminate();
});
