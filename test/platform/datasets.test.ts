/** Shifting a dataset into a zone's uid slot (platform/datasets.ts): owners moved, links never followed, set-id bits kept, once. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { datasetConflicts, shiftDataset, shiftedId } from "../../src/platform/datasets.js";
import { blankZone } from "../../src/document/model.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-ds-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const SIZE = 65536;

describe("datasets", () => {
  test("owners move into the slot; a link is lchown'd, not followed; set-uid stays; a second shift is a no-op", () => {
    const ds = path.join(dir, "ds");
    fs.mkdirSync(path.join(ds, "sub"), { recursive: true });
    fs.writeFileSync(path.join(ds, "sub", "f"), "x");
    fs.chownSync(path.join(ds, "sub", "f"), 1000, 1000);
    fs.writeFileSync(path.join(ds, "suid"), "x", { mode: 0o755 });
    fs.chmodSync(path.join(ds, "suid"), 0o4755);
    const victim = path.join(dir, "victim");
    fs.writeFileSync(victim, "host");
    fs.symlinkSync(victim, path.join(ds, "link"));
    shiftDataset(ds, 5 * SIZE, SIZE);
    assert.equal(fs.statSync(ds).uid, 5 * SIZE);
    assert.equal(fs.statSync(path.join(ds, "sub", "f")).uid, 5 * SIZE + 1000);
    assert.equal(fs.lstatSync(path.join(ds, "link")).uid, 5 * SIZE);
    assert.equal(fs.statSync(victim).uid, 0, "the link's target is untouched");
    assert.equal(fs.statSync(path.join(ds, "suid")).mode & 0o7777, 0o4755);
    fs.chownSync(path.join(ds, "sub", "f"), 0, 0);
    shiftDataset(ds, 5 * SIZE, SIZE);
    assert.equal(fs.statSync(path.join(ds, "sub", "f")).uid, 0, "already the zone's: not walked again");
    // Moved to another zone: ids keep their place in the new slot.
    assert.equal(shiftedId(5 * SIZE + 1000, 7 * SIZE, SIZE), 7 * SIZE + 1000);
  });

  test("a file hard-linked from outside the dataset is refused before any owner changes", () => {
    const ds = path.join(dir, "ds2");
    fs.mkdirSync(ds);
    const outside = path.join(dir, "secret");
    fs.writeFileSync(outside, "host secret");
    fs.writeFileSync(path.join(ds, "mine"), "x");
    fs.linkSync(outside, path.join(ds, "planted"));
    fs.linkSync(path.join(ds, "mine"), path.join(ds, "mine2")); // both links inside: fine
    assert.throws(() => shiftDataset(ds, 3 * SIZE, SIZE), /^ZoneError: dataset ".*ds2": ".*ds2\/planted" has a hard link outside the dataset; remove that link or copy the file first$/);
    assert.equal(fs.statSync(outside).uid, 0);
    assert.equal(fs.statSync(ds).uid, 0, "nothing changed");
    fs.unlinkSync(path.join(ds, "planted"));
    shiftDataset(ds, 3 * SIZE, SIZE);
    assert.equal(fs.statSync(path.join(ds, "mine2")).uid, 3 * SIZE);
  });

  test("a dataset held by another zone, nested in one, or overlapping a zonepath is refused naming it", () => {
    const z = blankZone("a");
    z.zonepath = "/zones/a";
    z.dataset = [{ name: "/srv/ds/web" }];
    assert.deepEqual(datasetConflicts(z, [{ name: "b", zonepath: "/zones/b", datasets: ["/srv/ds"] }]), [`dataset "/srv/ds/web" is already delegated to zone 'b' (its dataset "/srv/ds")`]);
    assert.deepEqual(datasetConflicts(z, [{ name: "b", zonepath: "/srv/ds/web/z", datasets: [] }]), [`dataset "/srv/ds/web" overlaps the zonepath of zone 'b': "/srv/ds/web/z"`]);
    z.dataset = [{ name: "/zones/a/root/x" }];
    assert.match(datasetConflicts(z, [])[0]!, /overlaps the zone's own zonepath/);
  });
});
