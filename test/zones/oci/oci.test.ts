/**
 * Brand oci on real zones: an image built with umoci from a busybox tree installs with
 * its owners shifted into the zone's slot, boots with its entrypoint as the init (its
 * user, environment and working directory), zlogin works, shutdown sends the image's
 * StopSignal, and `zoneadm image` shows the digest. A tar of the layout installs too.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { Repository } from "../../../src/document/store/repository.js";
import { readRun } from "../../../src/document/store/runstate.js";
import { SlotRegistry } from "../../../src/platform/slots.js";
import { until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("oci");
after(() => root.remove());
const zp = path.join(root.dir, "zones/oz");
const img = path.join(root.dir, "img");
const state = (n: string): string => new Repository(root.paths).find(n)?.state ?? "absent";
const hasUmoci = spawnSync("umoci", ["--version"]).status === 0;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The test image: a static busybox, an app user whose init traps the stop signal. */
function buildImage(): void {
  const bundle = path.join(root.dir, "bundle");
  sh("umoci", ["init", "--layout", img]);
  sh("umoci", ["new", "--image", `${img}:v1`]);
  sh("umoci", ["unpack", "--image", `${img}:v1`, bundle]);
  const r = path.join(bundle, "rootfs");
  for (const d of ["bin", "etc", "srv"]) fs.mkdirSync(path.join(r, d));
  fs.copyFileSync("/bin/busybox", path.join(r, "bin/busybox"));
  fs.chmodSync(path.join(r, "bin/busybox"), 0o755);
  for (const a of ["sh", "cat", "sleep", "ls", "id", "env", "pwd"]) fs.symlinkSync("busybox", path.join(r, "bin", a));
  fs.writeFileSync(path.join(r, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/srv:/bin/sh\n");
  fs.writeFileSync(path.join(r, "etc/group"), "root:x:0:\napp:x:1000:\n");
  fs.writeFileSync(path.join(r, "srv/hello"), "hello from the image\n");
  fs.chownSync(path.join(r, "srv"), 1000, 1000);
  sh("umoci", ["repack", "--image", `${img}:v1`, bundle]);
  const script = 'trap "echo got-usr1 > /srv/stopped; exit 0" USR1; echo "$GREETING $(pwd)" > /srv/started; while :; do sleep 1; done';
  sh("umoci", ["config", "--image", `${img}:v1`, "--config.entrypoint", "/bin/sh", "--config.cmd=-c", `--config.cmd=${script}`, "--config.env", "GREETING=hi", "--config.workingdir", "/srv", "--config.stopsignal", "SIGUSR1", "--config.user", "app"]);
  fs.rmSync(bundle, { recursive: true, force: true });
}

/** The digest index.json gives the tag. */
function manifestDigest(tag: string): string {
  const index = JSON.parse(fs.readFileSync(path.join(img, "index.json"), "utf8")) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  return index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag)!.digest;
}

describe("brand oci", { concurrency: false, skip: hasUmoci ? false : "umoci is not installed (apt-get install umoci)" }, () => {
  before(() => {
    buildImage();
    root.ok("zonecfg", ["-z", "oz", `create; set zonepath=${zp}; set brand=oci`]);
  });
  after(() => {
    root.run("zoneadm", ["-z", "oz", "halt"]);
    root.run("zoneadm", ["-z", "oz", "uninstall", "-F"]);
  });

  test("install -i DIR:TAG applies the image with owners in the zone's slot and records its digest", () => {
    root.ok("zoneadm", ["-z", "oz", "install", "-i", `${img}:v1`]);
    assert.equal(state("oz"), "installed");
    const base = new SlotRegistry().find(new Repository(root.paths).find("oz")!.uuid)!.slot * 65536;
    assert.equal(fs.readFileSync(path.join(zp, "root/srv/hello"), "utf8"), "hello from the image\n");
    assert.equal(fs.statSync(path.join(zp, "root/srv")).uid, base + 1000);
    assert.equal(fs.statSync(path.join(zp, "root/bin/busybox")).uid, base);
    assert.equal(fs.readlinkSync(path.join(zp, "root/bin/sh")), "busybox");
    const digest = manifestDigest("v1");
    assert.equal(root.ok("zoneadm", ["-z", "oz", "image", "-p"]), `${digest}\n`);
    const info = root.ok("zoneadm", ["-z", "oz", "image"]);
    assert.match(info, /^init: +\/bin\/sh -c "trap \\"echo got-usr1 > \/srv\/stopped; exit 0\\" USR1; /m);
    assert.match(info, /^user: +1000:1000$/m);
    assert.match(info, /^stopsignal: +10$/m);
    assert.match(root.ok("zoneadm", ["list", "-cv"]), /oz .* oci /);
  });

  test("boot runs the entrypoint as the image's user, with its environment and working directory; zlogin works", async () => {
    root.ok("zoneadm", ["-z", "oz", "boot"]);
    await until("the entrypoint's mark", () => fs.existsSync(path.join(zp, "root/srv/started")));
    assert.equal(fs.readFileSync(path.join(zp, "root/srv/started"), "utf8"), "hi /srv\n");
    const pid = readRun(root.paths, "oz")!.pid;
    const base = fs.statSync(path.join(zp, "root/bin/busybox")).uid;
    assert.match(fs.readFileSync(`/proc/${pid}/status`, "utf8"), new RegExp(`^Uid:\\s+${base + 1000}\\s`, "m"));
    assert.equal(root.ok("zlogin", ["oz", "cat /srv/hello; id -u"]), "hello from the image\n0\n");
  });

  test("shutdown sends the image's StopSignal and the zone is installed again", () => {
    root.ok("zoneadm", ["-z", "oz", "shutdown"]);
    assert.equal(state("oz"), "installed");
    assert.equal(fs.readFileSync(path.join(zp, "root/srv/stopped"), "utf8"), "got-usr1\n");
    assert.match(fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8"), /zone 'oz': shutdown: 10 to init/);
  });

  test("uninstall removes the tree and the image record; a tar of the layout installs the same image", () => {
    root.ok("zoneadm", ["-z", "oz", "uninstall", "-F"]);
    assert.ok(!fs.existsSync(zp));
    const tarFile = path.join(root.dir, "img.tar");
    sh("tar", ["-cf", tarFile, "-C", img, "."]);
    root.ok("zoneadm", ["-z", "oz", "install", "-i", tarFile]);
    assert.equal(fs.readFileSync(path.join(zp, "root/srv/hello"), "utf8"), "hello from the image\n");
    assert.equal(root.ok("zoneadm", ["-z", "oz", "image", "-p"]), `${manifestDigest("v1")}\n`);
  });

  test("-i is for brand oci only, and brand oci needs it", () => {
    root.ok("zonecfg", ["-z", "mz", `create; set zonepath=${path.join(root.dir, "zones/mz")}; set brand=minimal`]);
    const r = root.run("zoneadm", ["-z", "mz", "install", "-i", img]);
    assert.match(r.stderr, /brand "minimal" installs no image/);
    assert.equal(state("mz"), "configured");
    root.ok("zonecfg", ["-z", "mz", "delete -F"]);
    root.ok("zonecfg", ["-z", "nz", `create; set zonepath=${path.join(root.dir, "zones/nz")}; set brand=oci`]);
    assert.match(root.run("zoneadm", ["-z", "nz", "install"]).stderr, /brand "oci" installs from an image: zoneadm -z nz install -i IMAGE/);
    assert.equal(state("nz"), "configured");
    assert.ok(!fs.existsSync(path.join(root.dir, "zones/nz")));
    root.ok("zonecfg", ["-z", "nz", "delete -F"]);
  });
});
