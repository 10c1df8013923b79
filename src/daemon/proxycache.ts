/**
 * The package proxy's cache of .deb files (proxy.ts): a Debian archive never changes a
 * file under pool/ once published (a new version is a new name), so a package fetched
 * for one zone is served to the next from disk. Host-wide by default
 * (/var/cache/zones-proxy, shared by every ZONES_ROOT), keyed by the archive URL's
 * sha256, bounded in size (oldest-used removed first). apt checks every .deb against
 * the archive's signed index, so a bad entry fails apt's check and is never installed;
 * zones cannot write here, only choose which allowed package gets fetched.
 *
 * An entry is written beside its name and renamed in whole once the body is complete,
 * so readers (other roots' daemons too) see a whole file or none.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import type * as http from "node:http";
import * as path from "node:path";
import type { Archive } from "../platform/archives.js";

/** Immutable archive files worth keeping: packages under pool/. */
const CACHEABLE = /\/pool\/[^?]*\.u?deb$/;

export class DebCache {
  private size = -1;

  constructor(
    readonly dir: string,
    /** Bytes at most; 0: no cache. */
    readonly cap: number,
  ) {}

  /** The entry's file for `rest` of archive `a`, when it is a package. */
  entry(a: Archive, rest: string): string | undefined {
    if (this.cap === 0 || !CACHEABLE.test(rest)) return undefined;
    return path.join(this.dir, `${createHash("sha256").update(`${a.scheme}://${a.host}${a.path}${rest}`).digest("hex")}.deb`);
  }

  /** Serve the entry if it is there (its use time renewed for eviction); false on a miss. */
  serve(file: string, req: http.IncomingMessage, res: http.ServerResponse): boolean {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch {
      return false;
    }
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      fs.closeSync(fd);
      return false;
    }
    const now = new Date();
    fs.futimesSync(fd, now, now);
    res.writeHead(200, { "content-type": "application/vnd.debian.binary-package", "content-length": String(st.size), "x-zones-proxy": "cache hit" });
    if (req.method === "HEAD") {
      fs.closeSync(fd);
      res.end();
      return true;
    }
    const s = fs.createReadStream("", { fd });
    s.on("error", () => res.destroy());
    s.pipe(res);
    return true;
  }

  /**
   * Keep the body of a complete 200 answer as it streams by: `chunk` for each piece,
   * `end` when the upstream body ended; kept only if it is as long as it said.
   */
  writer(file: string, length: number | undefined): { chunk(b: Buffer): void; end(): void; abort(): void } {
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
    let fd = -1;
    let bytes = 0;
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch {
      // no room or no directory: served, not kept
    }
    const abort = (): void => {
      if (fd < 0) return;
      fs.closeSync(fd);
      fd = -1;
      fs.rmSync(tmp, { force: true });
    };
    return {
      chunk: (b) => {
        if (fd < 0) return;
        try {
          fs.writeSync(fd, b);
          bytes += b.length;
        } catch {
          abort();
        }
      },
      end: () => {
        if (fd < 0) return;
        if (length !== undefined && bytes !== length) return abort();
        fs.closeSync(fd);
        fd = -1;
        try {
          fs.renameSync(tmp, file);
          this.evict(bytes);
        } catch {
          fs.rmSync(tmp, { force: true });
        }
      },
      abort,
    };
  }

  /** After `added` bytes came in: remove the least recently used entries beyond the cap. */
  private evict(added: number): void {
    if (this.size >= 0 && this.size + added <= this.cap) {
      this.size += added;
      return;
    }
    // Counted again from the directory: other roots' daemons share it.
    const entries = fs
      .readdirSync(this.dir)
      .filter((n) => /^[0-9a-f]{64}\.deb$/.test(n))
      .map((n) => {
        const st = fs.statSync(path.join(this.dir, n), { throwIfNoEntry: false });
        return { n, size: st?.size ?? 0, used: st?.mtimeMs ?? 0 };
      })
      .sort((a, b) => a.used - b.used);
    let total = entries.reduce((s, e) => s + e.size, 0);
    for (const e of entries) {
      if (total <= this.cap) break;
      fs.rmSync(path.join(this.dir, e.n), { force: true });
      total -= e.size;
    }
    this.size = total;
  }
}
