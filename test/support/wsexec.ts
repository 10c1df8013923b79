/**
 * The API's streams as a client sees them (src/daemon/api/exec.ts, consolews.ts): exec
 * over WebSockets with its stdin, stdout, stderr and exit status, and a terminal
 * WebSocket (login, console) read until some text shows. For tests and benches.
 */
import { ApiClient } from "./api.js";
import { connectWebSocket, UpgradeRefused } from "../../src/daemon/api/wsclient.js";
import type { WebSocket } from "../../src/daemon/api/websocket.js";

export interface ExecResult {
  /** The HTTP status of the POST (202 when the operation started). */
  status: number;
  error?: string;
  stdout: string;
  stderr: string;
  return?: number;
  /** The operation's err once it ended ("" on success). */
  err?: string;
}

interface OpMeta {
  id: string;
  metadata: { fds: Record<string, string> };
}

/** POST exec with wait-for-websocket, feed `stdin`, collect the output and the exit status. */
export async function execWs(api: ApiClient, zone: string, body: Record<string, unknown>, stdin = "", onStart?: (ws: Record<string, WebSocket>) => void): Promise<ExecResult> {
  const r = await api.request("POST", `/1.0/zones/${encodeURIComponent(zone)}/exec`, { body: { "wait-for-websocket": true, ...body } });
  if (r.status !== 202) return { status: r.status, error: r.json?.error ?? r.text, stdout: "", stderr: "" };
  const op = r.json!.metadata as OpMeta;
  const ws: Record<string, WebSocket> = {};
  for (const [name, secret] of Object.entries(op.metadata.fds)) ws[name] = await connectWebSocket(api.socketPath, `/1.0/operations/${op.id}/websocket?secret=${secret}`);
  const out: Record<string, Buffer[]> = { "1": [], "2": [] };
  for (const fd of ["1", "2"]) ws[fd]?.on("message", (d) => out[fd]!.push(d));
  if (stdin !== "") ws["0"]!.send(Buffer.from(stdin));
  ws["0"]!.send(Buffer.alloc(0));
  onStart?.(ws);
  const done = await api.sync<{ status: string; err: string; metadata: { return?: number } | null }>("GET", `/1.0/operations/${op.id}/wait?timeout=60`, { timeoutMs: 70_000 });
  for (const w of Object.values(ws)) w.terminate();
  return { status: 202, stdout: Buffer.concat(out["1"]!).toString(), stderr: Buffer.concat(out["2"]!).toString(), return: done.metadata?.return, err: done.err };
}

/** A terminal WebSocket with what it has shown so far. */
export class WsTerminal {
  text = "";
  closed?: [number, string];
  private waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on("message", (d, binary) => {
      if (binary) this.text += d.toString("utf8");
      else this.text += `\n[control ${d.toString("utf8")}]\n`;
      this.waiters.splice(0).forEach((w) => w());
    });
    ws.on("close", (code, reason) => {
      this.closed = [code, reason];
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static async open(api: ApiClient, path: string): Promise<WsTerminal> {
    return new WsTerminal(await connectWebSocket(api.socketPath, path));
  }

  type(s: string): void {
    this.ws.send(Buffer.from(s));
  }

  control(o: object): void {
    this.ws.send(JSON.stringify(o));
  }

  /** Wait until the text (after `from`) matches `re`; throws with what came after `ms`. */
  async until(re: RegExp, from = 0, ms = 10_000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this.text.slice(from).match(re);
      if (m) return m;
      if (this.closed || Date.now() > end) throw new Error(`terminal never showed ${re} (closed: ${JSON.stringify(this.closed)}); it showed ${JSON.stringify(this.text.slice(from).slice(-400))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** Wait for the server to close it. */
  async ended(ms = 10_000): Promise<[number, string]> {
    const end = Date.now() + ms;
    while (!this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    if (!this.closed) throw new Error(`terminal WebSocket still open after ${ms} ms`);
    return this.closed;
  }
}

/** The status and error of a WebSocket the server refused, or 101 when it took it. */
export async function upgradeStatus(api: ApiClient, path: string): Promise<{ status: number; error: string }> {
  try {
    const ws = await connectWebSocket(api.socketPath, path);
    ws.terminate();
    return { status: 101, error: "" };
  } catch (e) {
    if (e instanceof UpgradeRefused) return { status: e.status, error: (e as Error).message };
    throw e;
  }
}
