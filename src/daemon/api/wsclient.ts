/**
 * The client side of websocket.ts, over the API's UNIX socket: for the tests and for
 * any command that wants a stream of the API. A refused handshake (403, 404, 409 …)
 * rejects with the API's error text.
 */
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import { WebSocket, acceptKey } from "./websocket.js";

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`WebSocket refused with HTTP ${status}: ${errorText(body)}`);
  }
}

function errorText(body: string): string {
  try {
    const o = JSON.parse(body) as { error?: unknown };
    if (typeof o.error === "string") return o.error;
  } catch {
    // not the API's envelope
  }
  return JSON.stringify(body.slice(0, 200));
}

export function connectWebSocket(socketPath: string, path: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const key = randomBytes(16).toString("base64");
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13", ...headers } });
    req.on("upgrade", (res, socket, head) => {
      if (res.headers["sec-websocket-accept"] !== acceptKey(key)) {
        socket.destroy();
        return reject(new Error(`WebSocket handshake of ${JSON.stringify(path)}: wrong Sec-WebSocket-Accept`));
      }
      resolve(new WebSocket(socket, head, { client: true }));
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => reject(new UpgradeRefused(res.statusCode ?? 0, body)));
    });
    req.on("error", reject);
    req.end();
  });
}
