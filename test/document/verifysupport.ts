/**
 * What the verifyZone tests share (verify and verifyresources .test.ts): valid zones of
 * both ip-types whose zonepaths lie in a temporary directory, and the check that a zone
 * has a problem naming every fragment.
 */
import { before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { blankZone, type ZoneConfig } from "../../src/document/model.js";
import { verifyZone, type OtherZone } from "../../src/document/verify.js";

/** The temporary directory, once useTempDir's before hook has run (a live binding). */
export let tmp = "";

/** Make the temporary directory before the file's tests and remove it after (call once, at top level). */
export function useTempDir(): void {
  before(() => {
    // realpath: the zonepaths below must not pass through a symlink of the host (e.g. /tmp -> /private/tmp)
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "zones-verify-")));
  });

  after(() => {
    if (tmp !== "") fs.rmSync(tmp, { recursive: true, force: true });
  });
}

/** A shared-IP zone that uses every resource type and is valid. */
export function validShared(): ZoneConfig {
  const z = blankZone("web");
  z.zonepath = path.join(tmp, "zones", "web");
  z.autoboot = true;
  z.bootargs = "-m verbose";
  z.limitpriv = "default,sys_time,sys_admin,-kill,!cap_mknod";
  z.schedulingClass = "FSS";
  z.hostid = "FFFFFFFE";
  z.fsAllowed = "tmpfs,fuse";
  z.fs = [
    { dir: "/mnt/data", special: "/srv/data", raw: "", type: "lofs", options: ["ro", "nodevices"] },
    { dir: "/scratch", special: "swap", raw: "", type: "tmpfs", options: ["size=10m"] },
  ];
  z.net = [
    { address: "192.168.1.10/24", allowedAddress: "", physical: "eth0", defrouter: "192.168.1.1" },
    { address: "fe80::10/64", allowedAddress: "", physical: "eth0", defrouter: "" },
  ];
  z.device = [{ match: "/dev/null" }, { match: "/dev/cua/a00[2-5]" }];
  z.rctl = [
    { name: "zone.max-lwps", values: [{ priv: "privileged", limit: 1000, action: "deny" }] },
    { name: "zone.max-processes", values: [{ priv: "privileged", limit: 100, action: "deny" }, { priv: "basic", limit: 90, action: "signal=SIGTERM" }] },
    { name: "zone.cpu-shares", values: [{ priv: "privileged", limit: 10, action: "none" }] },
    { name: "zone.cpu-cap", values: [{ priv: "privileged", limit: 150, action: "deny" }] },
    { name: "zone.max-swap", values: [{ priv: "privileged", limit: 1024 ** 3, action: "deny" }] },
  ];
  z.attr = [
    { name: "comment", type: "string", value: "a web server" },
    { name: "vcpus", type: "uint", value: "4" },
  ];
  z.dataset = [{ name: "/srv/zones/web-data" }];
  z.cappedMemory = { physical: 512 * 1024 ** 2 };
  z.admin = [{ user: "alice", auths: "login,manage" }];
  z.securityFlags = { lower: "none", default: "aslr,forbidnullmap", upper: "all" };
  return z;
}

/** An exclusive-IP zone with a dedicated-cpu. */
export function validExclusive(): ZoneConfig {
  const z = blankZone("db");
  z.zonepath = path.join(tmp, "zones", "db");
  z.ipType = "exclusive";
  z.net = [
    { address: "", allowedAddress: "10.0.0.5/24", physical: "vnic0", defrouter: "10.0.0.1" },
    { address: "", allowedAddress: "", physical: "vnic1", defrouter: "" },
  ];
  z.dedicatedCpu = { ncpus: "2-4", importance: "10" };
  return z;
}

/** verifyZone must report a problem holding every fragment. */
export function hasProblem(z: ZoneConfig, others: readonly OtherZone[], ...fragments: string[]): string[] {
  const problems = verifyZone(z, others);
  assert.ok(
    problems.some((p) => fragments.every((f) => p.includes(f))),
    `no problem mentions ${fragments.map((f) => JSON.stringify(f)).join(" and ")}; got ${JSON.stringify(problems)}`,
  );
  return problems;
}
