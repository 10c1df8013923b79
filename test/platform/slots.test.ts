/**
 * The host-wide uid slot registry, on temporary files only: the registry and fake
 * passwd/group/subuid/subgid live under os.tmpdir(), never /var/lib/zones or /etc.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ZoneError } from "../../src/native/errors.js";
import { DEFAULT_SLOT_REGISTRY, hostId, SLOT_SIZE, SlotRegistry, type HostIdFiles } from "../../src/platform/slots.js";
import { TOP } from "../support/helpers.js";

let parent = "";
let counter = 0;

before(() => {
  parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "zones-slots-")));
});

after(() => {
  if (parent !== "") fs.rmSync(parent, { recursive: true, force: true });
});

interface Fixture {
  dir: string;
  file: string;
  host: HostIdFiles;
  registry: SlotRegistry;
}

/** A fresh registry with its own fake host files (absent unless given). */
function fixture(files: Partial<Record<keyof HostIdFiles, string>> = {}): Fixture {
  const dir = path.join(parent, `f${++counter}`);
  fs.mkdirSync(dir);
  const host: HostIdFiles = {
    passwd: path.join(dir, "passwd"),
    group: path.join(dir, "group"),
    subuid: path.join(dir, "subuid"),
    subgid: path.join(dir, "subgid"),
  };
  for (const [k, text] of Object.entries(files)) fs.writeFileSync(host[k as keyof HostIdFiles], text);
  const file = path.join(dir, "var/lib/zones/slots");
  return { dir, file, host, registry: new SlotRegistry(file, host) };
}

const CONFIG = "/etc/zones";

describe("SlotRegistry", () => {
  test("the default registry is host-wide, outside any ZONES_ROOT", () => {
    assert.equal(DEFAULT_SLOT_REGISTRY, "/var/lib/zones/slots");
    assert.equal(new SlotRegistry().file, DEFAULT_SLOT_REGISTRY);
  });

  test("allocates first-fit from slot 1, creating the directory and a 0644 file", () => {
    const { file, registry } = fixture();
    assert.deepEqual(registry.list(), []);
    assert.equal(registry.allocate("u-a", CONFIG, "a"), 1);
    assert.equal(registry.allocate("u-b", CONFIG, "b"), 2);
    assert.equal(registry.allocate("u-c", CONFIG, "c"), 3);
    assert.deepEqual(registry.list(), [
      { slot: 1, uuid: "u-a", configDir: CONFIG, zonename: "a" },
      { slot: 2, uuid: "u-b", configDir: CONFIG, zonename: "b" },
      { slot: 3, uuid: "u-c", configDir: CONFIG, zonename: "c" },
    ]);
    assert.deepEqual(registry.find("u-b"), { slot: 2, uuid: "u-b", configDir: CONFIG, zonename: "b" });
    assert.equal(registry.find("u-x"), undefined);
    const lines = fs.readFileSync(file, "utf8").split("\n");
    assert.match(lines[0]!, /^# /);
    assert.equal(lines[1], "1:u-a:/etc/zones:a");
    assert.equal(fs.statSync(file).mode & 0o777, 0o644 & ~process.umask());
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o755 & ~process.umask());
  });

  test("a passwd uid inside a slot's range blocks that slot", () => {
    const { registry } = fixture({ passwd: "root:x:0:0::/root:/bin/sh\nbig:x:70000:100::/home/big:/bin/sh\n" });
    assert.equal(registry.allocate("u-a", CONFIG, "a"), 2);
    assert.equal(registry.allocate("u-b", CONFIG, "b"), 3);
  });

  test("a group gid inside a slot's range blocks that slot", () => {
    const { registry } = fixture({ group: "root:x:0:\nwide:x:131077:alice,bob\n" });
    assert.equal(registry.allocate("u-a", CONFIG, "a"), 1);
    assert.equal(registry.allocate("u-b", CONFIG, "b"), 3);
  });

  test("a subuid range 100000:65536 blocks slots 1 and 2; subgid ranges count too", () => {
    const sub = fixture({ subuid: "alice:100000:65536\n" });
    assert.equal(sub.registry.allocate("u-a", CONFIG, "a"), 3);
    // 196607 is the last id of slot 2; 196608 the first of slot 3.
    const gid = fixture({ subgid: "bob:196607:2\n" });
    assert.equal(gid.registry.allocate("u-a", CONFIG, "a"), 1);
    assert.equal(gid.registry.allocate("u-b", CONFIG, "b"), 4);
  });

  test("ids just outside a slot's range do not block it", () => {
    const { registry } = fixture({ passwd: `low:x:${SLOT_SIZE - 1}:0::/:/bin/sh\n`, subuid: `x:${2 * SLOT_SIZE}:10\n` });
    assert.equal(registry.allocate("u-a", CONFIG, "a"), 1);
    assert.equal(registry.allocate("u-b", CONFIG, "b"), 3);
  });

  test("malformed host lines are skipped; missing host files count as empty", () => {
    const { registry } = fixture({
      passwd: "broken line\n+::::::\nx:x:0x11170:1\nshort:x\nneg:x:-70000:0\n",
      group: "g:x:\ng:x:-1:\n",
      subuid: "alice:100000\nbob:abc:65536\ncarol:100000:65536:extra\ndave:100000:0\n",
    });
    assert.equal(registry.allocate("u-a", CONFIG, "a"), 1);
  });

  test("a host range over every slot leaves none free", () => {
    const { registry, file } = fixture({ subuid: `all:0:${2 ** 32}\n` });
    assert.throws(() => registry.allocate("u-a", CONFIG, "a"), (e: unknown) => e instanceof ZoneError && e.message.includes("no free uid slot") && e.message.includes(file));
  });

  test("allocate is idempotent: a re-install keeps its slot", () => {
    const { registry } = fixture();
    assert.equal(registry.allocate("u-a", CONFIG, "a"), 1);
    assert.equal(registry.allocate("u-b", CONFIG, "b"), 2);
    assert.equal(registry.allocate("u-a", CONFIG, "a"), 1);
    // A renamed zone keeps its slot; the informational name follows.
    assert.equal(registry.allocate("u-a", CONFIG, "renamed"), 1);
    assert.deepEqual(registry.list().map((e) => [e.slot, e.uuid, e.zonename]), [
      [1, "u-a", "renamed"],
      [2, "u-b", "b"],
    ]);
  });

  test("release frees a slot and re-allocation takes the lowest free one", () => {
    const { registry } = fixture();
    for (const u of ["a", "b", "c"]) registry.allocate(`u-${u}`, CONFIG, u);
    registry.release("u-b");
    assert.equal(registry.find("u-b"), undefined);
    registry.release("u-b");
    registry.release("never-allocated");
    assert.equal(registry.allocate("u-d", CONFIG, "d"), 2);
    assert.equal(registry.allocate("u-e", CONFIG, "e"), 4);
    assert.deepEqual(registry.list().map((e) => e.slot), [1, 2, 3, 4]);
  });

  test("two ZONES_ROOTs share the registry and never get the same slot", () => {
    const f = fixture();
    const other = new SlotRegistry(f.file, f.host);
    const rootA = "/etc/zones";
    const rootB = path.join(f.dir, "root/etc/zones");
    const got = [
      f.registry.allocate("u-1", rootA, "web"),
      other.allocate("u-2", rootB, "web"),
      f.registry.allocate("u-3", rootA, "db"),
      other.allocate("u-4", rootB, "db"),
    ];
    assert.deepEqual(got, [1, 2, 3, 4]);
    assert.deepEqual(other.find("u-1"), { slot: 1, uuid: "u-1", configDir: rootA, zonename: "web" });
    assert.equal(other.find("u-1", rootB), undefined);
    // A copied root repeats uuids: its zone may not take (or free) the original's slot.
    assert.throws(() => other.allocate("u-1", rootB, "web"), /zone uuid "u-1" already holds uid slot 1 for "\/etc\/zones"/);
    other.release("u-1", rootB);
    assert.equal(f.registry.find("u-1", rootA)?.slot, 1);
  });

  test("concurrent allocation from several processes yields distinct slots", async () => {
    const { file, host } = fixture();
    const mod = path.join(TOP, "dist/src/platform/slots.js");
    const script = `
      const { SlotRegistry } = await import(process.argv[1]);
      const r = new SlotRegistry(process.argv[2], JSON.parse(process.argv[3]));
      const got = [];
      for (let i = 0; i < 5; i++) got.push(r.allocate(process.argv[4] + "-" + i, "/etc/zones", "z"));
      process.stdout.write(JSON.stringify(got));
    `;
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: "" };
    const child = (n: number): Promise<number[]> =>
      new Promise((resolve, reject) => {
        const p = spawn(process.execPath, ["--input-type=module", "-e", script, mod, file, JSON.stringify(host), `p${n}`], { env });
        let out = "";
        let err = "";
        p.stdout.on("data", (d: Buffer) => (out += d.toString()));
        p.stderr.on("data", (d: Buffer) => (err += d.toString()));
        p.on("error", reject);
        p.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`child ${n} exited ${code}: ${err}`))));
      });
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map(child));
    const all = results.flat();
    assert.equal(all.length, 30);
    assert.equal(new Set(all).size, 30, `duplicate slots: ${JSON.stringify(results)}`);
    const listed = new SlotRegistry(file, host).list();
    assert.deepEqual(listed.map((e) => e.slot), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal(new Set(listed.map((e) => e.uuid)).size, 30);
    assert.deepEqual(fs.readdirSync(path.dirname(file)).sort(), ["slots", "slots.lock"]);
  });

  test("a malformed registry line is an error naming the file and line", () => {
    const { file, registry } = fixture();
    registry.allocate("u-a", CONFIG, "a");
    const good = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, good + "garbage\n");
    const where = `${file} line 3`;
    const names = (e: unknown): boolean => e instanceof ZoneError && e.message.startsWith(`${where}: `) && !e.message.includes("\n");
    assert.throws(() => registry.list(), names);
    assert.throws(() => registry.allocate("u-b", CONFIG, "b"), names);
    assert.throws(() => registry.release("u-a"), names);
    assert.equal(fs.readFileSync(file, "utf8"), good + "garbage\n");
    for (const bad of ["0:u:/etc/zones:z", "65535:u:/etc/zones:z", "1e0:u:/etc/zones:z", "2::/etc/zones:z", "2:u:/etc/zones", "2:u:/etc/zones:z:extra"]) {
      fs.writeFileSync(file, good + bad + "\n");
      assert.throws(() => registry.list(), names, bad);
    }
    fs.writeFileSync(file, good + "1:u-b:/etc/zones:b\n");
    assert.throws(() => registry.list(), { name: "ZoneError", message: `${where}: slot 1 is listed twice` });
  });

  test("a configDir holding ':' and '\\' round-trips", () => {
    const { file, registry } = fixture();
    const dir = "/tmp/a:b\\c:/etc/zones";
    assert.equal(registry.allocate("u-a", dir, "we:b"), 1);
    assert.equal(fs.readFileSync(file, "utf8").split("\n")[1], "1:u-a:/tmp/a\\:b\\\\c\\:/etc/zones:we\\:b");
    assert.deepEqual(new SlotRegistry(file).list(), [{ slot: 1, uuid: "u-a", configDir: dir, zonename: "we:b" }]);
    assert.equal(registry.allocate("u-a", dir, "we:b"), 1);
  });

  test("fields that would break the file are refused", () => {
    const { registry } = fixture();
    assert.throws(() => registry.allocate("", CONFIG, "a"), /invalid zone uuid ""/);
    assert.throws(() => registry.allocate("u\n2", CONFIG, "a"), /invalid zone uuid "u\\n2"/);
    assert.throws(() => registry.allocate("u", "etc/zones", "a"), /absolute path/);
    assert.throws(() => registry.allocate("u", CONFIG, "a\nb"), /control character/);
    assert.deepEqual(registry.list(), []);
  });
});

describe("hostId", () => {
  test("maps a zone id into its slot", () => {
    assert.equal(SLOT_SIZE, 65536);
    assert.equal(hostId(1, 0), 65536);
    assert.equal(hostId(2, 65535), 196607);
    assert.equal(hostId(65534, 65535), 2 ** 32 - 65536 - 1);
  });

  test("refuses slots and ids out of range", () => {
    for (const [slot, id] of [[0, 0], [65535, 0], [1.5, 0], [Number.NaN, 0], [1, -1], [1, 65536], [1, 0.5]] as const)
      assert.throws(() => hostId(slot, id), ZoneError, `${slot}, ${id}`);
  });
});
