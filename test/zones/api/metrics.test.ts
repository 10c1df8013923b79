/**
 * Metrics, history and the host page against a real zoneadmd and real zones: /metrics
 * parsed strictly (test/support/prometheus.ts); a booted zone's series match the
 * kernel's files (memory > 0, its pids as pids.current says, its memory cap, state
 * running = 1, veth bytes that grow with traffic); a halted zone's series say so and
 * its usage series go; the boot is in the operation histogram; the zone's history
 * grows (bounded: test/daemon/history.test.ts); /1.0/host shows the reserve and the
 * zones by state. A delegated admin reads her zone's history and gets 403 on /metrics;
 * a stranger gets 403 on everything here.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ZoneTestRoot } from "../../support/zones.js";
import { ApiClient } from "../../support/api.js";
import { HostUser } from "../../support/hostuser.js";
import { parseExposition, valueOf, type Family } from "../../support/prometheus.js";
import { hostApiSocketPath } from "../../../src/daemon/api/api.js";

// Samples every 200 ms, so that a history grows within the test (the daemon inherits it).
process.env.ZONES_HISTORY_INTERVAL_MS = "200";
const root = new ZoneTestRoot("apimetrics");
// A private /24 per root (10.213.200-239.0): other tests take 100-199 and 240 up.
const NET = `10.213.${200 + (parseInt(createHash("sha256").update(root.dir).digest("hex").slice(0, 4), 16) % 40)}`;
const zp = (n: string): string => path.join(root.dir, "zones", n);
const MIB = 1024 * 1024;
let api: ApiClient;
let admin: HostUser | undefined;
let stranger: HostUser | undefined;

before(() => {
  admin = new HostUser("met");
  stranger = new HostUser("mets");
  root.ok("zonecfg", ["-z", "up", `create; set zonepath=${zp("up")}; set brand=minimal; add capped-memory; set physical=256m; end; add net; set physical=zbr0; set address=${NET}.2/24; set defrouter=${NET}.1; end; add admin; set user=${admin.name}; set auths=login; end`]);
  root.ok("zonecfg", ["-z", "off", `create; set zonepath=${zp("off")}; set brand=minimal`]);
  for (const z of ["up", "off"]) root.ok("zoneadm", ["-z", z, "install"]);
  root.ok("zoneadm", ["-z", "up", "boot"]);
  api = new ApiClient(root.paths.runDir);
});

after(() => {
  api?.close();
  root.run("zoneadm", ["-z", "up", "halt"]);
  try {
    root.remove();
  } finally {
    admin?.remove();
    stranger?.remove();
  }
});

async function scrape(): Promise<Map<string, Family>> {
  const r = await api.get("/metrics");
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  return parseExposition(r.text);
}

/** A file of the zone's cgroup in the hierarchy that has it (v1 hybrid here, v2 elsewhere). */
function cgroupFile(zone: string, v1: string, v2: string): string {
  for (const dir of [`/sys/fs/cgroup/${v1.split(".")[0]}`, "/sys/fs/cgroup"]) {
    const f = path.join(dir, root.paths.hostPrefix, zone, dir === "/sys/fs/cgroup" ? v2 : v1);
    if (fs.existsSync(f)) return f;
  }
  throw new Error(`no ${v1} or ${v2} for zone '${zone}'`);
}

/** Open a TCP connection to the zone's address (refused: the zone listens on nothing), so packets cross its veth. */
function poke(): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: `${NET}.2`, port: 9, timeout: 2000 });
    const done = (): void => {
      s.destroy();
      resolve();
    };
    s.on("error", done).on("timeout", done).on("connect", done);
  });
}

/** GET `p` as a host user on the host users' socket, through curl under setpriv: the daemon sees that uid. */
function getAs(u: HostUser, p: string): { status: number; body: string; stderr: string } {
  const r = u.exec(root.env, "/usr/bin/curl", ["-sS", "--unix-socket", hostApiSocketPath(root.paths.runDir), "-w", "\n%{http_code}", `http://zones${p}`]);
  const nl = r.stdout.lastIndexOf("\n");
  if (nl < 0) throw new Error(`curl ${p} as ${u.name} exited ${r.status}: ${r.stderr}`);
  return { status: Number(r.stdout.slice(nl + 1)), body: r.stdout.slice(0, nl), stderr: r.stderr };
}

describe("metrics, history and host on real zones", { concurrency: false }, () => {
  test("a running zone's series match the kernel; the halted one's say installed and carry no usage", async () => {
    const m = await scrape();
    const up = { zone: "up", brand: "minimal" };
    const off = { zone: "off", brand: "minimal" };
    assert.equal(valueOf(m, "zones_zone_state", { ...up, state: "running" }), 1);
    assert.equal(valueOf(m, "zones_zone_state", { ...up, state: "installed" }), 0);
    assert.equal(valueOf(m, "zones_zone_state", { ...off, state: "installed" }), 1);
    const mem = valueOf(m, "zones_zone_memory_bytes", up);
    assert.ok(mem !== undefined && mem > 0, `memory ${mem}`);
    assert.equal(valueOf(m, "zones_zone_memory_cap_bytes", up), 256 * MIB);
    const pids = valueOf(m, "zones_zone_pids", up);
    assert.ok(pids !== undefined && pids >= 1, `pids ${pids}`);
    // The same as the kernel says now (a minimal zone's init and its few services are steady).
    assert.equal(pids, Number(fs.readFileSync(cgroupFile("up", "pids.current", "pids.current"), "utf8")));
    assert.ok((valueOf(m, "zones_zone_cpu_seconds_total", up) ?? -1) > 0);
    assert.ok((valueOf(m, "zones_zone_uptime_seconds", up) ?? -1) >= 0);
    for (const name of ["zones_zone_memory_bytes", "zones_zone_pids", "zones_zone_cpu_seconds_total", "zones_zone_uptime_seconds", "zones_zone_network_receive_bytes_total"])
      assert.equal(valueOf(m, name, off), undefined, `${name} of a halted zone`);
    assert.equal(valueOf(m, "zones_zones", { state: "running" }), 1);
    assert.equal(valueOf(m, "zones_zones", { state: "installed" }), 1);
    assert.ok((valueOf(m, "zones_operation_duration_seconds_count", { operation: "boot", result: "ok" }) ?? 0) >= 1);
    assert.ok((valueOf(m, "zones_host_reserve_memory_bytes") ?? 0) > 0);
  });

  test("network counters grow with traffic to the zone", async () => {
    const up = { zone: "up", brand: "minimal" };
    const before = await scrape();
    const rx0 = valueOf(before, "zones_zone_network_receive_bytes_total", up);
    const tx0 = valueOf(before, "zones_zone_network_transmit_bytes_total", up);
    assert.ok(rx0 !== undefined && tx0 !== undefined, "the zone's veth counters are there");
    for (let i = 0; i < 3; i++) await poke();
    const m = await scrape();
    assert.ok(valueOf(m, "zones_zone_network_receive_bytes_total", up)! > rx0, "received more");
    assert.ok(valueOf(m, "zones_zone_network_transmit_bytes_total", up)! > tx0, "sent more (its RSTs)");
  });

  test("the zone's history grows, one sample per interval, with its memory", async () => {
    let samples: { t: number; memory_bytes: number | null; pids: number | null; cpu: number | null }[] = [];
    const end = Date.now() + 10_000;
    while (samples.length < 3 && Date.now() < end) {
      samples = (await api.sync<{ samples: typeof samples }>("GET", "/1.0/zones/up/history")).samples;
      if (samples.length < 3) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(samples.length >= 3, `${samples.length} samples`);
    const h = await api.sync<{ interval_s: number; span_s: number; samples: typeof samples }>("GET", "/1.0/zones/up/history");
    assert.equal(h.interval_s, 0.2);
    assert.equal(h.span_s, 48, "240 samples of 200 ms");
    assert.ok(h.samples.length >= samples.length && h.samples.length <= 240);
    for (let i = 1; i < h.samples.length; i++) assert.ok(h.samples[i]!.t > h.samples[i - 1]!.t);
    const last = h.samples.at(-1)!;
    assert.ok(last.memory_bytes! > 0 && last.pids! >= 1 && last.cpu !== null);
    assert.deepEqual((await api.sync<{ samples: unknown[] }>("GET", "/1.0/zones/off/history")).samples, []);
    assert.equal((await api.get("/1.0/zones/nope/history")).status, 404);
  });

  test("/1.0/host: the reserve, what zones may use, zones by state, its history", async () => {
    const h = await api.sync<{ cpus: number; reserve: { memory_bytes: number; pids: number }; zones_limit: { memory_bytes: number }; memory_total_bytes: number; zones_by_state: Record<string, number>; history: { samples: unknown[] } }>("GET", "/1.0/host");
    assert.ok(h.cpus >= 1);
    assert.ok(h.reserve.memory_bytes > 0 && h.reserve.pids > 0);
    assert.ok(h.zones_limit.memory_bytes + h.reserve.memory_bytes <= h.memory_total_bytes);
    assert.equal(h.zones_by_state.running, 1);
    assert.equal(h.zones_by_state.installed, 1);
    assert.ok(h.history.samples.length >= 1);
  });

  test("a delegated admin reads her zone's history, not /metrics; a stranger nothing", () => {
    const mine = getAs(admin!, "/1.0/zones/up/history");
    assert.equal(mine.status, 200, `${mine.body} ${mine.stderr}`);
    for (const p of ["/metrics", "/1.0/host"]) {
      const r = getAs(admin!, p);
      assert.equal(r.status, 403, `${p}: ${r.body}`);
      assert.equal((JSON.parse(r.body) as { error: string }).error, 'operation "metrics" is for root only');
    }
    for (const p of ["/metrics", "/1.0/host", "/1.0/zones/up/history", "/1.0/zones/off/history"]) assert.equal(getAs(stranger!, p).status, 403, p);
  });

  test("after a halt the zone's series say installed and its usage goes; its history stays", async () => {
    root.ok("zoneadm", ["-z", "up", "halt"]);
    const m = await scrape();
    const up = { zone: "up", brand: "minimal" };
    assert.equal(valueOf(m, "zones_zone_state", { ...up, state: "installed" }), 1);
    assert.equal(valueOf(m, "zones_zone_state", { ...up, state: "running" }), 0);
    assert.equal(valueOf(m, "zones_zone_memory_bytes", up), undefined);
    assert.equal(valueOf(m, "zones_zones", { state: "running" }), 0);
    assert.ok((valueOf(m, "zones_operation_duration_seconds_count", { operation: "halt", result: "ok" }) ?? 0) >= 1);
    assert.ok((await api.sync<{ samples: unknown[] }>("GET", "/1.0/zones/up/history")).samples.length >= 3);
  });
});
