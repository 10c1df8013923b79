/**
 * The API over TCP: off unless the host's `<configDir>/zoneadmd.conf` (the root-owned
 * file platform/reserve.ts reads) says where to listen. Keys:
 *
 *   api-listen=127.0.0.1:8443     address:port ([v6]:port for IPv6; port 0: any free port)
 *   api-cert=/path/cert.pem       the administrator's certificate and key (both or neither;
 *   api-key=/path/key.pem         without them a self-signed pair is made, tlscert.ts)
 *   api-client-ca=/path/ca.pem    client certificates this CA signed are accepted; the
 *                                 certificate's CN names the host user it acts as
 *   api-client-fingerprint=AB:CD:… user
 *                                 a client certificate with this SHA-256 fingerprint
 *                                 (any issuer, self-signed too) acts as `user` (repeatable)
 *   api-origin=https://zones.example:8443
 *                                 a web origin the console's WebSockets accept besides the
 *                                 daemon's own address (origin.ts): the name by which
 *                                 browsers reach it (repeatable)
 *
 * Only TLS is served there (tcplistener.ts); who may do what is admins.ts's rule.
 */
import * as net from "node:net";
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";
import { settingLines } from "../../platform/reserve.js";

export interface ListenAddress {
  host: string;
  port: number;
}

export interface TcpSettings {
  /** Undefined: TCP is off (the default). */
  listen?: ListenAddress;
  cert?: string;
  key?: string;
  clientCa?: string;
  /** SHA-256 fingerprints (as X509Certificate.fingerprint256 writes them) -> host user. */
  clientPins: Map<string, string>;
  /** Web origins accepted besides the address served (api-origin=), normalized; absent when none. */
  origins?: string[];
}

const KEYS = ["api-listen", "api-cert", "api-key", "api-client-ca", "api-client-fingerprint", "api-origin"];

/** `host:port` or `[v6]:port` as the setting gives it. */
export function parseListen(where: string, value: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(value);
  const host = m ? (m[1] ?? m[2]!) : "";
  const port = m ? Number(m[3]) : NaN;
  if (!m || net.isIP(host) === 0 || !(port >= 0 && port <= 65535))
    throw new ZoneError(`${where} must be an IP address and a port (127.0.0.1:8443, [::1]:8443): ${q(value)}`);
  return { host, port };
}

/** `https://name[:port]` as the setting gives it, in the form a browser sends it (URL's origin). */
export function parseOrigin(where: string, value: string): string {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  // Nothing but scheme, host and port: a path or a user would never match an Origin header.
  const bare = u !== undefined && u.protocol === "https:" && u.username === "" && u.password === "" && u.search === "" && u.hash === "" && u.pathname === "/";
  if (!bare) throw new ZoneError(`${where} must be an https origin, a name and a port with no path (https://zones.example:8443): ${q(value)}`);
  return u!.origin;
}

/** The TCP settings of `file` (zoneadmd.conf); one line per mistake. */
export function tcpSettings(file: string): TcpSettings {
  const s: TcpSettings = { clientPins: new Map() };
  settingLines(file).forEach(({ name, value, where: line }) => {
    if (name === "") return;
    const where = `${line}: ${name}`;
    if (name === "api-listen") s.listen = value === "off" ? undefined : parseListen(where, value);
    else if (name === "api-cert" || name === "api-key" || name === "api-client-ca") {
      if (!path.isAbsolute(value) || value.includes("\0")) throw new ZoneError(`${where} must be an absolute file path: ${q(value)}`);
      if (name === "api-cert") s.cert = value;
      else if (name === "api-key") s.key = value;
      else s.clientCa = value;
    } else if (name === "api-client-fingerprint") {
      const m = /^((?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{64})\s+([A-Za-z0-9_][A-Za-z0-9_.-]{0,31})$/.exec(value);
      if (!m) throw new ZoneError(`${where} must be a SHA-256 fingerprint (openssl x509 -fingerprint -sha256) and a host user: ${q(value)}`);
      const hex = m[1]!.replace(/:/g, "").toUpperCase();
      s.clientPins.set(hex.match(/../g)!.join(":"), m[2]!);
    } else if (name === "api-origin") {
      s.origins = [...(s.origins ?? []), parseOrigin(where, value)];
    } else if (name.startsWith("api-")) throw new ZoneError(`${line}: unknown setting ${q(name)}; known: ${KEYS.join(", ")}`);
  });
  if ((s.cert === undefined) !== (s.key === undefined)) throw new ZoneError(`${file}: api-cert and api-key go together: set both or neither`);
  return s;
}

/** How an address is written in a URL. */
export function urlHost(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}
