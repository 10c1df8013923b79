/**
 * Move and detach/attach of a debian zone (an overlay on the host's image cache): a file
 * the zone wrote, and one it gave a user of its own, survive `zoneadm move` and a
 * detach from one root and an attach in another (this machine's stand-in for another
 * host) whose uid slot is taken there, so the zone's layer is re-owned into a new slot;
 * the zone boots to `running` after each. The image cache's holds (images.ts
 * `<stamp>.users/<hold>`) follow the zone: the detached root's goes at attach, the
 * attaching root's appears, and uninstall leaves none. Needs the base image
 * (install.test.ts builds it once per machine).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { ensureDebianImage, releaseTree } from "../../../src/platform/images.js";
import { Repository } from "../../../src/document/store/repository.js";
import { SlotRegistry } from "../../../src/platform/slots.js";
import { until } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const here = new ZoneTestRoot("debmv");
const there = new ZoneTestRoot("debat");
const first = path.join(here.dir, "zones/mv");
const moved = path.join(here.dir, "elsewhere/mv");
/** Another file system (tmpfs), for a move that copies. */
const otherfs = path.join(here.dir, "otherfs");
const far = path.join(otherfs, "mv");
const reg = new SlotRegistry();
/** Slots this file took in the other root to make the detached one taken there. */
const takers: string[] = [];

interface Rec {
  tree: string;
  hold: string;
}
const rec = (zonepath: string): Rec => JSON.parse(fs.readFileSync(path.join(zonepath, "image.json"), "utf8")) as Rec;
const holdFile = (r: Rec): string => path.join(`${r.tree}.users`, r.hold);
/** Every hold this file's zones had, so that the teardown drops them also after a failure. */
const seen: Rec[] = [];

after(() => {
  for (const [r, n] of [[there, "back"], [here, "mv"]] as const) r.run("zoneadm", ["-z", n, "halt"]);
  for (const zp of [first, moved, far]) {
    try {
      seen.push(rec(zp));
    } catch {
      // no record there
    }
  }
  for (const r of seen) releaseTree(r.tree, r.hold);
  for (const u of takers) reg.release(u);
  // The attached zone's tree lies under `here`: `there` goes first, its container with it.
  there.remove();
  spawnSync("umount", ["-R", otherfs]);
  here.remove();
});

const state = (r: ZoneTestRoot, n: string): string => new Repository(r.paths).find(n)?.state ?? "absent";
const slotOf = (r: ZoneTestRoot, n: string): number | undefined => reg.find(new Repository(r.paths).find(n)?.uuid ?? "")?.slot;

async function running(r: ZoneTestRoot, z: string): Promise<void> {
  let last = "";
  await until(`${z}: systemd running`, () => {
    last = r.run("zlogin", [z, "systemctl is-system-running"]).stdout.trim();
    return last === "running" || last === "degraded";
  }, 30_000);
  assert.equal(last, "running", r.run("zlogin", [z, "systemctl --failed --no-legend"]).stdout);
}

/** What the zone sees of the files it wrote: owner, group and content. */
const files = (r: ZoneTestRoot, z: string): string => r.ok("zlogin", [z, "stat -c '%u:%g %n' /var/f /var/g; cat /var/f; ls /etc/motd 2>&1 || true"]);
/** A file of root's, one of a zone user's, and a file of the image the zone removed (an overlay whiteout). */
const FILES = "0:0 /var/f\n1000:1000 /var/g\nwritten before the move\nls: cannot access '/etc/motd': No such file or directory\n";

describe("debian zone: move (a rename, then across file systems), detach, attach elsewhere with its slot taken; the image holds follow", { concurrency: false }, () => {
  test("the zone writes its files; move to a new path, then onto another file system; it boots there with them", async () => {
    // In-process, with no command's timeout: the first run on a machine builds the image (minutes).
    ensureDebianImage({ stdio: "ignore" });
    here.ok("zonecfg", ["-z", "mv", `create; set zonepath=${first}; set brand=debian`]);
    here.ok("zoneadm", ["-z", "mv", "install"]);
    seen.push(rec(first));
    here.ok("zoneadm", ["-z", "mv", "boot"]);
    await running(here, "mv");
    here.ok("zlogin", ["mv", "echo 'written before the move' > /var/f && touch /var/g && chown 1000:1000 /var/g && rm /etc/motd"]);
    assert.equal(files(here, "mv"), FILES);
    here.ok("zoneadm", ["-z", "mv", "shutdown"]);
    const before = rec(first);
    here.ok("zoneadm", ["-z", "mv", "move", moved]);
    assert.equal(state(here, "mv"), "installed");
    assert.equal(new Repository(here.paths).load("mv").zonepath, moved);
    assert.equal(fs.existsSync(first), false, "the old zonepath is gone");
    // The zone keeps its hold: the record moved with the zonepath, the hold file stayed.
    assert.deepEqual(rec(moved), before);
    assert.ok(fs.existsSync(holdFile(before)), "the moved zone still holds its image generation");
    here.ok("zoneadm", ["-z", "mv", "boot"]);
    await running(here, "mv");
    assert.equal(files(here, "mv"), FILES);
    here.ok("zoneadm", ["-z", "mv", "shutdown"]);
    // Onto another file system: the layer copied (its whiteout too), the old zonepath removed.
    fs.mkdirSync(otherfs, { mode: 0o755 });
    assert.equal(spawnSync("mount", ["-t", "tmpfs", "-o", "mode=755,size=256m", "tmpfs", otherfs]).status, 0);
    here.ok("zoneadm", ["-z", "mv", "move", far]);
    assert.equal(fs.existsSync(moved), false, "the zonepath moved from is gone");
    assert.deepEqual(fs.readdirSync(far).sort(), ["image.json", "root", "upper", "work"]);
    assert.deepEqual(rec(far), before);
    here.ok("zoneadm", ["-z", "mv", "boot"]);
    await running(here, "mv");
    assert.equal(files(here, "mv"), FILES);
    here.ok("zoneadm", ["-z", "mv", "shutdown"]);
  });

  test("detach; attach in another root with the slot taken: re-owned, boots, files there; the hold follows", async () => {
    const slot = slotOf(here, "mv")!;
    const old = rec(far);
    here.ok("zoneadm", ["-z", "mv", "detach"]);
    assert.equal(state(here, "mv"), "configured");
    // A detached zone's tree still lies on the image: its hold stays until it is attached.
    assert.ok(fs.existsSync(holdFile(old)), "the detached zone's hold");
    // Another zone of the other root takes the detached slot (slots are host-wide and
    // other roots take them too: lower free ones are taken and given back; a zone of
    // another root running beside may have taken it first, which serves as well).
    const taken = (): boolean => reg.list().some((e) => e.slot === slot);
    for (let i = 0; i < 64 && !taken(); i++) {
      const u = `debmv-test-${process.pid}-${i}`;
      takers.push(u);
      reg.allocate(u, there.paths.configDir, "taker");
    }
    for (const u of takers) if (reg.find(u)?.slot !== slot) reg.release(u);
    assert.ok(taken(), `slot ${slot} taken`);
    there.ok("zonecfg", ["-z", "back", `create -a ${far}`]);
    // A layer on a generation this host lacks (one brought from another host) is refused, changing nothing.
    const kept = fs.readFileSync(path.join(far, "image.json"));
    fs.writeFileSync(path.join(far, "image.json"), JSON.stringify({ ...old, tree: path.join(path.dirname(old.tree), "19990101T000000") }));
    const r = there.run("zoneadm", ["-z", "back", "attach"]);
    assert.match(r.stderr, /layer lies on image generation ".*\/19990101T000000", which this host does not have/);
    assert.equal(state(there, "back"), "configured");
    // A record that is a link (to another zone's, say) is refused: no hold of another zone's is taken or dropped.
    const other = path.join(here.dir, "other-image.json");
    fs.writeFileSync(other, kept);
    fs.rmSync(path.join(far, "image.json"));
    fs.symlinkSync(other, path.join(far, "image.json"));
    assert.match(there.run("zoneadm", ["-z", "back", "attach"]).stderr, /image\.json" is not a regular file of root's with one name; refusing it/);
    assert.equal(state(there, "back"), "configured");
    assert.deepEqual(fs.readFileSync(other), kept, "the link's target is unchanged");
    fs.rmSync(path.join(far, "image.json"));
    fs.writeFileSync(path.join(far, "image.json"), kept, { mode: 0o600 });
    there.ok("zoneadm", ["-z", "back", "attach"]);
    assert.equal(state(there, "back"), "installed");
    const s = slotOf(there, "back")!;
    assert.notEqual(s, slot);
    // The zone's layer is re-owned into the new slot; the image under it is mapped at mount.
    assert.equal(fs.lstatSync(path.join(far, "upper/var/f")).uid, s * 65536);
    assert.equal(fs.lstatSync(path.join(far, "upper/var/g")).uid, s * 65536 + 1000);
    const now = rec(far);
    seen.push(now);
    assert.equal(now.tree, old.tree);
    assert.notEqual(now.hold, old.hold, "the attaching root holds the image in a name of its own");
    assert.ok(fs.existsSync(holdFile(now)), "the attached zone's hold");
    assert.equal(fs.existsSync(holdFile(old)), false, "the detached root's hold went with the attach");
    there.ok("zoneadm", ["-z", "back", "boot"]);
    await running(there, "back");
    assert.equal(files(there, "back"), FILES);
    assert.equal(there.ok("zlogin", ["back", "hostname; zonename"]), "mv\nback\n");
    there.ok("zoneadm", ["-z", "back", "shutdown"]);
    there.ok("zoneadm", ["-z", "back", "uninstall", "-F"]);
    assert.equal(fs.existsSync(holdFile(now)), false, "uninstall left a hold on the image");
    assert.equal(fs.existsSync(far), false);
  });
});
