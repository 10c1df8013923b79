/**
 * OCI layers applied to a scratch tree (as root, no zone): entries land below the root
 * with shifted owners, whiteouts and opaque directories act on the layers below only,
 * and an entry with "..", an absolute name, a path through a planted symlink, a hard
 * link out of the tree, a device node or a truncated archive is refused in one line.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { after, beforeEach, describe, test } from "node:test";
import { applyLayer, layerTar } from "../../src/platform/oci/layers.js";
import { readTar } from "../../src/platform/oci/tar.js";
import { ZoneRoot } from "../../src/platform/zonefs.js";
import { tar, type Entry } from "../support/ocifixture.js";

const BASE = 9 * 65536;
const top = fs.mkdtempSync(path.join(os.tmpdir(), "zones-ocilayers-"));
const root = path.join(top, "root");
const outside = path.join(top, "outside");
after(() => fs.rmSync(top, { recursive: true, force: true }));
beforeEach(() => {
  for (const d of [root, outside]) fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
});

function apply(...layers: Entry[][]): void {
  const zr = ZoneRoot.open(root);
  try {
    for (const [i, l] of layers.entries()) applyLayer(zr, tar(l), BASE, `layer ${i}`);
  } finally {
    zr.close();
  }
}

const at = (rel: string): string => path.join(root, rel);
const refused = (re: RegExp, ...layers: Entry[][]): void => {
  assert.throws(() => apply(...layers), (e: Error) => re.test(e.message) && !e.message.includes("\n"));
};

describe("oci layers", () => {
  test("files, dirs, links and owners shifted into the slot; set-id bits kept", () => {
    const entries: Entry[] = [
      { name: "./bin/", mode: 0o755 },
      { name: "./bin/tool", data: "x", mode: 0o4755, uid: 0 },
      { name: "./home/", uid: 1000, gid: 1000 },
      { name: "home/app.txt", data: "hi", uid: 1000, gid: 100 },
      { name: "bin/sh", type: "2", linkname: "/bin/tool" },
      { name: "bin/hard", type: "1", linkname: "./bin/tool" },
      { name: "big", data: "b", uid: 70000, mode: 0o6755 },
      { name: "deep/" },
      { name: `deep/${"n".repeat(120)}`, data: "long" },
    ];
    apply(entries);
    assert.equal(fs.statSync(at("bin/tool")).mode & 0o7777, 0o4755);
    assert.equal(fs.statSync(at("bin/tool")).uid, BASE);
    assert.equal(fs.statSync(at("home/app.txt")).uid, BASE + 1000);
    assert.equal(fs.statSync(at("home/app.txt")).gid, BASE + 100);
    assert.equal(fs.readlinkSync(at("bin/sh")), "/bin/tool");
    assert.equal(fs.statSync(at("bin/hard")).ino, fs.statSync(at("bin/tool")).ino);
    assert.equal(fs.statSync(at("big")).uid, BASE + 65534, "an id outside the slot becomes the zone's nobody");
    assert.equal(fs.statSync(at("big")).mode & 0o7777, 0o2755, "and loses set-uid; set-gid stays with its group in the slot");
    assert.equal(fs.readFileSync(at(`deep/${"n".repeat(120)}`), "utf8"), "long");
    for (const p of ["bin", "bin/tool", "home/app.txt", "deep"]) assert.equal(fs.statSync(at(p)).mtimeMs, 1_600_000_000_000, `${p}: the image's mtime`);
    assert.equal(fs.lstatSync(at("bin/sh")).mtimeMs, 1_600_000_000_000, "a link's own time, not its target's");
  });

  test("a whiteout removes what a lower layer had; an opaque directory keeps only this layer's entries", () => {
    apply(
      [{ name: "etc/" }, { name: "etc/a", data: "1" }, { name: "etc/b", data: "2" }, { name: "opt/" }, { name: "opt/old/" }, { name: "opt/old/f", data: "x" }, { name: "gone/" }, { name: "gone/f", data: "f" }],
      [{ name: "etc/.wh.a" }, { name: ".wh.gone" }, { name: "opt/new", data: "n" }, { name: "opt/.wh..wh..opq" }, { name: "etc/c", data: "3" }],
    );
    assert.ok(!fs.existsSync(at("etc/a")));
    assert.equal(fs.readFileSync(at("etc/b"), "utf8"), "2");
    assert.ok(!fs.existsSync(at("gone")));
    assert.deepEqual(fs.readdirSync(at("opt")), ["new"], "opaque: the lower layer's opt/old is gone, this layer's opt/new stays");
  });

  test("an entry of another kind replaces what the layer below had", () => {
    apply([{ name: "x/" }, { name: "x/f", data: "1" }, { name: "y", data: "file" }], [{ name: "x", data: "now a file" }, { name: "y/" }]);
    assert.equal(fs.readFileSync(at("x"), "utf8"), "now a file");
    assert.ok(fs.statSync(at("y")).isDirectory());
  });

  test('".." and absolute names are refused', () => {
    refused(/"\.\." component/, [{ name: "../escape", data: "x" }]);
    refused(/"\.\." component/, [{ name: "a/../../escape", data: "x" }]);
    refused(/absolute path/, [{ name: `${outside}/file`, data: "x" }]);
    assert.deepEqual(fs.readdirSync(outside), []);
  });

  test("an entry through a symlink an earlier entry planted is refused, in the same or a later layer", () => {
    refused(/symbolic link/, [{ name: "evil", type: "2", linkname: outside }, { name: "evil/file", data: "x" }]);
    refused(/symbolic link/, [{ name: "rel", type: "2", linkname: "../outside" }], [{ name: "rel/file", data: "x" }]);
    assert.deepEqual(fs.readdirSync(outside), []);
  });

  test("hard links stay in the tree; device nodes and FIFOs are refused", () => {
    fs.writeFileSync(path.join(outside, "secret"), "s");
    refused(/"\.\." component/, [{ name: "h", type: "1", linkname: "../outside/secret" }]);
    refused(/absolute path/, [{ name: "h", type: "1", linkname: `${outside}/secret` }]);
    refused(/char device/, [{ name: "dev/", type: "5" }, { name: "dev/mem", type: "3" }]);
    refused(/FIFO/, [{ name: "p", type: "6" }]);
  });

  test("a truncated archive, a bad checksum and a bad gzip stream are refused", () => {
    const t = tar([{ name: "f", data: "x".repeat(2000) }]);
    assert.throws(() => [...readTar(t.subarray(0, 1024), "t")], /truncated/);
    assert.throws(() => [...readTar(t.subarray(0, t.length - 1024), "t")], /truncated: no end-of-archive/);
    const bad = Buffer.from(t);
    bad[10] = 0x41;
    assert.throws(() => [...readTar(bad, "t")], /bad checksum/);
    assert.equal(layerTar(gzipSync(t), "application/vnd.oci.image.layer.v1.tar+gzip", "l").length, t.length);
    assert.throws(() => layerTar(gzipSync(t).subarray(0, 40), "application/vnd.oci.image.layer.v1.tar+gzip", "l"), /cannot decompress/);
    assert.throws(() => layerTar(t, "application/vnd.oci.image.layer.v1.tar+bzip2", "l"), /not supported/);
    const z = spawnSync("zstd", ["-cq"], { input: t });
    if (z.status === 0) {
      assert.ok(layerTar(z.stdout, "application/vnd.oci.image.layer.v1.tar+zstd", "l").equals(t));
      assert.throws(() => layerTar(z.stdout.subarray(0, 20), "application/vnd.oci.image.layer.v1.tar+zstd", "l"), /cannot decompress: zstd: /);
    }
  });
});
