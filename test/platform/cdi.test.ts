/**
 * CDI specs (src/platform/cdi.ts, cdiyaml.ts): the block YAML that nvidia-ctk writes,
 * JSON, and the merge of a kind's and a device's containerEdits into what a zone gets.
 * Hooks and the edits a zone has no place for are refused with one line, never skipped.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { cdiDirs, cdiEdits } from "../../src/platform/cdi.js";
import { blankZone } from "../../src/document/model.js";
import { zoneSpec } from "../../src/platform/oci/spec.js";
import { parseYaml, YamlError } from "../../src/platform/cdiyaml.js";
import { ZoneError } from "../../src/native/errors.js";
import { TOP } from "../support/helpers.js";

const FIXTURES = path.join(TOP, "test/fixtures/cdi");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "zones-cdi-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A ZONES_ROOT-like prefix whose etc/cdi holds the named fixtures, and var/run/cdi `run`. */
function rootWith(fixtures: string[], run: Record<string, string> = {}): string {
  const root = fs.mkdtempSync(path.join(tmp, "root-"));
  const [etc, varRun] = cdiDirs(root) as [string, string];
  fs.mkdirSync(etc, { recursive: true });
  fs.mkdirSync(varRun, { recursive: true });
  for (const f of fixtures) fs.copyFileSync(path.join(FIXTURES, f), path.join(etc, f));
  for (const [n, text] of Object.entries(run)) fs.writeFileSync(path.join(varRun, n), text);
  return root;
}

const refused = (fn: () => unknown, ...parts: string[]): void =>
  assert.throws(fn, (e: unknown) => e instanceof ZoneError && !e.message.includes("\n") && parts.every((p) => e.message.includes(p)), parts.join(" … "));

describe("CDI YAML reader", () => {
  test("reads the nvidia-ctk shape: mappings in sequence items, quoted names, flow lists, comments", () => {
    const v = parseYaml(fs.readFileSync(path.join(FIXTURES, "nvidia.yaml"), "utf8")) as Record<string, unknown>;
    assert.equal(v.kind, "nvidia.com/gpu");
    assert.equal(v.cdiVersion, "0.5.0");
    const devices = v.devices as Array<{ name: unknown; containerEdits: { deviceNodes: Array<Record<string, unknown>> } }>;
    assert.deepEqual(devices.map((d) => d.name), ["0", "GPU-4f1b2c3d-aaaa-bbbb-cccc-0123456789ab", "all"]);
    assert.deepEqual(devices[2]!.containerEdits.deviceNodes[3], { path: "/dev/nvidia1", permissions: "rw" });
    const edits = v.containerEdits as { mounts: Array<{ options: string[] }>; hooks: Array<{ args: string[] }> };
    assert.deepEqual(edits.mounts[1]!.options, ["ro", "nosuid", "nodev", "bind"]);
    assert.equal(edits.hooks[1]!.args[1], "update-ldcache");
  });

  test("agrees with JSON on the same document", () => {
    const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, "example.json"), "utf8")) as unknown;
    const yaml = [
      "cdiVersion: '0.6.0'",
      "kind: example.com/net",
      "containerEdits: {env: [EXAMPLE_KIND=1]}",
    ];
    // {env: [...]} is a flow mapping with content: refused, so write it as a block.
    assert.throws(() => parseYaml(yaml.join("\n")), YamlError);
    const block = ["cdiVersion: \"0.6.0\"", "kind: example.com/net", "containerEdits:", "  env:", "    - EXAMPLE_KIND=1", "devices:", "- name: tun", "  containerEdits:", "    deviceNodes:", "    - {}"].join("\n");
    const v = parseYaml(block) as Record<string, unknown>;
    assert.deepEqual(v.containerEdits, (json as Record<string, unknown>).containerEdits);
    assert.deepEqual(v.devices, [{ name: "tun", containerEdits: { deviceNodes: [{}] } }]);
  });

  test("refuses, with its line, what CDI specs do not use", () => {
    for (const [text, line] of [["a: &x 1\nb: *x", "line 1"], ["a: |\n  text", "line 1"], ["a: 1\n---\nb: 2", "line 2"], ["a:\n\t- 1", "line 2"], ["a: 1\na: 2", "line 2"], ["a: \"open", "line 1"]] as const)
      assert.throws(() => parseYaml(text), (e: unknown) => e instanceof YamlError && e.message.startsWith(line), text);
  });
});

describe("CDI merge", () => {
  test("a device gets its kind's edits and its own; mounts are read-only binds; hooks are refused", () => {
    const root = rootWith(["nvidia.yaml"]);
    refused(() => cdiEdits("cdi:nvidia.com/gpu=0", cdiDirs(root)), "nvidia.yaml", "has hooks (nvidia-cdi-hook create-symlinks)", "host root", "--disable-hook");
    // The same spec generated without hooks.
    const text = fs.readFileSync(path.join(FIXTURES, "nvidia.yaml"), "utf8").replace(/\n  hooks:\n(?: {2}- .*\n| {4}.*\n)+/, "\n");
    assert.ok(!text.includes("hooks"));
    const clean = rootWith([], { "nvidia.yaml": text });
    const e = cdiEdits("cdi:nvidia.com/gpu=0", cdiDirs(clean));
    assert.deepEqual(e.nodes.map((n) => n.path), ["/dev/nvidia-modeset", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dri/card1", "/dev/dri/renderD128"]);
    assert.ok(e.nodes.every((n) => n.hostPath === n.path && n.permissions === "rwm"));
    assert.deepEqual(e.env, ["NVIDIA_VISIBLE_DEVICES=void"]);
    assert.deepEqual(e.mounts[0], { destination: "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15", type: "bind", source: "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15", options: ["bind", "ro", "nosuid", "nodev"] });
    assert.equal(e.mounts.length, 3);
    const all = cdiEdits("cdi:nvidia.com/gpu=all", cdiDirs(clean));
    assert.deepEqual(all.nodes.at(-1), { path: "/dev/nvidia1", hostPath: "/dev/nvidia1", permissions: "rw" });
    assert.equal(cdiEdits("cdi:nvidia.com/gpu=GPU-4f1b2c3d-aaaa-bbbb-cccc-0123456789ab", cdiDirs(clean)).nodes.length, 7);
  });

  test("JSON specs; /var/run/cdi wins over /etc/cdi; a missing device names the directories", () => {
    const root = rootWith(["example.json"]);
    assert.deepEqual(cdiEdits("cdi:example.com/net=tun", cdiDirs(root)), {
      nodes: [{ path: "/dev/net/tun", hostPath: "/dev/net/tun", permissions: "rwm" }],
      mounts: [],
      env: ["EXAMPLE_KIND=1", "EXAMPLE_DEVICE=tun"],
    });
    const over = rootWith(["example.json"], { "z.json": JSON.stringify({ cdiVersion: "0.6.0", kind: "example.com/net", devices: [{ name: "tun", containerEdits: { env: ["FROM_RUN=1"] } }] }) });
    assert.deepEqual(cdiEdits("cdi:example.com/net=tun", cdiDirs(over)).env, ["FROM_RUN=1"]);
    refused(() => cdiEdits("cdi:example.com/net=nope", cdiDirs(root)), `device "cdi:example.com/net=nope"`, "etc/cdi", "var/run/cdi", `device "nope" of kind "example.com/net"`);
  });

  test("refuses hooks, moved nodes, non-bind mounts and additional groups, naming the spec and device", () => {
    const root = rootWith(["example.json"]);
    const dirs = cdiDirs(root);
    refused(() => cdiEdits("cdi:example.com/net=hooked", dirs), `device "hooked"`, "has hooks (true --run-as-host-root)");
    refused(() => cdiEdits("cdi:example.com/net=moved", dirs), `"/dev/tun0" has hostPath "/dev/net/tun"`);
    refused(() => cdiEdits("cdi:example.com/net=tmpfs", dirs), `mount "/scratch" has type "tmpfs"`, "read-only bind");
    refused(() => cdiEdits("cdi:example.com/net=gids", dirs), `containerEdits "additionalGIDs"`);
    const bad = rootWith([], { "bad.yaml": "kind: x.com/y\ndevices:\n- name: a\n  containerEdits:\n    mounts:\n    - hostPath: /etc/../etc/shadow\n      containerPath: /x\n" });
    refused(() => cdiEdits("cdi:x.com/y=a", cdiDirs(bad)), "mount hostPath must be an absolute path without '..'");
    const broken = rootWith([], { "broken.yaml": "kind: x.com/y\ndevices: &a []\n" });
    refused(() => cdiEdits("cdi:x.com/y=a", cdiDirs(broken)), "broken.yaml", "cannot be read", "line 2");
  });
});

describe("device edits in the zone's OCI spec", () => {
  test("node binds and CDI mounts come after the zone's own mounts; allow entries after deny-all; env on init", () => {
    const z = blankZone("g");
    const bind = { destination: "/dev/nvidia0", type: "bind", source: "/zones/g/dev/nvidia0", options: ["bind", "nosuid", "noexec"] };
    const lib = { destination: "/usr/lib/libcuda.so.1", type: "bind", source: "/usr/lib/libcuda.so.1", options: ["bind", "ro", "nosuid", "nodev"] };
    const allow = { allow: true, type: "c" as const, major: 195, minor: 0, access: "rwm" };
    const plain = zoneSpec({ zone: z, base: 65536, root: "/zones/g/root", init: ["/sbin/init"], cgroupParent: "zones", zoneId: 1 });
    const spec = zoneSpec({ zone: z, base: 65536, root: "/zones/g/root", init: ["/sbin/init"], cgroupParent: "zones", zoneId: 1, devices: { allow: [allow], mounts: [bind, lib], env: ["NVIDIA_VISIBLE_DEVICES=void"] } });
    assert.deepEqual(spec.mounts, [...plain.mounts, bind, lib]);
    assert.deepEqual(spec.linux.resources.devices, [{ allow: false, access: "rwm" }, allow]);
    assert.deepEqual(spec.process.env, [...plain.process.env, "NVIDIA_VISIBLE_DEVICES=void"]);
    assert.deepEqual(plain.linux.resources.devices, [{ allow: false, access: "rwm" }], "a zone without devices: deny-all, then the runtime's defaults");
  });
});
