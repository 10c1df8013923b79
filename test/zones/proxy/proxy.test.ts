/**
 * The zones' package proxy (src/daemon/proxy.ts) from a real shared-IP zone: it fetches
 * the host's Debian archive for the zone (real traffic to deb.debian.org from the
 * global zone: one small file), and refuses every other host, path, method, tunnel,
 * traversal and oversized request with a one-line reason; the zone itself has no way
 * off the machine; the listener goes with the last zone on the bridge.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { hostSources } from "../../../src/platform/archives.js";
import { proxyAptFiles } from "../../../src/platform/brands/aptproxy.js";
import { bridgeName, nftTable } from "../../../src/platform/network/plan.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("proxy");
// A private /24 per root (10.213.60-99.0: lifecycle/failures has 51-54), never routed off this machine.
const X = 60 + (parseInt(createHash("sha256").update(root.dir).digest("hex").slice(0, 4), 16) % 40);
const GW = `10.213.${X}.1`;
const V6 = `fd00:213:${X}::`;
const PORT = 3142;
const zp = (n: string): string => path.join(root.dir, "zones", n);
const debian = hostSources().archives.find((a) => a.mount === "/debian");

after(() => root.remove());

/** What the zone's busybox nc gets back for the raw request `req` to the proxy. */
function raw(req: string): string {
  // printf's format: a literal % is %%.
  const r = root.run("zlogin", ["p", `printf '${req.replace(/%/g, "%%")}' | timeout 5 nc ${GW} ${PORT}`]);
  return r.stdout;
}

/** A GET from inside the zone (busybox wget; its -T crashes, so timeout bounds it). */
function wget(url: string, proxied = false): { status: number; stdout: string; stderr: string } {
  const env = proxied ? `http_proxy=http://${GW}:${PORT} ` : "";
  return root.run("zlogin", ["p", `${env}timeout 10 wget -q -O - '${url}'`]);
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const listening = (addr = GW): boolean => spawnSync("ss", ["-Hltn", `src ${addr.includes(":") ? `[${addr}]` : addr}:${PORT}`], { encoding: "utf8" }).stdout.includes(`:${PORT}`);

describe("package proxy", { concurrency: false, skip: debian ? false : "the host's apt sources name no /debian archive" }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "p", `create; set zonepath=${zp("p")}; set brand=minimal; add net; set physical=zbr0; set address=10.213.${X}.2/24; set defrouter=${GW}; end; add net; set physical=zbr0; set address=${V6}2/64; set defrouter=${V6}1; end;`]);
    root.ok("zoneadm", ["-z", "p", "install"]);
    // A cache of this root's own, not the host-wide one; one upstream fetch at a time.
    fs.writeFileSync(path.join(root.paths.configDir, "zoneadmd.conf"), `proxy-cache=${root.dir}/cache\nproxy-cache-size=10M\nproxy-fetches=1\n`, { mode: 0o644 });
    const r = root.run("zoneadm", ["-z", "p", "boot"]);
    assert.equal(r.status, 0, r.stderr);
  });

  test("the zone fetches the host's archive through the proxy, as from a mirror and as through a proxy", () => {
    const m = wget(`http://${GW}:${PORT}/debian/dists/bookworm/Release`);
    assert.equal(m.status, 0, m.stderr);
    assert.match(m.stdout, /^Origin: Debian$/m);
    assert.match(m.stdout, /^Codename: bookworm$/m);
    // apt's Acquire::http::Proxy form: the archive's own URL, asked of the proxy.
    const p = wget(`http://${debian!.host}${debian!.path}/dists/bookworm/Release`, true);
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stdout, m.stdout);
    // The IPv6 default router is a listener too.
    assert.equal(wget(`http://[${V6}1]:${PORT}/debian/dists/bookworm/Release`).stdout, m.stdout);
  });

  test("a package fetched once is kept, and served from the cache the next time", () => {
    const show = spawnSync("apt-cache", ["show", "hello"], { encoding: "utf8" }).stdout;
    const file = /^Filename: (\S+)$/m.exec(show)?.[1] ?? "pool/main/h/hello/hello_2.10-3_amd64.deb";
    const url = `http://${GW}:${PORT}/debian/${file}`;
    const sum = (): string => root.ok("zlogin", ["p", `rm -f /tmp/h.deb; timeout 10 wget -q -O /tmp/h.deb ${url} && sha256sum /tmp/h.deb`]).split(" ")[0]!;
    const first = sum();
    const kept = fs.readdirSync(path.join(root.dir, "cache"));
    assert.equal(kept.length, 1, kept.join(" "));
    assert.equal(createHash("sha256").update(fs.readFileSync(path.join(root.dir, "cache", kept[0]!))).digest("hex"), first);
    const sha = /^SHA256: (\S+)$/m.exec(show)?.[1];
    if (sha) assert.equal(first, sha, "the archive's own checksum");
    assert.match(raw(`HEAD /debian/${file} HTTP/1.0\\r\\n\\r\\n`), /^HTTP\/1\.1 200 OK\r\n[^]*x-zones-proxy: cache hit\r\n/i);
    assert.equal(sum(), first);
  });

  test("another host, a path outside the archives, a query and traversal are refused with 403 naming what is allowed", () => {
    for (const target of ["http://example.com/", "/etc/passwd", "/debianx/dists/bookworm/Release", "/debian/../../etc/passwd", "/debian/%2e%2e/x", "/debian/dists%2f..%2fx", "/debian/dists?x=1"]) {
      const out = raw(`GET ${target} HTTP/1.0\\r\\n\\r\\n`);
      assert.match(out, /^HTTP\/1\.1 403 Forbidden\r\n/, target);
      assert.match(out, /\r\n\r\nzones package proxy serves only the host's archives: \/debian \(http:\/\/deb\.debian\.org\/debian\).*; refused "/, target);
      assert.equal(out.split("\r\n\r\n")[1]!.trimEnd().split("\n").length, 1, `one line for ${target}`);
    }
    const w = wget("http://example.com/", true);
    assert.notEqual(w.status, 0);
    assert.match(w.stderr, /403/);
  });

  test("a peer outside the bridge's subnet gets no answer, even routed to the bridge address", () => {
    const r = spawnSync("curl", ["-s", "-m", "3", "--interface", "127.0.0.1", "-o", "/dev/null", "-w", "%{http_code}", `http://${GW}:${PORT}/debian/dists/bookworm/Release`], { encoding: "utf8" });
    assert.equal(r.stdout, "000");
    assert.ok([52, 56].includes(r.status ?? -1), `curl exit ${r.status}: closed unanswered`);
  });

  test("one zone may hold 16 connections at once; the 17th is told so", () => {
    const out = root.ok("zlogin", ["p", `for i in $(seq 17); do (sleep 3 | nc ${GW} ${PORT} > /tmp/c$i) & done; sleep 1.5; cat /tmp/c*; wait`]);
    assert.match(out, /^HTTP\/1\.1 503 [^]*zones package proxy: 16 connections from 10\.213\.\d+\.2 already; try again$/m);
    assert.equal(out.match(/HTTP\/1\.1 503/g)?.length, 1);
  });

  test("upstream fetches at once are bounded (proxy-fetches=1): the one over is told so; a client that leaves frees its slot", () => {
    // The first fetch is held open by a client that stops reading (a large index), then leaves.
    const req = (p: string): string => `printf 'GET ${p} HTTP/1.0\\r\\n\\r\\n'; sleep 1`;
    const held = `((${req("/debian/dists/bookworm/main/binary-amd64/Packages.xz")}; sleep 1) | nc ${GW} ${PORT} | sleep 2) &`;
    const second = `(${req("/debian/dists/bookworm/Release")}) | timeout 3 nc ${GW} ${PORT}`;
    // And one that leaves before the archive answers (busybox nc quits at the end of its input).
    const early = `printf 'GET /debian/dists/bookworm/InRelease HTTP/1.0\\r\\n\\r\\n' | nc ${GW} ${PORT}`;
    const out = root.ok("zlogin", ["p", `${held} sleep 1; ${second}; wait; ${early}; sleep 1; echo AFTER; ${second}`]);
    const [during, after] = out.split("AFTER\n");
    assert.match(during!, /^HTTP\/1\.1 503 [^]*\r\nretry-after: 5\r\n[^]*zones package proxy: 1 fetch already under way; try again$/m);
    assert.match(after!, /^HTTP\/1\.1 200 OK\r\n[^]*^Codename: bookworm$/m);
  });

  test("CONNECT, other methods, a body and huge headers are refused", () => {
    assert.match(raw(`CONNECT ${debian!.host}:443 HTTP/1.1\\r\\nHost: ${debian!.host}:443\\r\\n\\r\\n`), /^HTTP\/1\.1 405 Method Not Allowed\r\n[^]*\r\n\r\nzones package proxy: CONNECT is refused; only GET and HEAD of \/debian /);
    assert.match(raw("POST /debian/x HTTP/1.0\\r\\nContent-Length: 0\\r\\n\\r\\n"), /^HTTP\/1\.1 405 [^]*method "POST" is refused/);
    assert.match(raw("GET /debian/x HTTP/1.0\\r\\nContent-Length: 3\\r\\n\\r\\nabc"), /^HTTP\/1\.1 400 [^]*a request with a body is refused/);
    assert.match(raw("GET /debian/x HTTP/1.1\\r\\nHost: a\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n3\\r\\nabc\\r\\n0\\r\\n\\r\\n"), /^HTTP\/1\.1 400 [^]*a request with a body is refused/);
    const big = root.run("zlogin", ["p", `(printf 'GET /debian/x HTTP/1.1\\r\\nHost: a\\r\\nX: '; head -c 10000 /dev/zero | tr '\\0' a; printf '\\r\\n\\r\\n') | timeout 5 nc ${GW} ${PORT}`]);
    assert.match(big.stdout, /^HTTP\/1\.1 431 [^]*request headers over 8192 bytes are refused/);
  });

  test("the zone has no way off the machine but the proxy: no forwarding, no NAT", () => {
    // The host forwards nothing: a zone's packet to an outside address goes to the
    // global zone (its default router) and ends there.
    assert.equal(fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(), "0");
    const nat = spawnSync("nft", ["list", "ruleset"], { encoding: "utf8" }).stdout;
    assert.doesNotMatch(nat, /masquerade|snat/);
    const out = root.run("zlogin", ["p", `timeout 4 wget -q -O - http://${debian!.host}/debian/ || echo refused`]);
    assert.match(out.stdout + out.stderr, /refused|bad address|unreachable|timed out/i);
    // Its only router is the global zone on its bridge.
    assert.doesNotMatch(root.ok("zlogin", ["p", "ip route"]), /via (?!10\.213\.)/);
    // And that holds where the host forwards: the root's table drops whatever the global
    // zone would route from a zone bridge elsewhere. Forwarding is turned on for this
    // test's bridge alone (IPv4 decides by the receiving link), not for the host.
    // Every root's table guards every zone bridge, and the first drop ends the packet, so
    // a test root of a test running beside this one may be the one that counts it: the
    // guards' counters are summed over the whole ruleset, once this root's is seen there.
    const fwd = (): number => {
      const out = spawnSync("nft", ["list", "chain", "inet", nftTable(root.paths.hostPrefix), "forward"], { encoding: "utf8" }).stdout;
      assert.match(out, /iifname "zb\*" oifname != "zb\*" counter packets \d+ bytes \d+ drop/, `no forward guard in ${out}`);
      assert.match(out, /oifname "zb\*" iifname != "zb\*" counter packets \d+ bytes \d+ drop/);
      const all = spawnSync("nft", ["list", "ruleset"], { encoding: "utf8" }).stdout;
      return [...all.matchAll(/iifname "zb\*" oifname != "zb\*" counter packets (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const before = fwd();
    const knob = `/proc/sys/net/ipv4/conf/${bridgeName(root.paths.hostPrefix, "zbr0")}/forwarding`;
    fs.writeFileSync(knob, "1");
    try {
      // Long enough for the SYN to leave even on a loaded machine; each retransmission counts too.
      root.run("zlogin", ["p", "timeout 3 wget -q -O - http://198.18.0.1/"]);
    } finally {
      fs.writeFileSync(knob, "0");
    }
    assert.ok(fwd() > before, "the zone's packet to 198.18.0.1 was dropped by the guard, not routed out");
  });

  test("apt's own http method in a sparse zone fetches through the proxy, configured as proxyAptFiles writes it", () => {
    root.ok("zonecfg", ["-z", "s", `create; set zonepath=${zp("s")}; add net; set physical=zbr0; set address=10.213.${X}.3/24; set defrouter=${GW}; end;`]);
    root.ok("zoneadm", ["-z", "s", "install"]);
    root.ok("zoneadm", ["-z", "s", "boot"]);
    const conf = proxyAptFiles(GW, PORT, hostSources()).find((f) => f.path.startsWith("etc/apt/apt.conf.d/"))!;
    root.ok("zlogin", ["s", `mkdir -p /etc/apt/apt.conf.d && cat > /${conf.path}`], conf.content);
    const helper = (url: string): string => root.ok("zlogin", ["s", `rm -f /tmp/R; /usr/lib/apt/apt-helper download-file ${url} /tmp/R >/dev/null && grep ^Codename: /tmp/R`]);
    // The archive's own URL goes through the proxy; the proxy's mirror URL goes to it DIRECT.
    assert.equal(helper(`http://${debian!.host}${debian!.path}/dists/bookworm/Release`), "Codename: bookworm\n");
    assert.equal(helper(`http://${GW}:${PORT}/debian/dists/bookworm/Release`), "Codename: bookworm\n");
    const other = root.run("zlogin", ["s", "/usr/lib/apt/apt-helper download-file http://example.com/ /tmp/R"]);
    assert.notEqual(other.status, 0);
    assert.match(other.stdout + other.stderr, /403/);
    root.ok("zoneadm", ["-z", "s", "halt"]);
  });

  test("a zoneadmd killed with SIGKILL leaves the zone running; the next one listens again", async () => {
    root.killDaemon();
    await until("the old listener to go", () => !listening());
    root.ok("zlogin", ["p", "true"]);
    await until("the new daemon to listen", listening);
    assert.match(wget(`http://${GW}:${PORT}/debian/dists/bookworm/Release`).stdout, /^Codename: bookworm$/m);
  });

  test("the log names the refusals, escaped; halting the zone closes the listener", () => {
    raw("GET /\\033[31mred HTTP/1.0\\r\\n\\r\\n");
    const log = fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8");
    assert.match(log, /package proxy listening on 10\.213\.\d+\.1:3142/);
    assert.match(log, /package proxy: refused "GET http:\/\/example\.com\/" from 10\.213\.\d+\.2 \(zone 'p'\)/);
    assert.doesNotMatch(log, /\x1b/);
    assert.ok(listening() && listening(`${V6}1`));
    root.ok("zoneadm", ["-z", "p", "halt"]);
    assert.ok(!listening() && !listening(`${V6}1`), "no listener once no zone is on the bridge");
    for (const family of ["bridge", "inet"]) assert.notEqual(spawnSync("nft", ["list", "table", family, nftTable(root.paths.hostPrefix)], { stdio: "ignore" }).status, 0, `${family} table gone`);
  });

  test("offline: proxy-mirror=file:///dir serves a local mirror at the same paths, and nothing else; proxy-only=off", () => {
    const mirror = path.join(root.dir, "mirror");
    fs.mkdirSync(path.join(mirror, "debian/dists/bookworm"), { recursive: true });
    fs.writeFileSync(path.join(mirror, "debian/dists/bookworm/Release"), "Origin: local mirror\n");
    fs.writeFileSync(path.join(mirror, "secret"), "not served\n");
    // proxy-only=off too: a host that routes its zones (NAT) keeps the forward chain empty.
    fs.writeFileSync(path.join(root.paths.configDir, "zoneadmd.conf"), `proxy-mirror=file://${mirror}\nproxy-only=off\n`, { mode: 0o644 });
    root.ok("zoneadm", ["-z", "p", "boot"]);
    assert.doesNotMatch(spawnSync("nft", ["list", "chain", "inet", nftTable(root.paths.hostPrefix), "forward"], { encoding: "utf8" }).stdout, /drop/);
    assert.equal(wget(`http://${GW}:${PORT}/debian/dists/bookworm/Release`).stdout, "Origin: local mirror\n");
    assert.match(raw("GET /debian/dists/bookworm/InRelease HTTP/1.0\\r\\n\\r\\n"), /^HTTP\/1\.1 404 [^]*no "\/debian\/dists\/bookworm\/InRelease" in the local mirror/);
    assert.match(raw("GET /debian/../secret HTTP/1.0\\r\\n\\r\\n"), /^HTTP\/1\.1 403 [^]*\/debian \(file:\/\//);
    root.ok("zoneadm", ["-z", "p", "halt"]);
  });
});
