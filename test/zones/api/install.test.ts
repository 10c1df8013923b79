/**
 * One install, two doors: a debian zone installed through the API (overlay and -x copy)
 * on the host's existing image cache, and the daemon's image step when a build is
 * asked for (-x rebuild-image, "rebuild_image"). The real build takes minutes and the
 * cache at /var/lib/zones/images is every root's, so the builder child is replaced here
 * by a fake (ZONES_IMAGE_BUILDER, imagebuild.ts) that prints progress and builds
 * nothing; the install then uses the cache as it is. What is checked is the chain: the
 * daemon runs the builder, its progress reaches zoneadm's stderr over the connection
 * and the API's operation (metadata, events), and a failed build fails the install.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { TOP, until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { ApiClient, type EventStream } from "../../support/api.js";
import { currentTree, debianImageDir } from "../../../src/platform/images.js";

const root = new ZoneTestRoot("apiinst");
const ZONES = ["deb", "debcopy", "mini"];
let api: ApiClient;
const streams: EventStream[] = [];
const fake = path.join(root.dir, "fake-builder");
const calls = path.join(root.dir, "fake-builder.calls");
const hasImage = currentTree(debianImageDir()) !== undefined;

before(() => {
  // The fake: one line of arguments into calls, two progress lines, or a failure when FAIL exists.
  fs.writeFileSync(fake, `#!/bin/sh\necho "$*" >> ${calls}\necho "fake build step 1"\necho "fake build step 2"\necho "I: a line of mmdebstrap's own" >&2\nif [ -e ${root.dir}/FAIL ]; then echo "the fake build failed on purpose" >&2; exit 3; fi\n`, { mode: 0o755 });
  // The daemon inherits it from the first command (helpers.ts env spreads process.env).
  process.env.ZONES_IMAGE_BUILDER = fake;
  for (const z of ZONES) root.ok("zonecfg", ["-z", z, `create; set zonepath=${path.join(root.dir, "zones", z)}; set brand=${z === "mini" ? "minimal" : "debian"}`]);
  root.ok("zoneadm", ["runtime"]);
  api = new ApiClient(root.paths.runDir);
});

after(() => {
  for (const s of streams) s.close();
  api?.close();
  delete process.env.ZONES_IMAGE_BUILDER;
  try {
    for (const z of ZONES) root.run("zoneadm", ["-z", z, "uninstall", "-F"], undefined, 120_000);
  } finally {
    root.remove();
  }
});

const state = (zone: string): string => root.ok("zoneadm", ["-z", zone, "list", "-p"]).split(":")[2]!;
const record = (zone: string): { mode: string } => JSON.parse(fs.readFileSync(path.join(root.dir, "zones", zone, "image.json"), "utf8")) as { mode: string };
const built = (): string[] => (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : []);

test("an API install of a debian zone uses the existing image (no build) and installs it", { skip: !hasImage && "no Debian image in /var/lib/zones/images" }, async () => {
  const op = await api.operate("PUT", "/1.0/zones/deb/state", { body: { action: "install" } });
  assert.equal(op.status, "Success", op.err);
  assert.equal(state("deb"), "installed");
  assert.equal(record("deb").mode, "overlay");
  assert.deepEqual(built(), [], "an image already built needs no builder");
});

test('"copy": true over the API is -x copy: a private copy of the image', { skip: !hasImage && "no Debian image in /var/lib/zones/images" }, async () => {
  const op = await api.operate("PUT", "/1.0/zones/debcopy/state", { body: { action: "install", copy: true }, timeoutMs: 300_000 });
  assert.equal(op.status, "Success", op.err);
  assert.equal(record("debcopy").mode, "copy");
  root.ok("zoneadm", ["-z", "debcopy", "uninstall", "-F"], undefined, 120_000);
});

test('"rebuild_image": true runs the daemon\'s builder; its progress is the operation\'s metadata and events', { skip: !hasImage && "no Debian image in /var/lib/zones/images" }, async () => {
  root.ok("zoneadm", ["-z", "deb", "uninstall", "-F"], undefined, 120_000);
  const events = await api.events("operation,logging");
  streams.push(events);
  const op = await api.operate("PUT", "/1.0/zones/deb/state", { body: { action: "install", rebuild_image: true } });
  assert.equal(op.status, "Success", op.err);
  assert.deepEqual(built(), ["rebuild"]);
  const mine = (): Array<{ status: string; metadata: { progress?: string[] } | null }> => events.events.filter((e) => e.type === "operation" && (e.metadata.operation as { id: string }).id === op.id).map((e) => e.metadata.operation as { status: string; metadata: { progress?: string[] } | null });
  await until("the operation's end as an event", () => mine().some((o) => o.status === "Success"));
  // The last update before the end holds every line; the end's metadata is the result.
  assert.deepEqual(mine().at(-2)?.metadata?.progress, ["fake build step 1", "fake build step 2", "I: a line of mmdebstrap's own"]);
  assert.ok(events.events.some((e) => e.type === "logging" && String(e.metadata.message).includes("install: fake build step 2")));
  assert.equal(state("deb"), "installed");
});

test("zoneadm install -x rebuild-image: the same builder, its progress on zoneadm's stderr; a failed build fails the install", { skip: !hasImage && "no Debian image in /var/lib/zones/images" }, () => {
  root.ok("zoneadm", ["-z", "deb", "uninstall", "-F"], undefined, 120_000);
  fs.rmSync(calls, { force: true });
  const r = root.run("zoneadm", ["-z", "deb", "install", "-x", "rebuild-image"], undefined, 120_000);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^zoneadm: fake build step 1\nzoneadm: fake build step 2\nzoneadm: I: a line of mmdebstrap's own\n/);
  assert.deepEqual(built(), ["rebuild"]);
  root.ok("zoneadm", ["-z", "deb", "uninstall", "-F"], undefined, 120_000);
  fs.writeFileSync(path.join(root.dir, "FAIL"), "");
  const f = root.run("zoneadm", ["-z", "deb", "install", "-x", "rebuild-image"], undefined, 120_000);
  assert.equal(f.status, 1);
  assert.match(f.stderr, /the fake build failed on purpose/);
  assert.equal(state("deb"), "configured");
});

test("-x options of another brand: the daemon's one message, from the command and the API alike", async () => {
  const r = root.run("zoneadm", ["-z", "mini", "install", "-x", "copy"]);
  assert.equal(r.status, 1);
  const message = 'install -x copy: brand "minimal" has no such option (the debian brand has)';
  assert.equal(r.stderr, `zoneadm: zone 'mini': ${message}\n`);
  const op = await api.operate("PUT", "/1.0/zones/mini/state", { body: { action: "install", copy: true } });
  assert.equal(op.status, "Failure");
  assert.equal(op.err, message);
  assert.equal(state("mini"), "configured");
});

test("zoneadmd --build-image is the builder child, not a daemon: with the image built it has nothing to do", { skip: !hasImage && "no Debian image in /var/lib/zones/images" }, () => {
  const empty = fs.mkdtempSync(path.join(root.dir, "builder-"));
  const r = spawnSync(process.execPath, [path.join(TOP, "dist/bin/zoneadmd.cjs"), "--build-image"], { env: { ...process.env, ZONES_ROOT: empty }, encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, "");
  assert.deepEqual(fs.readdirSync(empty), [], "no daemon ran: it would have made its run directory");
});
