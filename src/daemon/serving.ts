/**
 * Root's socket protocol (protocol.ts): one JSON line per connection, then either an
 * operation (accepted, then run only on the client's "go", to its end even if the
 * client leaves) or a console stream; and root's one-time web login URL. Its own file
 * so that how a request reaches the daemon reads apart from what it does (dispatch.ts).
 */
import type * as net from "node:net";
import { checkZoneName } from "../document/names.js";
import { ACCEPTED, type Reply, type Request } from "./protocol.js";
import type { Daemon } from "./server.js";

export function serve(this: Daemon, c: net.Socket): void {
  let buf = Buffer.alloc(0);
  const onData = (d: Buffer): void => {
    buf = Buffer.concat([buf, d]);
    const nl = buf.indexOf(0x0a);
    if (nl < 0) return;
    c.off("data", onData);
    let req: Request;
    try {
      req = JSON.parse(buf.subarray(0, nl).toString("utf8")) as Request;
    } catch {
      c.end(`${ACCEPTED}\n${JSON.stringify({ ok: false, error: "malformed request" })}\n`);
      return;
    }
    if (req.op === "console") return this.attachConsole(c, req, buf.subarray(nl + 1));
    this.serveOperation(c, req);
  };
  c.on("data", onData);
  c.on("error", () => undefined);
}

/**
 * The daemon says "accepted" and starts the operation only on the client's "go": a
 * client that gave up meanwhile (the daemon was stopped while it waited) sends none,
 * so nothing runs behind its back. Once started, an operation runs to its end even if
 * the client leaves (dropped midway it would leave a zone half-done); its outcome is
 * then logged.
 */
export function serveOperation(this: Daemon, c: net.Socket, req: Request): void {
  const what = `${req.zone ? `zone '${req.zone}': ` : ""}${req.op}`;
  let left = false;
  let started = false;
  c.on("close", () => {
    left = true;
    if (!started && req.op !== "ping") this.log(`${what}: not started: its client left before it said go`);
  });
  const onGo = (d: Buffer): void => {
    if (!d.includes(0x0a) || started) return;
    started = true;
    c.off("data", onGo);
    // Progress lines (an image build) go before the reply, each a {"progress"} line (client.ts).
    const progress = (line: string): void => void (left || c.write(JSON.stringify({ progress: line }) + "\n"));
    void this.handle(req, progress).then((reply) => {
      if (left && req.op !== "ping") this.log(`${what}: finished after its client left: ${reply.ok ? "ok" : reply.error}`);
      if (!left) c.end(JSON.stringify(reply) + "\n");
    });
  };
  c.on("data", onGo);
  c.write(ACCEPTED + "\n");
}

/** zlogin -C: from installed on, the connection carries the console both ways. */
export function attachConsole(this: Daemon, c: net.Socket, req: Request, rest: Buffer): void {
  const zone = req.zone ?? "";
  const e = (() => {
    try {
      checkZoneName(zone);
      return this.platform.repo.find(zone);
    } catch {
      return undefined;
    }
  })();
  if (!e) return void c.end(JSON.stringify({ ok: false, error: "no such zone configured" }) + "\n");
  if (e.state === "configured" || e.state === "incomplete") return void c.end(JSON.stringify({ ok: false, error: `zone is ${e.state}; its console exists from installed on` }) + "\n");
  this.consoles.attach(zone, c, req.detachOnHalt === true, rest);
}

/** zoneadm web (root's: admins.ts names no user for it): a one-time login URL on 127.0.0.1. */
export async function webLogin(this: Daemon): Promise<Reply> {
  try {
    if (!this.tcp) return { ok: false, error: "zoneadmd is still starting; try again" };
    return { ok: true, url: await this.tcp.web() };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}
