/**
 * `zoneadm web`'s one-time login, as Jupyter does it: the daemon makes a secret that
 * opens one session, once, within a few minutes; the page at `/?token=…` trades it for
 * a session cookie (HttpOnly: scripts cannot read it; Secure: never sent in clear;
 * SameSite=Strict: no other site's page can make the browser use it) and the secret is
 * void from then on. Both live in the daemon's memory only: a restart ends every
 * session, and a new `zoneadm web` prints a new URL. Sessions act as root (only root
 * may run `zoneadm web`).
 */
import * as crypto from "node:crypto";

export const SESSION_COOKIE = "zones_session";
const LOGIN_TTL_MS = 5 * 60_000;
const SESSION_TTL_MS = 12 * 3600_000;
/** Unredeemed logins and live sessions kept at most (oldest go first). */
const MAX_KEPT = 256;

export interface WebSession {
  uid: number;
  expires: number;
}

/** Map keys are SHA-256 hashes of the secrets: looking one up never compares secrets byte by byte. */
function key(secret: string): string {
  return crypto.createHash("sha256").update(secret, "utf8").digest("hex");
}

function bounded<V>(m: Map<string, V>): void {
  while (m.size > MAX_KEPT) m.delete(m.keys().next().value!);
}

export class WebLogins {
  private readonly logins = new Map<string, number>();
  private readonly sessions = new Map<string, WebSession>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A new one-time login secret. */
  issue(): string {
    const secret = crypto.randomBytes(32).toString("base64url");
    this.logins.set(key(secret), this.now() + LOGIN_TTL_MS);
    bounded(this.logins);
    return secret;
  }

  /** Trade a login secret for a session secret (the cookie's value); undefined when it is unknown, used or expired. */
  redeem(secret: string): string | undefined {
    const k = key(secret);
    const expires = this.logins.get(k);
    // Used once: gone whether or not it was still valid.
    this.logins.delete(k);
    if (expires === undefined || expires < this.now()) return undefined;
    const session = crypto.randomBytes(32).toString("base64url");
    this.sessions.set(key(session), { uid: 0, expires: this.now() + SESSION_TTL_MS });
    bounded(this.sessions);
    return session;
  }

  /** The session a cookie value opens, if it is live. */
  session(secret: string): WebSession | undefined {
    const k = key(secret);
    const s = this.sessions.get(k);
    if (s && s.expires < this.now()) {
      this.sessions.delete(k);
      return undefined;
    }
    return s;
  }

  /** The Set-Cookie header value for a session. */
  static cookie(session: string): string {
    return `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}`;
  }
}

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
