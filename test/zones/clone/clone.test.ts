/**
 * zoneadm clone, move, detach and attach on real zones: owners shifted to the new uid
 * slot with links never followed and set-id bits kept, identity made anew, zonepath
 * rules for move, the detach → attach round trip into another root, state refusals.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { Repository } from "../../../src/document/store/repository.js";
import { SlotRegistry } from "../../../src/platform/slots.js";
import { makeManifest, writeManifest } from "../../../src/platform/detach.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("clone");
const other = new ZoneTestRoot("attach");
const tmpfs = path.join(root.dir, "otherfs");
after(() => {
  spawnSync("umount", [tmpfs]);
  root.remove();
  other.remove();
});
const zp = (n: string): string => path.join(root.dir, "zones", n);
const state = (r: ZoneTestRoot, n: string): string => new Repository(r.paths).find(n)?.state ?? "absent";
const slotOf = (r: ZoneTestRoot, n: string): number | undefined => {
  const e = new Repository(r.paths).find(n);
  return e ? new SlotRegistry().find(e.uuid, r.paths.configDir)?.slot : undefined;
};
const fail = (r: ZoneTestRoot, cmd: string, args: string[], re: RegExp, status = 1): void => {
  const res = r.run(cmd, args);
  assert.equal(res.status, status, `${args.join(" ")}: ${res.stdout}${res.stderr}`);
  assert.match(res.stderr.trim(), re);
  assert.equal(res.stderr.trim().split("\n").length, 1, `one line: ${res.stderr}`);
};

describe("clone, move, detach, attach", { concurrency: false }, () => {
  before(() => {
    root.ok("zonecfg", ["-z", "src", `create; set zonepath=${zp("src")}`]);
    root.ok("zoneadm", ["-z", "src", "install"]);
    root.ok("zoneadm", ["-z", "src", "boot"]);
    // A zone user's set-uid file, a link to a host file, SSH host keys, a hard link.
    root.ok("zlogin", ["src", "echo hi > /home/f && chown 1000:1000 /home/f && chmod 4755 /home/f && ln /home/f /home/f2 && ln -s /etc/shadow /home/link && mkdir -p /etc/ssh && echo k > /etc/ssh/ssh_host_ed25519_key && ln -s /etc/passwd /etc/ssh/ssh_host_rsa_key && mkfifo /etc/ssh/ssh_host_ecdsa_key && echo c > /etc/ssh/sshd_config"]);
    root.ok("zoneadm", ["-z", "src", "halt"]);
    // What a brand keeps beside root/ (the oci brand's image.json) goes with a copy.
    fs.writeFileSync(path.join(zp("src"), "brand-note.json"), "{}\n", { mode: 0o600 });
  });

  test("state rules: target configured, source installed and halted; one line each", () => {
    root.ok("zonecfg", ["-z", "cl", `create; set zonepath=${zp("cl")}`]);
    fail(root, "zoneadm", ["-z", "cl", "clone", "nosuch"], /zone 'nosuch' is not configured/);
    fail(root, "zoneadm", ["-z", "src", "clone", "cl"], /must be configured before clone \(it is installed\)/);
    fail(root, "zoneadm", ["-z", "cl", "move", "/tmp/x"], /must be installed before move \(it is configured\)/);
    fail(root, "zoneadm", ["-z", "cl", "detach"], /must be installed before detach \(it is configured\)/);
    fail(root, "zoneadm", ["-z", "src", "attach"], /must be configured before attach \(it is installed\)/);
    root.ok("zonecfg", ["-z", "c2", `create; set zonepath=${zp("c2")}`]);
    fail(root, "zoneadm", ["-z", "c2", "clone", "cl"], /source zone 'cl' must be installed and halted before clone \(it is configured\)/);
    fail(root, "zoneadm", ["-z", "c2", "clone", "c2"], /a zone cannot be cloned from itself/);
    root.ok("zonecfg", ["-z", "c2", "set brand=minimal"]);
    fail(root, "zoneadm", ["-z", "c2", "clone", "src"], /source zone 'src' is of brand "sparse", not "minimal": a clone has its source's brand/);
    root.ok("zonecfg", ["-z", "c2", "delete -F"]);
  });

  test("clone: new slot, owners shifted, links not followed, set-id kept, identity new", () => {
    const t0 = process.hrtime.bigint();
    root.ok("zoneadm", ["-z", "cl", "clone", "-m", "copy", "src"]);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stderr.write(`# clone of a sparse zone: ${ms.toFixed(0)} ms\n`);
    assert.equal(state(root, "cl"), "installed");
    const a = slotOf(root, "src")!;
    const b = slotOf(root, "cl")!;
    assert.ok(b && b !== a, `slots ${a} ${b}`);
    const r = new Repository(root.paths);
    assert.notEqual(r.find("cl")!.uuid, r.find("src")!.uuid);
    const f = fs.lstatSync(path.join(zp("cl"), "root/home/f"));
    assert.equal(f.uid, b * 65536 + 1000);
    assert.equal(f.gid, b * 65536 + 1000);
    assert.equal(f.mode & 0o7777, 0o4755, "set-uid kept");
    assert.equal(f.nlink, 2, "the hard link inside the tree stays one file");
    assert.equal(fs.lstatSync(path.join(zp("cl"), "root/home/link")).uid, b * 65536);
    assert.equal(fs.statSync("/etc/shadow").uid, 0, "the link's host target is untouched");
    assert.equal(fs.lstatSync(path.join(zp("src"), "root/home/f")).uid, a * 65536 + 1000, "the source is unchanged");
    assert.equal(fs.statSync(zp("cl")).gid, b * 65536);
    const rd = (z: string, p: string): string => fs.readFileSync(path.join(zp(z), "root", p), "utf8");
    assert.equal(rd("cl", "etc/hostname"), "cl\n");
    assert.match(rd("cl", "etc/hosts"), /^127\.0\.1\.1\tcl$/m);
    assert.notEqual(rd("cl", "etc/machine-id"), rd("src", "etc/machine-id"));
    assert.deepEqual(fs.readdirSync(zp("cl")).sort(), ["brand-note.json", "root"]);
    assert.deepEqual(fs.readdirSync(path.join(zp("cl"), "root/etc/ssh")), ["sshd_config"], "host keys removed (a link, a FIFO: the entries themselves), the rest kept");
    assert.ok(fs.statSync("/etc/passwd").size > 0, "the host file a key linked to is untouched");
    root.ok("zoneadm", ["-z", "cl", "boot"]);
    assert.equal(root.ok("zlogin", ["cl", "stat -c '%u %g %a' /home/f; hostname; cat /home/f"]), "1000 1000 4755\ncl\nhi\n");
    fail(root, "zoneadm", ["-z", "cl", "move", zp("elsewhere")], /must be installed before move \(it is running\)/);
    fail(root, "zoneadm", ["-z", "cl", "detach"], /must be installed before detach \(it is running\)/);
    root.ok("zonecfg", ["-z", "c3", `create; set zonepath=${zp("c3")}`]);
    fail(root, "zoneadm", ["-z", "c3", "clone", "cl"], /source zone 'cl' must be installed and halted before clone \(it is running\)/);
    root.ok("zonecfg", ["-z", "c3", "delete -F"]);
    root.ok("zoneadm", ["-z", "cl", "halt"]);
  });

  test("move: zonepath rules for the new path, then renamed; the zone boots there", () => {
    fail(root, "zoneadm", ["-z", "cl", "move", path.join(zp("src"), "inside")], /zonepath|overlap|inside/);
    fail(root, "zoneadm", ["-z", "cl", "move", "relative"], /usage: zoneadm -z zone move zonepath/, 2);
    const to = path.join(root.dir, "moved", "cl");
    root.ok("zoneadm", ["-z", "cl", "move", to]);
    assert.equal(state(root, "cl"), "installed");
    assert.equal(new Repository(root.paths).find("cl")!.zonepath, to);
    assert.equal(fs.existsSync(zp("cl")), false);
    assert.equal(fs.lstatSync(path.join(to, "root/home/f")).uid, slotOf(root, "cl")! * 65536 + 1000);
    root.ok("zoneadm", ["-z", "cl", "boot"]);
    assert.equal(root.ok("zlogin", ["cl", "cat /home/f"]), "hi\n");
    root.ok("zoneadm", ["-z", "cl", "halt"]);
    // Onto another file system: copied, then the old zonepath removed.
    fs.mkdirSync(tmpfs, { mode: 0o755 });
    assert.equal(spawnSync("mount", ["-t", "tmpfs", "-o", "mode=755,size=256m", "tmpfs", tmpfs]).status, 0);
    const far = path.join(tmpfs, "cl");
    root.ok("zoneadm", ["-z", "cl", "move", far]);
    assert.equal(fs.existsSync(to), false);
    assert.deepEqual(fs.readdirSync(far).sort(), ["brand-note.json", "root"]);
    const f = fs.lstatSync(path.join(far, "root/home/f"));
    assert.equal(f.uid, slotOf(root, "cl")! * 65536 + 1000);
    assert.equal(f.mode & 0o7777, 0o4755);
    assert.equal(fs.statSync(far).gid, slotOf(root, "cl")! * 65536);
    root.ok("zoneadm", ["-z", "cl", "boot"]);
    assert.equal(root.ok("zlogin", ["cl", "cat /home/f"]), "hi\n");
    root.ok("zoneadm", ["-z", "cl", "halt"]);
    // As if a move back had been killed right after its rename: the same move finishes it.
    fs.writeFileSync(path.join(far, "zone-moving.json"), JSON.stringify({ from: far, to: to }), { mode: 0o600 });
    new Repository(root.paths).setState("cl", "incomplete");
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fail(root, "zoneadm", ["-z", "cl", "move", path.join(root.dir, "other-target")], /must be installed before move \(it is incomplete\)/);
    assert.equal(spawnSync("cp", ["-a", far, to]).status, 0); // the rename, across file systems by hand
    fs.rmSync(far, { recursive: true });
    root.ok("zoneadm", ["-z", "cl", "move", to]);
    assert.equal(state(root, "cl"), "installed");
    assert.equal(new Repository(root.paths).find("cl")!.zonepath, to);
    assert.deepEqual(fs.readdirSync(to).sort(), ["brand-note.json", "root"], "the record is gone");
    root.ok("zoneadm", ["-z", "cl", "uninstall", "-F"]);
    // uninstall leaves what it did not make (platform.ts), as it does for any zonepath.
    assert.deepEqual(fs.readdirSync(to), ["brand-note.json"]);
  });

  test("detach -n changes nothing; detach leaves configured + manifest, slot released", () => {
    const slot = slotOf(root, "src")!;
    const dry = root.ok("zoneadm", ["-z", "src", "detach", "-n"]);
    assert.match(dry, /would write .*zone-detached\.json and release uid slot/);
    assert.equal(state(root, "src"), "installed");
    root.ok("zoneadm", ["-z", "src", "detach"]);
    assert.equal(state(root, "src"), "configured");
    assert.equal(slotOf(root, "src"), undefined);
    const man = path.join(zp("src"), "zone-detached.json");
    assert.equal(JSON.parse(fs.readFileSync(man, "utf8")).slot, slot);
    assert.equal(fs.statSync(zp("src")).mode & 0o777, 0o700);
  });

  test("attach in another root re-maps a taken slot; the zone's file keeps its owner inside", async () => {
    const from = zp("src");
    const detachedSlot = JSON.parse(fs.readFileSync(path.join(from, "zone-detached.json"), "utf8")).slot as number;
    // Another zone of the other root takes the detached slot (slots are host-wide, and
    // other roots take them too: lower free ones are held and given back), so attach
    // must shift the tree.
    const reg = new SlotRegistry();
    const held: string[] = [];
    // A zone of a test running beside this one may have taken it first: wait for it to go.
    for (let i = 0, end = Date.now() + 30_000; i < 64 && Date.now() < end && !held.some((u) => reg.find(u)?.slot === detachedSlot); ) {
      if (reg.list().some((e) => e.slot === detachedSlot)) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const u = `clone-test-${process.pid}-${i++}`;
      held.push(u);
      reg.allocate(u, other.paths.configDir, "taker");
    }
    for (const u of held) if (reg.find(u)?.slot !== detachedSlot) reg.release(u);
    assert.ok(held.some((u) => reg.find(u)?.slot === detachedSlot), `slot ${detachedSlot} taken in the other root`);
    other.ok("zonecfg", ["-z", "taker", `create; set zonepath=${path.join(other.dir, "zones", "taker")}`]);
    assert.match(other.ok("zoneadm", ["-z", "taker", "attach", "-n", from]).trim(), /holds detached zone 'src' \(brand sparse, uid slot \d+\)/);
    other.ok("zonecfg", ["-z", "back", `create -a ${from}`]);
    assert.equal(new Repository(other.paths).find("back")!.zonepath, from);
    // As if an attach had been killed after it began: it is incomplete, and attach resumes.
    new Repository(other.paths).setState("back", "incomplete");
    other.ok("zoneadm", ["-z", "back", "attach"]);
    assert.equal(state(other, "back"), "installed");
    const s = slotOf(other, "back")!;
    assert.notEqual(s, detachedSlot);
    assert.equal(fs.lstatSync(path.join(from, "root/home/f")).uid, s * 65536 + 1000);
    assert.equal(fs.existsSync(path.join(from, "zone-detached.json")), false);
    other.ok("zoneadm", ["-z", "back", "boot"]);
    assert.equal(other.ok("zlogin", ["back", "stat -c '%u %a' /home/f; cat /home/f"]), "1000 4755\nhi\n");
    other.ok("zoneadm", ["-z", "back", "halt"]);
    other.ok("zoneadm", ["-z", "back", "uninstall", "-F"]);
  });

  test("attach refuses a tree with a device node, then attaches it without", () => {
    const dz = path.join(other.dir, "zones", "dv");
    other.ok("zonecfg", ["-z", "dv", `create; set zonepath=${dz}; set brand=minimal`]);
    other.ok("zoneadm", ["-z", "dv", "install"]);
    // As if a detach had been killed once it had written its manifest and begun: detach finishes it.
    const r = new Repository(other.paths);
    const e = r.find("dv")!;
    writeManifest(dz, makeManifest(r.load("dv"), e.uuid, slotOf(other, "dv")!));
    r.setState("dv", "incomplete");
    other.ok("zoneadm", ["-z", "dv", "detach"]);
    assert.equal(state(other, "dv"), "configured");
    assert.equal(slotOf(other, "dv"), undefined);
    assert.equal(spawnSync("mknod", [path.join(dz, "root/mem"), "c", "1", "1"]).status, 0);
    fail(other, "zoneadm", ["-z", "dv", "attach"], /zone root ".*dv\/root": ".*\/root\/mem" is a device node; a zone's tree holds none/);
    assert.equal(state(other, "dv"), "configured", "a refused attach changed nothing");
    fs.rmSync(path.join(dz, "root/mem"));
    // Without its manifest (a tree copied by hand) only -F attaches it.
    fs.renameSync(path.join(dz, "zone-detached.json"), path.join(other.dir, "kept.json"));
    fail(other, "zoneadm", ["-z", "dv", "attach"], /zone-detached\.json" cannot be read \(ENOENT\); is the zone detached/);
    other.ok("zoneadm", ["-z", "dv", "attach", "-F"]);
    assert.equal(state(other, "dv"), "installed");
    assert.equal(fs.lstatSync(path.join(dz, "root/etc/passwd")).uid, slotOf(other, "dv")! * 65536);
    other.ok("zoneadm", ["-z", "dv", "boot"]);
    assert.equal(other.ok("zlogin", ["dv", "id -u; ls -ln /etc/passwd | awk '{print $3}'"]), "0\n0\n");
    other.ok("zoneadm", ["-z", "dv", "halt"]);
    other.ok("zoneadm", ["-z", "dv", "uninstall", "-F"]);
  });

  test("a hostile manifest is refused with one line", () => {
    const dir = path.join(other.dir, "zones", "bad");
    fs.mkdirSync(path.join(dir, "root"), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dir, "zone-detached.json"), '{"format":"zones-detached 1","zonename":"x","brand":"sparse","uuid":"1","slot":3,"document":"","sha256":"00"}');
    fail(other, "zonecfg", ["-z", "bad", `create -a ${dir}`], /is not a valid detached-zone manifest: its sha256 does not match/);
    fs.writeFileSync(path.join(dir, "zone-detached.json"), "x".repeat(2 << 20));
    fail(other, "zonecfg", ["-z", "bad", `create -a ${dir}`], /is larger than 1048576 bytes/);
    fs.rmSync(path.join(dir, "zone-detached.json"));
    fs.symlinkSync("/etc/passwd", path.join(dir, "zone-detached.json"));
    fail(other, "zonecfg", ["-z", "bad", `create -a ${dir}`], /cannot be read \(ELOOP\)|not a regular file/);
  });
});
