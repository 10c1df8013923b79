/**
 * The exposition (src/daemon/metrics.ts) parsed with a strict parser of our own
 * (test/support/prometheus.ts): every line valid, no duplicate series, histograms
 * cumulative with +Inf = count, label values escaped; halted zones have their state
 * and no usage series. And the parser itself refuses what the format forbids.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { STATES, type ZoneState } from "../../src/document/store/state.js";
import { escapeLabel, OperationMetrics, renderMetrics } from "../../src/daemon/metrics.js";
import type { HostUsageReport, ZoneUsage } from "../../src/daemon/zoneusage.js";
import { parseExposition, valueOf } from "../support/prometheus.js";

const byState = (): Record<ZoneState, number> => Object.fromEntries(STATES.map((s) => [s, 0])) as Record<ZoneState, number>;
const host: HostUsageReport = {
  ncpus: 2,
  load: [0.5, 0.25, 0.125],
  cpuBusySeconds: 1000,
  memoryTotalBytes: 8e9,
  memoryUsedBytes: 2e9,
  swapTotalBytes: 0,
  swapUsedBytes: 0,
  pidMax: 4194304,
  reserve: { memory: 8e8, pids: 419430 },
  zonesLimit: { memory: 7.2e9, pids: 3774874 },
  zonesMemoryBytes: 3e6,
  zonesPids: 5,
  zonesByState: { ...byState(), running: 1, installed: 1 },
};
const running: ZoneUsage = { name: "web", brand: "minimal", state: "running", cpuSeconds: 1.25, memoryBytes: 3e6, memoryCapBytes: 268435456, pids: 5, pidsCap: 200, rxBytes: 10, txBytes: 20, uptimeSeconds: 42, since: "x" };
const halted: ZoneUsage = { name: "db", brand: 'we"ird\\brand\n', state: "installed" };

function scrape(ops = new OperationMetrics()): string {
  return renderMetrics({ zones: [running, halted], host, operations: ops, brokerConnections: 3, consoleBytes: new Map([["web", { out: 100, in: 7 }]]) });
}

describe("metrics exposition", () => {
  test("parses strictly; a running zone's series carry its usage; a halted zone has its state and no usage", async () => {
    const ops = new OperationMetrics();
    ops.observe("boot", true, 0.3);
    ops.observe("boot", true, 0.007);
    ops.observe("boot", false, 500);
    ops.observe("not-an-op", false, 0.001);
    await ops.timed("halt", async () => ({ ok: true }));
    const m = parseExposition(scrape(ops));
    const web = { zone: "web", brand: "minimal" };
    assert.equal(valueOf(m, "zones_zone_state", { ...web, state: "running" }), 1);
    assert.equal(m.get("zones_zone_state")!.samples.filter((s) => s.labels.zone === "web" && s.value === 1).length, 1);
    assert.equal(valueOf(m, "zones_zone_cpu_seconds_total", web), 1.25);
    assert.equal(valueOf(m, "zones_zone_memory_bytes", web), 3e6);
    assert.equal(valueOf(m, "zones_zone_memory_cap_bytes", web), 268435456);
    assert.equal(valueOf(m, "zones_zone_pids", web), 5);
    assert.equal(valueOf(m, "zones_zone_pids_cap", web), 200);
    assert.equal(valueOf(m, "zones_zone_network_receive_bytes_total", web), 10);
    assert.equal(valueOf(m, "zones_zone_network_transmit_bytes_total", web), 20);
    assert.equal(valueOf(m, "zones_zone_uptime_seconds", web), 42);
    assert.equal(valueOf(m, "zones_zone_console_bytes_total", { ...web, direction: "in" }), 7);
    // The escaped brand comes back as it was.
    const db = { zone: "db", brand: halted.brand };
    assert.equal(valueOf(m, "zones_zone_state", { ...db, state: "installed" }), 1);
    assert.equal(valueOf(m, "zones_zone_state", { ...db, state: "running" }), 0);
    for (const name of ["zones_zone_memory_bytes", "zones_zone_pids", "zones_zone_cpu_seconds_total", "zones_zone_uptime_seconds"]) assert.equal(valueOf(m, name, db), undefined, name);
    assert.equal(valueOf(m, "zones_zones", { state: "running" }), 1);
    assert.equal(valueOf(m, "zones_broker_connections"), 3);
    assert.equal(valueOf(m, "zones_host_reserve_memory_bytes"), 8e8);
    assert.equal(valueOf(m, "zones_operation_duration_seconds_count", { operation: "boot", result: "ok" }), 2);
    assert.equal(valueOf(m, "zones_operation_duration_seconds_bucket", { operation: "boot", result: "ok", le: "0.01" }), 1);
    assert.equal(valueOf(m, "zones_operation_duration_seconds_bucket", { operation: "boot", result: "error", le: "120" }), 0);
    assert.equal(valueOf(m, "zones_operation_duration_seconds_bucket", { operation: "boot", result: "error", le: "+Inf" }), 1);
    assert.equal(valueOf(m, "zones_operation_duration_seconds_count", { operation: "unknown", result: "error" }), 1);
    assert.equal(valueOf(m, "zones_operation_duration_seconds_count", { operation: "halt", result: "ok" }), 1);
  });

  test("label values: backslash, quote and newline escaped, nothing else", () => {
    assert.equal(escapeLabel('a\\b"c\nd\te'), 'a\\\\b\\"c\\nd\te');
  });

  test("the parser refuses what the format forbids", () => {
    const ok = "# TYPE a gauge\na 1\n";
    assert.doesNotThrow(() => parseExposition(ok));
    for (const [why, text] of [
      ["no TYPE", "a 1\n"],
      ["duplicate series", '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n'],
      ["raw quote", '# TYPE a gauge\na{x="1"2"} 1\n'],
      ["bad escape", '# TYPE a gauge\na{x="\\t"} 1\n'],
      ["bad value", "# TYPE a gauge\na one\n"],
      ["no newline at end", "# TYPE a gauge\na 1"],
      ["interleaved", "# TYPE a gauge\n# TYPE b gauge\na 1\n"],
      ["non-cumulative", '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
      ["+Inf not count", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n'],
      ["no +Inf", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ] as const)
      assert.throws(() => parseExposition(text), Error, why);
  });
});
