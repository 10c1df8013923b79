/**
 * The device rules zonecfg verify applies (src/document/devices.ts): a match that
 * names or covers a device giving the host away is refused with one line; the
 * `allow-host-access` opt-in lifts all but the never-given ones (/dev/mem, MSRs).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { blankZone } from "../../src/document/model.js";
import { deviceDocProblems, globRegExp, ruleFor } from "../../src/document/devices.js";
import { exportZone } from "../../src/document/export.js";
import { parseZone } from "../../src/document/store/document.js";
import { verifyZone } from "../../src/document/verify.js";

const zone = (...devices: Array<{ match: string; allowHostAccess?: boolean }>) => {
  const z = blankZone("d");
  z.zonepath = "/zones/d";
  z.device = devices;
  return z;
};

describe("device rules", () => {
  test("globs: *, ? and [...] stay within one path component", () => {
    assert.ok(globRegExp("/dev/nvidia*").test("/dev/nvidia-uvm"));
    assert.ok(!globRegExp("/dev/*").test("/dev/net/tun"));
    assert.ok(globRegExp("/dev/tty[0-9]*").test("/dev/tty12"));
    assert.ok(!globRegExp("/dev/tty[!0-9]*").test("/dev/tty1"));
    assert.ok(globRegExp("/dev/a.b").test("/dev/a.b") && !globRegExp("/dev/a.b").test("/dev/axb"));
  });

  test("ordinary devices pass zonecfg verify", () => {
    for (const m of ["/dev/fuse", "/dev/net/tun", "/dev/dri/*", "/dev/nvidia*", "/dev/null", "cdi:nvidia.com/gpu=0", "cdi:nvidia.com/gpu=all"])
      assert.deepEqual(verifyZone(zone({ match: m }), []), [], m);
  });

  test("devices that reach the host are refused without allow-host-access, naming why", () => {
    const cases: Array<[string, string]> = [
      ["/dev/sda", "is a block device"], ["/dev/sd*", `covers "/dev/sda"`], ["/dev/nvme0n1", "block device"], ["/dev/vd*", "block device"],
      ["/dev/dm-0", "block device"], ["/dev/mapper/*", `covers "/dev/mapper/root"`], ["/dev/loop-control", "loop, device-mapper"],
      ["/dev/kvm", "runs virtual machines"], ["/dev/kmsg", "kernel log"], ["/dev/console", "console"], ["/dev/tty[0-9]*", "terminals"], ["/dev/pts/*", "terminals"],
      ["/dev/watchdog*", "reboots the host"], ["/dev/uinput", "forges the host's keyboard"], ["/dev/hidraw*", "input"], ["/dev/nvme0", "raw commands"],
    ];
    for (const [m, why] of cases) {
      const p = deviceDocProblems(zone({ match: m }));
      assert.equal(p.length, 1, m);
      assert.ok(p[0]!.includes(JSON.stringify(m)) && p[0]!.includes(why) && p[0]!.includes("allow-host-access=true"), `${m}: ${p[0]}`);
      assert.deepEqual(deviceDocProblems(zone({ match: m, allowHostAccess: true })), [], `${m} with allow-host-access`);
    }
  });

  test("/dev/mem, /dev/kmem, /dev/port and MSRs are never given, opt-in or not; /dev/* covers /dev/mem", () => {
    for (const m of ["/dev/mem", "/dev/kmem", "/dev/port", "/dev/cpu/*/msr", "/dev/cpu/0/msr", "/dev/*", "/dev/?mem"]) {
      const p = deviceDocProblems(zone({ match: m, allowHostAccess: true }));
      assert.equal(p.length, 1, m);
      assert.match(p[0]!, /never given to a zone$/, m);
    }
    assert.match(verifyZone(zone({ match: "/dev/*" }), []).join("\n"), /device match "\/dev\/\*" covers "\/dev\/mem", which reads and writes the host's physical memory/);
  });

  test("aliases are refused by device number on the host", () => {
    assert.match(ruleFor(["/dev/block/8:0"], { type: "b", major: 8, minor: 0 })?.why ?? "", /block device/);
    assert.match(ruleFor(["/dev/my-kvm"], { type: "c", major: 10, minor: 232 })?.why ?? "", /virtual machines/);
    assert.equal(ruleFor(["/dev/fuse"], { type: "c", major: 10, minor: 229 }), undefined);
  });

  test("allow-host-access and cdi matches survive export and reading back", () => {
    const z = zone({ match: "/dev/kvm", allowHostAccess: true }, { match: "cdi:nvidia.com/gpu=0" });
    const text = exportZone(z);
    assert.match(text, /set allow-host-access=true/);
    assert.deepEqual(parseZone("d", text, "d.zone").device, z.device);
  });
});
