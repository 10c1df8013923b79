/**
 * API tokens (`zoneadm token create|list|revoke`): bearer tokens for the API over TCP.
 * A token is shown once, when it is made; the file keeps only its SHA-256, so reading
 * the file gives nobody a token. `<configDir>/api/tokens` (0600, in the 0700 state
 * directory) is written whole and atomically under a lock, one line per token:
 *
 *   name:user:sha256-hex:created-iso
 *
 * A token acts as root, or as the host user it names (`-u user`): then admins.ts's rule
 * for that user applies, as on the admin socket. zoneadmd reads the file again when it
 * changed, so a revoked token fails at its next request.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";
import { writeFileAtomic } from "../../native/atomic.js";
import { withLock } from "../../native/lock.js";
import { hostUsers } from "../../platform/hostusers.js";
import type { ZonePaths } from "../../document/store/paths.js";
import { apiStateDir, ensureStateDir } from "./tlscert.js";

export interface TokenEntry {
  name: string;
  /** The host user it acts as ("root" for root). */
  user: string;
  /** Hex SHA-256 of the token. */
  hash: string;
  created: string;
}

const HEADER = "# zoneadmd API tokens: name:user:sha256:created. Written by zoneadm token; do not edit.\n";
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;
/** Tokens start with this, so a leaked one is recognisable in logs and scanners. */
export const TOKEN_PREFIX = "zt_";

export function checkTokenName(name: string): void {
  if (!NAME.test(name)) throw new ZoneError(`token name must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit: ${q(name)}`);
}

export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new secret: 32 random bytes. */
export function newSecret(): string {
  return TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
}

function parse(file: string, text: string): TokenEntry[] {
  const out: TokenEntry[] = [];
  text.split("\n").forEach((line, i) => {
    if (line === "" || line.startsWith("#")) return;
    const [name, user, hash, created, ...rest] = line.split(":");
    // An ISO time holds ':' itself: the rest joins back into it.
    const when = [created, ...rest].join(":");
    if (!name || !NAME.test(name) || !user || !USER.test(user) || !hash || !/^[0-9a-f]{64}$/.test(hash))
      throw new ZoneError(`${file} line ${i + 1}: expected name:user:sha256:created: ${q(line)}`);
    out.push({ name, user, hash, created: when });
  });
  return out;
}

export class TokenStore {
  readonly file: string;
  private cache?: { mtimeMs: number; ino: number; size: number; entries: TokenEntry[] };

  constructor(readonly paths: ZonePaths) {
    this.file = path.join(apiStateDir(paths), "tokens");
  }

  /** Every token; none when there is no file. */
  list(): TokenEntry[] {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(this.file);
    } catch {
      this.cache = undefined;
      return [];
    }
    // Re-read only a file that changed (a rename makes a new inode): the daemon asks at every request.
    const c = this.cache;
    if (c && c.mtimeMs === st.mtimeMs && c.ino === st.ino && c.size === st.size) return c.entries;
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o077) !== 0) throw new ZoneError(`${this.file} must be a regular file that only root can read; refusing it`);
    const entries = parse(this.file, fs.readFileSync(this.file, "utf8"));
    this.cache = { mtimeMs: st.mtimeMs, ino: st.ino, size: st.size, entries };
    return entries;
  }

  /** Make token `name` acting as `user`; the secret is returned once and never stored. */
  create(name: string, user = "root"): string {
    checkTokenName(name);
    if (!USER.test(user) || (user !== "root" && !hostUsers().some((u) => u.name === user)))
      throw new ZoneError(`no host user ${q(user)} in /etc/passwd for the token to act as`);
    const secret = newSecret();
    this.update((entries) => {
      if (entries.some((e) => e.name === name)) throw new ZoneError(`token ${q(name)} exists already; revoke it first`);
      return [...entries, { name, user, hash: hashToken(secret), created: new Date().toISOString() }];
    });
    return secret;
  }

  revoke(name: string): void {
    checkTokenName(name);
    this.update((entries) => {
      if (!entries.some((e) => e.name === name)) throw new ZoneError(`no token named ${q(name)}`);
      return entries.filter((e) => e.name !== name);
    });
  }

  /**
   * The entry whose hash is the token's, comparing every entry in constant time (a
   * mismatch early or late in the hash, or in the list, takes the same time).
   */
  find(token: string): TokenEntry | undefined {
    const want = Buffer.from(hashToken(token), "hex");
    let found: TokenEntry | undefined;
    for (const e of this.list()) if (crypto.timingSafeEqual(want, Buffer.from(e.hash, "hex")) && !found) found = e;
    return found;
  }

  private update(fn: (entries: TokenEntry[]) => TokenEntry[]): void {
    ensureStateDir(this.paths);
    withLock(`${this.file}.lock`, () => {
      this.cache = undefined;
      const next = fn(this.list());
      writeFileAtomic(this.file, HEADER + next.map((e) => `${e.name}:${e.user}:${e.hash}:${e.created}`).join("\n") + (next.length ? "\n" : ""), 0o600);
    });
    this.cache = undefined;
  }
}
