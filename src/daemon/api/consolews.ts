/**
 * The zone's terminals as WebSockets, for the web console's xterm.js:
 *
 *  - GET /1.0/zones/<name>/console: the zone console (illumos zcons, console.ts), from
 *    installed on; the log so far is replayed first. One client at a time, as for
 *    zlogin -C (409 while another is attached). Output for a client that does not keep
 *    up (over MAX_BUFFERED queued) is dropped for it, never held: the zone's init must
 *    not wait on a browser.
 *  - GET /1.0/zones/<name>/login[?width=W&height=H]: a login shell as the zone's root on
 *    a pty of the zone's own, as `zlogin zone` (login.ts startLogin, terminal.ts).
 *
 * On both, binary frames are the terminal's bytes both ways, and text frames from the
 * client are control messages (control.ts: window-resize; on login also signal). A
 * bad control message is answered with a text frame {"error": "..."}. Both need the
 * `login` auth (admins.ts), as zlogin and zlogin -C do.
 */
import type * as http from "node:http";
import type * as net from "node:net";
import { Duplex } from "node:stream";
import { startLogin } from "../login.js";
import type { Api } from "./api.js";
import { dimension, parseControl } from "./control.js";
import { errorEnvelope } from "./envelope.js";
import { ApiError, badRequest, toApiError } from "./errors.js";
import type { Caller, Router } from "./router.js";
import { Terminal } from "./terminal.js";
import { acceptWebSocket, handshakeProblem, refuseUpgrade, type WebSocket } from "./websocket.js";
import { entryOf } from "./zones.js";

const PATH = /^\/1\.0\/zones\/([^/]+)\/(console|login)$/;
const MAX_BUFFERED = 1024 * 1024;

/** The WebSocket as the console's stream: binary frames in are keystrokes, text frames control. */
function consoleStream(ws: WebSocket, control: (text: string) => void): Duplex {
  const d = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      if (ws.open && ws.socket.writableLength <= MAX_BUFFERED) ws.send(chunk);
      cb();
    },
    read() {},
    final(cb) {
      ws.close(1000, "the zone halted");
      cb();
    },
  });
  ws.on("message", (data, binary) => (binary ? d.push(data) : control(data.toString("utf8"))));
  ws.on("close", () => d.destroy());
  d.on("error", () => undefined);
  return d;
}

function console_(api: Api, zone: string, ws: WebSocket): void {
  const d = consoleStream(ws, (text) => {
    try {
      const c = parseControl(text);
      if (c.command !== "window-resize") throw new Error(`the console takes window-resize only, not ${c.command}`);
      api.daemon.consoles.resize(zone, c.height, c.width);
    } catch (e) {
      ws.send(JSON.stringify({ error: (e as Error).message }));
    }
  });
  api.daemon.consoles.join(zone, d, false, Buffer.alloc(0));
}

function size(q: URLSearchParams, k: string, dflt: number): number {
  const v = q.get(k);
  try {
    return v === null ? dflt : dimension(v, k);
  } catch (e) {
    throw badRequest(`login: ${(e as Error).message}`);
  }
}

/** Checks before the handshake, so that a refusal is a plain HTTP error envelope. */
function upgrade(api: Api, req: http.IncomingMessage, socket: net.Socket, head: Buffer, caller: Caller): boolean {
  const url = new URL(req.url ?? "/", "http://zoneadmd");
  const m = PATH.exec(url.pathname);
  if (!m) return false;
  const kind = m[2] as "console" | "login";
  try {
    let zone: string;
    try {
      zone = decodeURIComponent(m[1]!);
    } catch {
      throw badRequest(`zone name ${JSON.stringify(m[1])} is not valid URL text`);
    }
    api.access.check(caller, kind, zone);
    const e = entryOf(api, zone);
    const no = handshakeProblem(req);
    if (no) throw badRequest(no);
    if (kind === "console") {
      if (e.state === "configured" || e.state === "incomplete") throw new ApiError(409, `zone is ${e.state}; its console exists from installed on`);
      if (api.daemon.consoles.busy(zone)) throw new ApiError(409, "the console is in use by another zlogin -C; only one may attach at a time");
      console_(api, zone, acceptWebSocket(req, socket, head));
      return true;
    }
    if (e.state !== "running") throw new ApiError(409, `zone is ${e.state}; login needs it running`);
    const height = size(url.searchParams, "height", 24);
    const width = size(url.searchParams, "width", 80);
    const term = new Terminal((stdio) => startLogin(api.daemon.paths, api.daemon.platform, zone, { user: "root", safe: false, terminal: true, argv: [], term: "xterm-256color" }, caller.uid, stdio, { consoleSize: { height, width } }), height, width);
    term.attach(acceptWebSocket(req, socket, head), true);
  } catch (e) {
    const err = toApiError(e, (x) => api.daemon.log(`api: internal error: ${x.stack ?? x.message}`));
    refuseUpgrade(socket, err.status, errorEnvelope(err.status, err.message));
  }
  return true;
}

export function register(router: Router, api: Api): void {
  const plain = (): never => {
    throw badRequest("this is a WebSocket: send Upgrade: websocket");
  };
  router.add("GET", "/1.0/zones/:name/console", { verb: "console", zone: "name" }, { summary: "The zone console, both ways (WebSocket; text frames: window-resize)", websocket: true }, plain);
  router.add("GET", "/1.0/zones/:name/login", { verb: "login", zone: "name" }, { summary: "A login shell as the zone's root on a pty (WebSocket; text frames: window-resize, signal)", websocket: true }, plain);
  router.upgrade((req, socket, head, caller) => upgrade(api, req, socket, head, caller));
}
