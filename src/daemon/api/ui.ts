/**
 * The web console's static files: `GET /` is the dashboard's page, `GET /ui/<file>` its
 * scripts and styles (the checkout's top-level web/), `GET /ui/vendor/<file>` xterm.js
 * from node_modules (npm's @xterm/xterm, pinned; never a CDN: the page runs offline and
 * loads nothing the daemon does not serve). Only a fixed set of names is served, so a
 * request path never becomes a file path (no `..`, no links followed).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { ApiRequest, ApiResult, Router } from "./router.js";
import { ApiError } from "./errors.js";

export interface UiFile {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * Scripts only from the daemon itself, no inline script, no framing (clickjacking of the
 * action buttons), no referrer (the one-time login URL carries a token). Inline styles
 * stay allowed: xterm.js writes its theme into a <style> element.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-cache",
};

/** The vendored files: request name → path under node_modules. */
const VENDOR: Record<string, string> = {
  "xterm.mjs": "@xterm/xterm/lib/xterm.mjs",
  "xterm.css": "@xterm/xterm/css/xterm.css",
  "addon-fit.mjs": "@xterm/addon-fit/lib/addon-fit.mjs",
};

/** A file of web/: lower-case letters, digits and dashes, one known extension. */
const PAGE_FILE = /^[a-z0-9-]+\.(html|js|css|svg)$/;

/**
 * The checkout's top: the first directory above this module holding web/index.html
 * (dist/bin for the bundled daemon, dist/src/daemon/api for the compiled one).
 */
function findTop(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, "web", "index.html"))) return dir;
    dir = path.dirname(dir);
  }
  return undefined;
}

export class UiFiles {
  private readonly cache = new Map<string, UiFile>();

  constructor(private readonly top: string | undefined = findTop()) {}

  /** The file for a GET of `pathname`, or undefined when it is none of the console's (the router answers 404). */
  get(pathname: string): UiFile | undefined {
    const hit = this.cache.get(pathname);
    if (hit) return hit;
    const file = this.resolve(pathname);
    if (file === undefined) return undefined;
    let body: Buffer;
    try {
      // The files are few and small (xterm.mjs ~340 KiB): read once, served from memory.
      body = fs.readFileSync(file);
    } catch {
      return undefined;
    }
    const out: UiFile = { status: 200, headers: { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", ...SECURITY_HEADERS }, body };
    this.cache.set(pathname, out);
    return out;
  }

  /** The path a request name stands for, from the fixed set only. */
  private resolve(pathname: string): string | undefined {
    if (this.top === undefined) return undefined;
    if (pathname === "/" || pathname === "/ui" || pathname === "/ui/") return path.join(this.top, "web", "index.html");
    if (pathname.startsWith("/ui/vendor/")) {
      const rel = VENDOR[pathname.slice("/ui/vendor/".length)];
      return rel === undefined ? undefined : path.join(this.top, "node_modules", rel);
    }
    if (pathname.startsWith("/ui/")) {
      const name = pathname.slice("/ui/".length);
      return PAGE_FILE.test(name) ? path.join(this.top, "web", name) : undefined;
    }
    return undefined;
  }
}

/**
 * The console's routes. Anyone may fetch them: they are the same files for everyone and
 * hold no zone's data (the page asks the API for that, as its caller).
 */
export function register(router: Router): void {
  const files = new UiFiles();
  const serve = (r: ApiRequest, pathname: string): ApiResult => {
    const f = files.get(pathname);
    if (!f) throw new ApiError(404, `no such web console file ${JSON.stringify(pathname)}`);
    r.res.writeHead(f.status, { ...f.headers, "content-length": String(f.body.length) });
    r.res.end(r.method === "HEAD" ? undefined : f.body);
    return { handled: true };
  };
  const page = { summary: "The web console's page (the dashboard)", produces: "text/html" };
  router.add("GET", "/", "anyone", page, (r) => serve(r, "/"));
  router.add("GET", "/ui", "anyone", page, (r) => serve(r, "/ui/"));
  router.add("GET", "/ui/:file", "anyone", { summary: "The web console's scripts and styles", produces: "text/javascript, text/css" }, (r) => serve(r, `/ui/${r.params.file!}`));
  router.add("GET", "/ui/vendor/:file", "anyone", { summary: "xterm.js, served from the daemon (no CDN)", produces: "text/javascript, text/css" }, (r) => serve(r, `/ui/vendor/${r.params.file!}`));
}
