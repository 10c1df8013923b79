/** The package proxy's .deb cache: only pool packages, whole bodies only, oldest used evicted past the cap. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { DebCache } from "../../src/daemon/proxycache.js";

const a = { scheme: "http" as const, host: "deb.debian.org", path: "/debian", mount: "/debian" };

test("DebCache keeps whole packages under pool/ only, and evicts the least recently used past its cap", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-debcache-"));
  try {
    const c = new DebCache(dir, 250);
    assert.equal(c.entry(a, "/dists/bookworm/Release"), undefined);
    assert.equal(new DebCache(dir, 0).entry(a, "/pool/main/h/hello/hello_1_amd64.deb"), undefined);
    const put = (name: string, n: number, claimed = n): string => {
      const e = c.entry(a, `/pool/main/${name}.deb`)!;
      const w = c.writer(e, claimed);
      w.chunk(Buffer.alloc(n, 1));
      w.end();
      return e;
    };
    const x = put("x", 100);
    const y = put("y", 100);
    assert.ok(!fs.existsSync(put("short", 50, 60)), "a body shorter than its length is not kept");
    // x used last: y is the oldest when z comes.
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(y, old, old);
    const z = put("z", 100);
    assert.deepEqual([x, y, z].map((f) => fs.existsSync(f)), [true, false, true]);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith(".part")), [], "no partial file left");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
