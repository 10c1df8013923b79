/**
 * The illumos properties Linux has no (or only part of a) meaning for: verify refuses
 * each value it cannot give, one line saying why, and accepts the ones it gives.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { blankZone, type ZoneConfig } from "../../src/document/model.js";
import { verifyZone } from "../../src/document/verify.js";
import { GLOBAL_PROPS } from "../../src/document/properties.js";
import { TestRoot } from "../support/helpers.js";

function zone(edit: (z: ZoneConfig) => void): ZoneConfig {
  const z = blankZone("lm");
  z.zonepath = "/zones/lm";
  edit(z);
  return z;
}

/** verify's problems for `z`, each a single line. */
function problems(z: ZoneConfig): string[] {
  const p = verifyZone(z, []);
  for (const line of p) assert.ok(!line.includes("\n"), `one line: ${JSON.stringify(line)}`);
  return p;
}

function refused(z: ZoneConfig, ...fragments: string[]): void {
  const p = problems(z);
  assert.ok(p.some((l) => fragments.every((f) => l.includes(f))), `no problem mentions ${JSON.stringify(fragments)}; got ${JSON.stringify(p)}`);
}

describe("properties with no Linux meaning are refused at verify", () => {
  test("pool: Linux has no resource pools", () => {
    refused(zone((z) => (z.pool = "pool_default")), 'pool "pool_default"', "no resource pools", "dedicated-cpu");
  });

  test("scheduling-class: FSS and TS are the fair scheduler; IA, FX and RT are refused", () => {
    for (const c of ["FSS", "TS"]) assert.deepEqual(problems(zone((z) => (z.schedulingClass = c))), [], c);
    for (const c of ["IA", "FX", "RT"]) refused(zone((z) => (z.schedulingClass = c)), `scheduling-class "${c}" is not supported`);
  });

  test("fs-allowed: only user-namespace-mountable types, and only with sys_admin", () => {
    assert.deepEqual(problems(zone((z) => ((z.fsAllowed = "tmpfs,fuse,overlay"), (z.limitpriv = "default,sys_admin")))), []);
    refused(zone((z) => ((z.fsAllowed = "ext4,tmpfs"), (z.limitpriv = "default,sys_admin"))), 'fs-allowed: a zone cannot mount "ext4"', "add fs");
    refused(zone((z) => (z.fsAllowed = "tmpfs")), 'fs-allowed "tmpfs" needs limitpriv to grant sys_admin');
  });

  test("security-flags: only what the Linux kernel gives every process", () => {
    const flags = (lower: string, dflt: string, upper: string): ZoneConfig => zone((z) => (z.securityFlags = { lower, default: dflt, upper }));
    const accepted = [["", "", ""], ["none", "aslr,forbidnullmap", "all"], ["forbidnullmap", "", ""], ["aslr,forbidnullmap", "aslr,forbidnullmap", "aslr,forbidnullmap"]] as const;
    for (const [l, d, u] of accepted) assert.deepEqual(problems(flags(l, d, u)), [], `${l}|${d}|${u}`);
    refused(flags("noexecstack", "all", ""), "security-flags lower", "noexecstack", "PT_GNU_STACK");
    refused(flags("", "aslr", ""), "security-flags default", "forbidnullmap", "vm.mmap_min_addr");
    refused(flags("", "forbidnullmap", ""), "security-flags default", "aslr", "randomize_va_space");
    refused(flags("", "all", ""), "security-flags default", "noexecstack", "PT_GNU_STACK");
  });

  test("limitpriv: illumos privileges with no Linux capability are refused", () => {
    refused(zone((z) => (z.limitpriv = "default,proc_fork")), 'limitpriv: "proc_fork" is an illumos privilege, not a Linux capability; Linux has no capability for it');
    refused(zone((z) => (z.limitpriv = "default,-proc_exec")), '"-proc_exec" is an illumos privilege', "no capability");
    refused(zone((z) => (z.limitpriv = "default,net_rawaccess")), '"net_rawaccess" is an illumos privilege', 'nearest Linux capability is "net_raw"');
    refused(zone((z) => (z.limitpriv = "default,proc_setid")), 'nearest Linux capability is "setuid" and "setgid"');
    refused(zone((z) => (z.limitpriv = "default,frobnicate")), 'limitpriv: unknown capability "frobnicate"');
    assert.deepEqual(problems(zone((z) => (z.limitpriv = "default,sys_time,sys_admin"))), [], "names both systems share are Linux capabilities");
  });

  test("zonecfg verify and commit refuse them too", () => {
    const root = new TestRoot("linuxmeaning");
    try {
      const r = root.run("zonecfg", ["-z", "lm", "create; set zonepath=/zones/lm; set pool=pool_1; set scheduling-class=RT; commit"]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /pool "pool_1": Linux has no resource pools/);
      assert.match(r.stderr, /scheduling-class "RT" is not supported/);
      assert.equal(root.run("zoneadm", ["-z", "lm", "list"]).status === 0, false, "nothing was committed");
    } finally {
      root.remove();
    }
  });

  test("zonecfg help properties names every global property", () => {
    const root = new TestRoot("linuxmeaning");
    try {
      const text = root.ok("zonecfg", ["-z", "lm", "help properties"]);
      for (const p of GLOBAL_PROPS) assert.ok(new RegExp(`(^|[ ,])${p.name}([ ,]|$)`, "m").test(text), `help properties says nothing of ${p.name}`);
      assert.match(text, /^  pool +refused: Linux has no resource pools/m);
    } finally {
      root.remove();
    }
  });

  test("attr, hostid and bootargs are accepted", () => {
    const z = zone((x) => {
      x.attr = [{ name: "comment", type: "string", value: "metadata only" }];
      x.hostid = "0x1234abcd";
      x.bootargs = "-i /sbin/init -s";
    });
    assert.deepEqual(problems(z), []);
  });
});
