/**
 * Malformed OCI images are refused with one line and leave nothing behind: the zone
 * stays configured, holds no uid slot, and its zonepath is as it was (absent, or the
 * empty directory the administrator made, with its mode). Each image is crafted blob
 * by blob (support/ocifixture.ts) so exactly one thing is wrong with it.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { Repository } from "../../../src/document/store/repository.js";
import { SlotRegistry } from "../../../src/platform/slots.js";
import { blobPath, tar, writeLayout, type Entry, type LayoutOptions } from "../../support/ocifixture.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("ocibad");
after(() => root.remove());
const zp = path.join(root.dir, "zones/bz");
const outside = path.join(root.dir, "outside");
const good: Entry[] = [{ name: "etc/" }, { name: "etc/passwd", data: "root:x:0:0::/:/bin/sh\n" }, { name: "bin/" }, { name: "bin/ok", data: "ok" }];

const hostArch = ({ x64: "amd64", arm64: "arm64" } as Record<string, string>)[process.arch] ?? process.arch;
let n = 0;
function image(o: Partial<LayoutOptions> & { spoil?: (dir: string, d: ReturnType<typeof writeLayout>) => void }): string {
  const dir = path.join(root.dir, `img${n++}`);
  const d = writeLayout(dir, { layers: o.layers ?? [tar(good)], ...o });
  o.spoil?.(dir, d);
  return dir;
}

/** Install must fail with one line matching `re`, and leave the zone and its zonepath as they were. */
function refused(img: string, re: RegExp, zonepathExists: boolean): void {
  if (zonepathExists) fs.mkdirSync(zp, { mode: 0o700 });
  const r = root.run("zoneadm", ["-z", "bz", "install", "-i", img]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, re);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
  const e = new Repository(root.paths).find("bz")!;
  assert.equal(e.state, "configured");
  assert.equal(new SlotRegistry().find(e.uuid, root.paths.configDir), undefined, "no uid slot held");
  if (zonepathExists) {
    assert.deepEqual(fs.readdirSync(zp), []);
    const st = fs.statSync(zp);
    assert.equal(st.mode & 0o7777, 0o700);
    assert.equal(st.uid, 0);
    fs.rmdirSync(zp);
  } else assert.ok(!fs.existsSync(zp), "no zonepath made");
  assert.deepEqual(fs.readdirSync(outside), [], "nothing written outside the zone");
}

describe("malformed oci images", { concurrency: false }, () => {
  before(() => {
    fs.mkdirSync(outside);
    fs.mkdirSync(path.dirname(zp));
    root.ok("zonecfg", ["-z", "bz", `create; set zonepath=${zp}; set brand=oci`]);
  });

  test("a layer blob altered, same size: bad digest", () => {
    const flip = (f: string): void => {
      const b = fs.readFileSync(f);
      b[600] = b[600]! ^ 1;
      fs.writeFileSync(f, b);
    };
    refused(image({ spoil: (dir, d) => flip(blobPath(dir, d.layers[0]!)) }), /layer sha256:[0-9a-f]{64} has digest sha256:.*corrupt or altered/, true);
  });

  test("a truncated layer blob", () => {
    refused(image({ spoil: (dir, d) => fs.truncateSync(blobPath(dir, d.layers[0]!), 700) }), /is 700 bytes, its descriptor says \d+ \(truncated/, false);
  });

  test("a manifest that is not JSON", () => {
    refused(image({ manifestBytes: () => Buffer.from("not json{") }), /manifest sha256:[0-9a-f]{64} is not JSON/, true);
  });

  test("a layer media type we do not read (bzip2)", () => {
    refused(image({ layerType: "application/vnd.oci.image.layer.v1.tar+bzip2" }), /media type "application\/vnd\.oci\.image\.layer\.v1\.tar\+bzip2", which is not supported/, false);
  });

  test('a layer entry escaping with "..", after good entries were written', () => {
    refused(image({ layers: [tar([...good, { name: "../../outside/x", data: "x" }])] }), /entry "\.\.\/\.\.\/outside\/x" has a "\.\." component/, true);
  });

  test("an absolute symlink, then an entry through it in the next layer", () => {
    refused(image({ layers: [tar([...good, { name: "evil", type: "2", linkname: outside }]), tar([{ name: "evil/x", data: "x" }])] }), /symbolic link in the zone; refusing to follow it/, false);
  });

  test("a device node", () => {
    refused(image({ layers: [tar([...good, { name: "dev/" }, { name: "dev/sda", type: "3" }])] }), /entry "dev\/sda" is a char device/, true);
  });

  test("a tag the index does not have", () => {
    refused(`${image({})}:nope`, /no manifest tagged "nope"; tags: latest/, false);
  });

  test("a multi-platform image without this host's platform", () => {
    refused(image({ architectures: ["mips64le", "s390x"].filter((a) => a !== hostArch) }), /image index sha256:[0-9a-f]{64} has no manifest for linux\//, true);
  });

  test("a multi-platform image installs this host's manifest", () => {
    const d = writeLayout(path.join(root.dir, "multi"), { layers: [tar(good)], architectures: ["s390x", hostArch] });
    root.ok("zoneadm", ["-z", "bz", "install", "-i", path.join(root.dir, "multi")]);
    assert.equal(root.ok("zoneadm", ["-z", "bz", "image", "-p"]), `${d.manifest}\n`);
    root.ok("zoneadm", ["-z", "bz", "uninstall", "-F"]);
  });

  test("after all that, a good image still installs and uninstalls", () => {
    root.ok("zoneadm", ["-z", "bz", "install", "-i", `${image({})}:latest`]);
    assert.equal(fs.readFileSync(path.join(zp, "root/bin/ok"), "utf8"), "ok");
    root.ok("zoneadm", ["-z", "bz", "uninstall", "-F"]);
    assert.ok(!fs.existsSync(zp));
  });
});
