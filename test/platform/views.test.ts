/**
 * The zone spec's view mounts (src/platform/views.ts): with an lxcfs stage, each view
 * file is a plain bind of the stage's file (no propagation option, so the runtime's
 * rslave default makes it receive a restarted lxcfs), after the /proc and /sys it
 * covers; without one, the zone has none.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { blankZone } from "../../src/document/model.js";
import { zoneSpec } from "../../src/platform/oci/spec.js";
import { VIEW_FILES } from "../../src/platform/views.js";

const input = { zone: blankZone("web"), base: 65536, root: "/zones/web/root", init: ["/sbin/init"], cgroupParent: "zones", zoneId: 1 };

test("with a stage, every view file is bound from it after /proc and /sys", () => {
  const mounts = zoneSpec({ ...input, viewsDir: "/run/zones/views" }).mounts;
  const views = mounts.filter((m) => m.source.startsWith("/run/zones/views/"));
  assert.deepEqual(
    views.map((m) => [m.destination, m.source]),
    VIEW_FILES.map((f) => [`/${f}`, `/run/zones/views/${f}`]),
  );
  for (const m of views) {
    assert.equal(m.type, "bind");
    assert.deepEqual(m.options, ["bind", "nosuid", "nodev", "noexec"], `${m.destination}: no propagation option`);
  }
  const at = (d: string): number => mounts.findIndex((m) => m.destination === d);
  assert.ok(at("/proc") < at("/proc/meminfo") && at("/sys") < at("/sys/devices/system/cpu/online"));
  assert.deepEqual(VIEW_FILES.filter((f) => f.startsWith("proc/")).length, 7);
});

test("without a stage (no lxcfs), the zone has no view mounts", () => {
  const mounts = zoneSpec(input).mounts;
  assert.equal(mounts.filter((m) => m.destination.startsWith("/proc/") || m.destination.startsWith("/sys/")).length, 0);
});
