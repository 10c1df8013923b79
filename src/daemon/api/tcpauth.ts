/**
 * Who a request on the API's TCP listener comes from: a bearer token (tokens.ts), the
 * web console's session cookie (weblogin.ts) or a client certificate: one whose
 * SHA-256 fingerprint api-client-fingerprint= pins acts as the user it names; else one
 * the CA of api-client-ca signed acts as its CN's host user ("root" for root). What that
 * caller may do is then admins.ts's `refusal`, the one rule for commands and API.
 *
 * Every failed authentication is logged (the log's rate limit for the global zone's
 * "api authentication" kind keeps a flood to a few lines) and costs its source address
 * one unit of a token bucket: an address that spent its budget is answered 429 without
 * any check until the bucket refills, so guessing cannot go faster than the refill.
 */
import type * as http from "node:http";
import type * as tls from "node:tls";
import { printable } from "../../native/printable.js";
import { q } from "../../native/errors.js";
import { hostUsers } from "../../platform/hostusers.js";
import type { LogFn } from "../log.js";
import type { Caller } from "./router.js";
import type { TokenStore } from "./tokens.js";
import { SESSION_COOKIE, cookieValue, type WebLogins } from "./weblogin.js";

/** The caller: its `token` says which credential (the token's name, `cert:CN` or `web`; never a secret). */
export type { Caller };

export type AuthResult = { caller: Caller } | { status: 401 | 429; error: string; retryAfter?: number };

/** Failures an address may make at once, and how fast it gets them back. */
export const FAILURE_BURST = 10;
export const FAILURE_REFILL_MS = 2_000;
/** Addresses tracked at most: past that the fullest buckets (the least suspicious) go. */
const MAX_ADDRESSES = 4096;

interface Bucket {
  level: number;
  at: number;
}

/** A token bucket of failures per source address. */
export class FailureLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly burst = FAILURE_BURST,
    private readonly refillMs = FAILURE_REFILL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  private bucket(addr: string): Bucket {
    const t = this.now();
    const b = this.buckets.get(addr) ?? { level: this.burst, at: t };
    b.level = Math.min(this.burst, b.level + (t - b.at) / this.refillMs);
    b.at = t;
    return b;
  }

  /** Milliseconds until `addr` may try again; 0 when it may now. */
  wait(addr: string): number {
    const b = this.bucket(addr);
    return b.level >= 1 ? 0 : Math.ceil((1 - b.level) * this.refillMs);
  }

  fail(addr: string): void {
    const b = this.bucket(addr);
    b.level = Math.max(0, b.level - 1);
    this.buckets.delete(addr);
    this.buckets.set(addr, b);
    if (this.buckets.size > MAX_ADDRESSES) {
      for (const [a, x] of this.buckets) if (x.level >= this.burst - 1) this.buckets.delete(a);
      while (this.buckets.size > MAX_ADDRESSES) this.buckets.delete(this.buckets.keys().next().value!);
    }
  }
}

/** The uid of host user `name` ("root" is 0), or undefined when /etc/passwd lacks it. */
function uidOf(name: string, passwd?: string): number | undefined {
  if (name === "root") return 0;
  return hostUsers(passwd).find((u) => u.name === name)?.uid;
}

export class Authenticator {
  readonly limiter: FailureLimiter;
  /** Pinned client certificates: fingerprint256 -> host user (tcpsettings.ts). */
  pins: ReadonlyMap<string, string> = new Map();

  constructor(
    private readonly tokens: TokenStore,
    readonly web: WebLogins,
    private readonly log: LogFn,
    private readonly clientCerts: boolean,
    limiter?: FailureLimiter,
    private readonly passwd?: string,
  ) {
    this.limiter = limiter ?? new FailureLimiter();
  }

  /** The source address a request is limited by (the port changes with every connection). */
  static source(req: http.IncomingMessage): string {
    return req.socket.remoteAddress ?? "unknown";
  }

  /** Refuse an address that failed too often; undefined when it may try. */
  limited(req: http.IncomingMessage): AuthResult | undefined {
    const wait = this.limiter.wait(Authenticator.source(req));
    if (wait === 0) return undefined;
    const secs = Math.ceil(wait / 1000);
    return { status: 429, error: `too many failed authentications from ${Authenticator.source(req)}; retry in ${secs} s`, retryAfter: secs };
  }

  /** A failed authentication: logged (rate-limited) and charged to its address. */
  failed(req: http.IncomingMessage, why: string): AuthResult {
    const src = Authenticator.source(req);
    this.limiter.fail(src);
    this.log(`API over TCP: failed authentication from ${src}: ${why} (${printable(req.method ?? "")} ${printable((req.url ?? "").split("?")[0]!.slice(0, 200))})`, { zone: "global", kind: "api authentication" });
    return { status: 401, error: `authentication failed: ${why}` };
  }

  authenticate(req: http.IncomingMessage): AuthResult {
    const limited = this.limited(req);
    if (limited) return limited;
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer ([A-Za-z0-9_.~+/=-]{1,512})$/.exec(auth);
      if (!m) return this.failed(req, "the Authorization header is not 'Bearer <token>'");
      let entry;
      try {
        entry = this.tokens.find(m[1]!);
      } catch (e) {
        this.log(`API over TCP: tokens unreadable: ${(e as Error).message}`);
        return this.failed(req, "the token file cannot be read");
      }
      if (!entry) return this.failed(req, "unknown or revoked token");
      const uid = uidOf(entry.user, this.passwd);
      if (uid === undefined) return this.failed(req, `token ${q(entry.name)} acts as user ${q(entry.user)}, who is not in /etc/passwd`);
      return { caller: { uid, via: "tls", token: entry.name } };
    }
    const cookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (cookie !== undefined) {
      const s = this.web.session(cookie);
      if (!s) return this.failed(req, "unknown or expired web session");
      return { caller: { uid: s.uid, via: "tls", token: "web" } };
    }
    const sock = req.socket as tls.TLSSocket;
    const peer = this.clientCerts && typeof sock.getPeerCertificate === "function" ? sock.getPeerCertificate() : undefined;
    if (peer && Object.keys(peer).length > 0) {
      const pinned = this.pins.get(peer.fingerprint256 ?? "");
      if (pinned !== undefined) {
        const uid = uidOf(pinned, this.passwd);
        if (uid === undefined) return this.failed(req, `pinned client certificate acts as user ${q(pinned)}, who is not in /etc/passwd`);
        return { caller: { uid, via: "tls", token: `cert:${pinned}` } };
      }
      if (!sock.authorized) return this.failed(req, `client certificate not trusted: ${String(sock.authorizationError)}`);
      const cn = typeof peer.subject?.CN === "string" ? peer.subject.CN : "";
      const uid = uidOf(cn, this.passwd);
      if (uid === undefined) return this.failed(req, `client certificate CN ${q(cn)} names no host user`);
      return { caller: { uid, via: "tls", token: `cert:${cn}` } };
    }
    return { status: 401, error: "authentication required: a bearer token (zoneadm token create) or a client certificate" };
  }
}
