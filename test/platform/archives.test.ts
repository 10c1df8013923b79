/** The host's apt sources read as the package proxy's allow-list, its settings, and the zone's apt files. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { archivesOf, hostSources, parseDeb822, parseOneLine, proxySettings, PROXY_PORT } from "../../src/platform/archives.js";
import { proxyAptFiles, proxyGateway, writeAptProxy } from "../../src/platform/brands/aptproxy.js";
import { ZoneTree } from "../../src/platform/brands/tree.js";
import { blankZone } from "../../src/document/model.js";
import { readReserve } from "../../src/platform/reserve.js";

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "zones-archives-"));
}

test("one-line and deb822 sources: URIs, suites, components, signed-by; disabled stanzas and comments left out", () => {
  const one = parseOneLine("# deb http://no.example/x a\ndeb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian bookworm main contrib\ndeb-src https://a.example/d/ sid main # c\ncdrom:[x]/ a b\n");
  assert.deepEqual(one, [
    { types: ["deb"], uri: "http://deb.debian.org/debian", suites: ["bookworm"], components: ["main", "contrib"], signedBy: "/k.gpg" },
    { types: ["deb-src"], uri: "https://a.example/d/", suites: ["sid"], components: ["main"], signedBy: undefined },
  ]);
  const stanzas = parseDeb822(
    "Types: deb deb-src\n# a comment\nURIs: http://deb.debian.org/debian http://m.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" +
      "Types: deb\nURIs: http://off.example/x\nSuites: a\nEnabled: no\n\n" +
      "Types: deb\nURIs: https://inline.example/r\nSuites: s\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n x\n",
  );
  assert.deepEqual(stanzas.map((s) => [s.uri, s.types.join(","), s.suites.join(","), s.signedBy]), [
    ["http://deb.debian.org/debian", "deb,deb-src", "bookworm,bookworm-updates", "/usr/share/keyrings/debian-archive-keyring.gpg"],
    ["http://m.example/debian", "deb,deb-src", "bookworm,bookworm-updates", "/usr/share/keyrings/debian-archive-keyring.gpg"],
    ["https://inline.example/r", "deb", "s", undefined],
  ]);
});

test("the allow-list: one archive per host and path, mounted at its path, or /<host><path> when taken or empty", () => {
  const a = archivesOf(
    ["http://deb.debian.org/debian", "http://deb.debian.org/debian/", "http://deb.debian.org/debian-security", "https://m.example/debian", "http://Root.Example:8080", "file:/srv/x", "http://x.example/a/../b", "ftp://f.example/d"].map((uri) => ({ types: ["deb"], uri, suites: [], components: [] })),
  );
  assert.deepEqual(a, [
    { scheme: "http", host: "deb.debian.org", path: "/debian", mount: "/debian" },
    { scheme: "http", host: "deb.debian.org", path: "/debian-security", mount: "/debian-security" },
    { scheme: "https", host: "m.example", path: "/debian", mount: "/m.example/debian" },
    { scheme: "http", host: "root.example:8080", path: "", mount: "/root.example:8080" },
  ]);
});

test("hostSources reads sources.list and sources.list.d/*.list|*.sources only", () => {
  const etc = tmp();
  try {
    fs.mkdirSync(path.join(etc, "apt/sources.list.d"), { recursive: true });
    fs.writeFileSync(path.join(etc, "apt/sources.list"), "deb http://deb.debian.org/debian bookworm main\n");
    fs.writeFileSync(path.join(etc, "apt/sources.list.d/sec.sources"), "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n");
    fs.writeFileSync(path.join(etc, "apt/sources.list.d/x.list.disabled"), "deb http://no.example/d a\n");
    assert.deepEqual(hostSources(etc).archives.map((a) => a.mount), ["/debian", "/debian-security"]);
  } finally {
    fs.rmSync(etc, { recursive: true, force: true });
  }
});

test("proxy settings from zoneadmd.conf: defaults, proxy-port, proxy-mirror, proxy=off; mistakes are one line; reserve.ts leaves them alone", () => {
  const dir = tmp();
  const f = path.join(dir, "zoneadmd.conf");
  try {
    assert.deepEqual(proxySettings(f), { enabled: true, only: true, port: PROXY_PORT, fetches: 16, cache: "/var/cache/zones-proxy", cacheSize: 1 << 30 });
    fs.writeFileSync(f, "reserve-pids=2000\nproxy-port=3150\nproxy-mirror=file:///srv/mirror/\nproxy-fetches=4\nproxy=off\nproxy-only=off\nproxy-cache=off\nproxy-cache-size=50M\n", { mode: 0o644 });
    assert.deepEqual(proxySettings(f), { enabled: false, only: false, port: 3150, mirror: "/srv/mirror", fetches: 4, cache: "", cacheSize: 50 << 20 });
    assert.equal(readReserve(f, { memory: 1 << 30, pids: 100_000 }).pids, 2000);
    for (const [line, msg] of [
      ["proxy-port=0", /line 1: proxy-port must be a number from 1 to 65535: "0"/],
      ["proxy-mirror=http://m/", /proxy-mirror must be a file:\/\/\/absolute\/directory URL: "http:\/\/m\/"/],
      ["proxy=maybe", /proxy must be on or off: "maybe"/],
      ["proxy-cache=rel/dir", /proxy-cache must be an absolute directory or off: "rel\/dir"/],
      ["proxy-cache-size=lots", /proxy-cache-size must be a number of bytes/],
      ["proxy-x=1", /unknown setting "proxy-x"; known: proxy, proxy-only, proxy-port, proxy-mirror, proxy-fetches, proxy-cache, proxy-cache-size/],
    ] as const) {
      fs.writeFileSync(f, `${line}\n`);
      assert.throws(() => proxySettings(f), msg);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the zone's apt files name the proxy as each archive's mirror, and send other http sources through it", () => {
  const sources = {
    entries: [
      { types: ["deb"], uri: "http://deb.debian.org/debian", suites: ["bookworm", "bookworm-updates"], components: ["main"], signedBy: "/usr/share/keyrings/debian-archive-keyring.gpg" },
      { types: ["deb"], uri: "https://deb.debian.org/debian-security", suites: ["bookworm-security"], components: ["main"] },
    ],
    archives: archivesOf([
      { types: ["deb"], uri: "http://deb.debian.org/debian", suites: [], components: [] },
      { types: ["deb"], uri: "https://deb.debian.org/debian-security", suites: [], components: [] },
    ]),
  };
  const files = proxyAptFiles("10.213.5.1", 3142, sources);
  assert.equal(
    files[0]!.content,
    "# Written by zoneadm: the host's archives, through the global zone's package proxy.\n" +
      "Types: deb\nURIs: http://10.213.5.1:3142/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" +
      "Types: deb\nURIs: http://10.213.5.1:3142/debian-security\nSuites: bookworm-security\nComponents: main\n",
  );
  assert.equal(files[0]!.path, "etc/apt/sources.list.d/zones-proxy.sources");
  assert.match(files[1]!.content, /^Acquire::http::Proxy "http:\/\/10\.213\.5\.1:3142\/";\nAcquire::http::Proxy::10\.213\.5\.1 "DIRECT";$/m);
});

test("writeAptProxy writes the zone's apt files through zonefs at its gateway; none without one", () => {
  const dir = tmp();
  try {
    const z = blankZone("a");
    assert.equal(proxyGateway(z), undefined);
    z.net.push({ physical: "zbr0", address: "10.213.7.2/24", allowedAddress: "", defrouter: "10.213.7.1" });
    assert.equal(proxyGateway(z), "10.213.7.1");
    const rootDir = path.join(dir, "root");
    fs.mkdirSync(rootDir);
    const tree = new ZoneTree(rootDir, 0);
    try {
      assert.equal(writeAptProxy(tree, z, path.join(dir, "conf")), true);
      // A link the zone planted where a file is written is replaced, never followed.
      fs.rmSync(path.join(rootDir, "etc/apt/apt.conf.d/01zones-proxy"));
      fs.symlinkSync("/etc/hostname", path.join(rootDir, "etc/apt/apt.conf.d/01zones-proxy"));
      assert.equal(writeAptProxy(tree, z, path.join(dir, "conf")), true);
      assert.ok(!fs.lstatSync(path.join(rootDir, "etc/apt/apt.conf.d/01zones-proxy")).isSymbolicLink());
      assert.match(fs.readFileSync(path.join(rootDir, "etc/apt/apt.conf.d/01zones-proxy"), "utf8"), /Proxy "http:\/\/10\.213\.7\.1:3142\/"/);
      assert.match(fs.readFileSync(path.join(rootDir, "etc/apt/sources.list"), "utf8"), /^# This zone's archives/);
      fs.mkdirSync(path.join(dir, "conf"));
      fs.writeFileSync(path.join(dir, "conf/zoneadmd.conf"), "proxy=off\n", { mode: 0o644 });
      assert.equal(writeAptProxy(tree, z, path.join(dir, "conf")), false);
    } finally {
      tree.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
