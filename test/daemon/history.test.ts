/**
 * Usage history (src/daemon/history.ts): rates from counters, no rate across a reboot,
 * rings bounded, rings of removed zones dropped, a halted zone's kept for the span then
 * dropped, and the host's history.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { STATES, type ZoneState } from "../../src/document/store/state.js";
import { History } from "../../src/daemon/history.js";
import type { HostUsageReport, ZoneUsage } from "../../src/daemon/zoneusage.js";

const byState = (running: number): Record<ZoneState, number> => ({ ...(Object.fromEntries(STATES.map((s) => [s, 0])) as Record<ZoneState, number>), running });
const host = (busy: number, running = 1): HostUsageReport => ({ ncpus: 2, load: [1, 1, 1], cpuBusySeconds: busy, memoryTotalBytes: 100, memoryUsedBytes: 50, swapTotalBytes: 0, swapUsedBytes: 0, pidMax: 100, zonesByState: byState(running) });
const up = (name: string, cpu: number, rx: number, since = "boot1"): ZoneUsage => ({ name, brand: "minimal", state: "running", cpuSeconds: cpu, memoryBytes: 1000, pids: 2, rxBytes: rx, txBytes: 0, since });
const down = (name: string): ZoneUsage => ({ name, brand: "minimal", state: "installed" });

describe("usage history", () => {
  test("rates over each interval; none at a boot's first sample or across a reboot", () => {
    const h = new History(1000, 10);
    h.sample([up("a", 0, 0)], host(0), 0);
    h.sample([up("a", 0.5, 2000)], host(1), 1000);
    h.sample([up("a", 0.1, 10, "boot2")], host(3), 2000);
    const s = h.zone("a").samples;
    assert.deepEqual(
      s.map((x) => [x.t, x.cpu, x.rx_bytes_per_s, x.memory_bytes, x.memory_cap_bytes]),
      [
        [0, null, null, 1000, null],
        [1000, 0.5, 2000, 1000, null],
        [2000, null, null, 1000, null],
      ],
    );
    const hh = h.hostJson(host(3)) as { history: { samples: { cpu_busy: number | null }[] }; cpu_busy: number | null };
    assert.deepEqual(hh.history.samples.map((x) => x.cpu_busy), [null, 1, 2]);
    assert.equal(hh.cpu_busy, 2);
  });

  test("grows to its capacity and no further, oldest dropped first", () => {
    const h = new History(1000, 5);
    for (let i = 0; i < 12; i++) h.sample([up("a", i, i)], host(i), i * 1000);
    const s = h.zone("a").samples;
    assert.equal(s.length, 5);
    assert.deepEqual(s.map((x) => x.t), [7000, 8000, 9000, 10000, 11000]);
    assert.equal((h.hostJson(host(12)) as { history: { samples: unknown[] } }).history.samples.length, 5);
    assert.equal(h.spanMs, 5000);
  });

  test("a removed zone drops its ring at once; a halted one keeps it for the span, then drops it", () => {
    const h = new History(1000, 5);
    h.sample([up("a", 0, 0), up("b", 0, 0)], host(0), 0);
    assert.equal(h.tracked, 2);
    h.sample([down("a")], host(0), 1000);
    assert.equal(h.tracked, 1, "b is no longer configured");
    assert.deepEqual(h.zone("b").samples, []);
    assert.equal(h.zone("a").samples.length, 1, "a halted keeps its hour");
    h.sample([down("a")], host(0), 5000);
    assert.equal(h.tracked, 1);
    h.sample([down("a")], host(0), 5001);
    assert.equal(h.tracked, 0, "older than the span");
  });
});
