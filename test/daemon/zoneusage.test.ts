/**
 * The daemon's usage reader (src/daemon/zoneusage.ts) against a fake root: fake cgroup
 * v1 trees, a fake sysfs for the veths, run states and a network journal. A zone whose
 * run state or cgroup vanished mid-read keeps its state and loses its usage.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { zonePaths } from "../../src/document/store/paths.js";
import type { IndexEntry } from "../../src/document/store/repository.js";
import { UsageReader } from "../../src/daemon/zoneusage.js";

const top = fs.mkdtempSync(path.join(os.tmpdir(), "zones-zoneusage-"));
after(() => fs.rmSync(top, { recursive: true, force: true }));

function put(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

const paths = zonePaths({ ZONES_ROOT: path.join(top, "root") });
const cg = path.join(top, "cg");
const roots = {
  cpu: { dir: path.join(cg, "cpuacct"), v2: false },
  memory: { dir: path.join(cg, "memory"), v2: false },
  pids: { dir: path.join(cg, "pids"), v2: false },
};
const sysNet = path.join(top, "net");
const entry = (name: string, state: IndexEntry["state"]): IndexEntry => ({ name, state, zonepath: `/zones/${name}`, uuid: "", brand: "minimal", ipType: "shared" });
const since = "2026-01-01T00:00:00.000Z";

function runningZone(name: string, veth: string): void {
  const rel = `${paths.hostPrefix}/${name}`;
  put(path.join(paths.runDir, "zone", name, "zone.json"), JSON.stringify({ zonename: name, id: 1, pid: 1, runtime: "runc", since, root: "/", booted: true, consoleHolder: 0 }));
  put(path.join(cg, "cpuacct", rel, "cpuacct.usage"), "2500000000\n");
  put(path.join(cg, "memory", rel, "memory.usage_in_bytes"), "1048576\n");
  put(path.join(cg, "memory", rel, "memory.limit_in_bytes"), "9223372036854771712\n");
  put(path.join(cg, "pids", rel, "pids.current"), "3\n");
  put(path.join(cg, "pids", rel, "pids.max"), "max\n");
  put(path.join(sysNet, veth, "statistics/rx_bytes"), "100\n");
  put(path.join(sysNet, veth, "statistics/tx_bytes"), "700\n");
  const link = { physical: "zbr0", kind: "veth", bridge: "zbr0", ownBridge: true, hostIf: veth, zoneIf: "eth0", mac: "", plumb: [], allowed: [], defrouters: [], globalAddresses: [], tag: "" };
  fs.appendFileSync(path.join(paths.runDir, "net.journal"), `+${JSON.stringify({ zone: name, ipType: "shared", links: [link] })}\n`);
}

describe("zone usage from the kernel's files", () => {
  test("a running zone: cpu, memory, pids, caps, veth bytes (swapped: the host end sends what the zone receives), uptime", () => {
    runningZone("web", "vz1");
    put(path.join(cg, "memory", paths.hostPrefix, "web", "memory.limit_in_bytes"), "268435456\n");
    put(path.join(cg, "pids", paths.hostPrefix, "web", "pids.max"), "200\n");
    const r = new UsageReader(paths, roots, sysNet);
    const [u] = r.zones([entry("web", "running")], Date.parse(since) + 90_000);
    assert.deepEqual(u, { name: "web", brand: "minimal", state: "running", cpuSeconds: 2.5, memoryBytes: 1048576, memoryCapBytes: 268435456, pids: 3, pidsCap: 200, rxBytes: 700, txBytes: 100, since, uptimeSeconds: 90 });
  });

  test("unlimited caps are undefined; a halted zone has a state and no usage", () => {
    runningZone("db", "vz2");
    const r = new UsageReader(paths, roots, sysNet);
    const [db, off] = r.zones([entry("db", "running"), entry("off", "installed")]);
    assert.equal(db?.memoryCapBytes, undefined);
    assert.equal(db?.pidsCap, undefined);
    assert.deepEqual(off, { name: "off", brand: "minimal", state: "installed" });
  });

  test("a zone that halts mid-read: run state gone means no usage; cgroup gone means undefined counters", () => {
    runningZone("gone", "vz3");
    runningZone("half", "vz4");
    fs.rmSync(path.join(paths.runDir, "zone", "gone"), { recursive: true });
    for (const c of ["cpuacct", "memory", "pids"]) fs.rmSync(path.join(cg, c, paths.hostPrefix, "half"), { recursive: true });
    fs.rmSync(path.join(sysNet, "vz4"), { recursive: true });
    const r = new UsageReader(paths, roots, sysNet);
    const [gone, half] = r.zones([entry("gone", "running"), entry("half", "running")]);
    assert.deepEqual(gone, { name: "gone", brand: "minimal", state: "running" });
    assert.equal(half?.cpuSeconds, undefined);
    assert.equal(half?.memoryBytes, undefined);
    assert.equal(half?.pids, undefined);
    assert.equal(half?.rxBytes, undefined);
    assert.equal(half?.since, since);
  });

  test("the host: sizes, load, zones by state with every state present", () => {
    const r = new UsageReader(paths, roots, sysNet);
    const h = r.host([entry("a", "running"), entry("b", "running"), entry("c", "configured")]);
    assert.equal(h.zonesByState.running, 2);
    assert.equal(h.zonesByState.configured, 1);
    assert.equal(h.zonesByState.installed, 0);
    assert.ok(h.ncpus >= 1 && h.memoryTotalBytes > 0 && h.pidMax > 0);
    assert.equal(h.load.length, 3);
    assert.ok(h.reserve && h.zonesLimit && h.zonesLimit.memory + h.reserve.memory <= h.memoryTotalBytes);
  });
});
