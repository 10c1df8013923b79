/**
 * The Origin rule of WebSocket upgrades (console, login, exec streams). A browser sends
 * a page's cookies (tcpauth.ts's session) with a WebSocket to any site, and no CORS
 * check stands in its way, so a page of another origin could open a zone's console in
 * the name of a logged-in administrator (cross-site WebSocket hijacking). So:
 *   no Origin    a client that is no browser (zlogin, curl, scripts): accepted
 *   over TLS     only the origin the daemon serves on that connection: https:// and
 *                the address and port the client reached (the listener's; a wildcard
 *                listener's is the one connected to), or "localhost" for a loopback
 *                address. The address, not the Host header: a page whose name was
 *                rebound to the daemon's address sends its own name in both. Besides
 *                it, the origins zoneadmd.conf names (api-origin=, tcpsettings.ts): the
 *                names the administrator's browsers reach the daemon by.
 *   UNIX socket  none: the socket serves no web origin, and a browser reaches it only
 *                through a forwarder, which would lend the page its owner's uid.
 * Anything else is 403 with a line that names the Origin and what would be accepted.
 */
import type * as http from "node:http";
import type * as net from "node:net";
import type { Caller } from "./router.js";
import { urlHost } from "./tcpsettings.js";

/** api-origin= of zoneadmd.conf, as last read (tcp.ts sets it at start and at SIGHUP). */
let configured: readonly string[] = [];

export function acceptConfiguredOrigins(origins: readonly string[]): void {
  configured = origins;
}

/** The origins the daemon serves on `socket` (a TLS connection). */
export function servedOrigins(socket: net.Socket): string[] {
  const port = socket.localPort;
  let host = socket.localAddress ?? "";
  // An IPv4 client of a dual-stack listener is seen at its IPv4-mapped address.
  if (host.startsWith("::ffff:") && host.includes(".")) host = host.slice(7);
  if (port === undefined || host === "") return [];
  const out = [`https://${urlHost(host)}:${port}`];
  if (host === "::1" || host.startsWith("127.")) out.push(`https://localhost:${port}`);
  return out;
}

/** Why the upgrade `req` from `caller` on `socket` is refused for its Origin; undefined: accepted. */
export function originProblem(req: http.IncomingMessage, socket: net.Socket, caller: Caller): string | undefined {
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  if (caller.via !== "tls") return `WebSocket refused: Origin ${JSON.stringify(origin)} on the UNIX socket, which serves no web page (only clients that send no Origin)`;
  let normal: string;
  try {
    normal = new URL(origin).origin;
  } catch {
    normal = "";
  }
  const served = [...servedOrigins(socket), ...configured];
  if (served.includes(normal)) return undefined;
  return `WebSocket refused: Origin ${JSON.stringify(origin)} is not this server's (${served.map((s) => JSON.stringify(s)).join(" or ")})`;
}
