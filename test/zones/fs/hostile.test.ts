/**
 * A zone's root attacks the mount points of its fs resources: the parent of `dir`
 * made a link to a host directory, `dir` itself a link, a file, a FIFO, and `dir`
 * flipped between a directory and a link while the zone is made ready. The mount must
 * never land outside the zone tree; the boot fails with one line naming the fs.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { mountsBelow } from "../../../src/platform/idmap.js";
import { Repository } from "../../../src/document/store/repository.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("fshostile");
const zp = path.join(root.dir, "zones", "fh");
const zr = path.join(zp, "root");
const host = path.join(root.dir, "host");
const share = path.join(host, "share");
const victim = path.join(host, "victim");
const state = (): string => new Repository(root.paths).find("fh")?.state ?? "absent";

after(() => {
  root.run("zoneadm", ["-z", "fh", "halt"]);
  root.remove();
});

function inZone(script: string): void {
  root.ok("zlogin", ["fh", script]);
}

/** The reboot that follows an attack must fail with one line, leaving nothing mounted. */
function rebootRefused(message: RegExp): void {
  const r = root.run("zoneadm", ["-z", "fh", "reboot"]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, message);
  assert.equal(r.stderr.split("\n").filter((l) => !/warning: runc/.test(l)).length, 2, `one line: ${JSON.stringify(r.stderr)}`);
  assert.deepEqual([...mountsBelow(zp), ...mountsBelow(victim)], [], "nothing mounted under the zonepath nor on the host victim");
  assert.deepEqual(fs.readdirSync(victim), ["keep"], "the host victim is untouched");
  assert.equal(state(), "installed");
}

/** Put /data back as a plain directory (host side, the zone is halted) and boot again. */
function repair(): void {
  root.run("zoneadm", ["-z", "fh", "halt"]);
  for (const p of ["old", "data"]) fs.rmSync(path.join(zr, p), { recursive: true, force: true });
  root.ok("zoneadm", ["-z", "fh", "boot"]);
}

describe("a zone's root attacks its fs mount points", { concurrency: false }, () => {
  before(() => {
    fs.mkdirSync(share, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(share, "f"), "share\n");
    fs.mkdirSync(victim, { mode: 0o755 });
    fs.writeFileSync(path.join(victim, "keep"), "host\n");
    root.ok("zonecfg", ["-z", "fh", `create; set zonepath=${zp}; set brand=minimal; add fs; set dir=/data/sub; set special=${share}; set type=lofs; add options ro; end`]);
    root.ok("zoneadm", ["-z", "fh", "install"]);
    root.ok("zoneadm", ["-z", "fh", "boot"]);
  });

  test("(a) dir's parent replaced by a link to a host directory", () => {
    inZone(`mv /data /old && ln -s ${victim} /data`);
    rebootRefused(/^zoneadm: zone 'fh': fs "\/data\/sub": directory "\/data" is a symbolic link in the zone; refusing to follow it$/m);
    repair();
  });

  test("(b) dir itself a link to a host directory, absolute and relative", () => {
    for (const target of [victim, "../../../../../../../../.." + victim]) {
      inZone(`mv /data /old && mkdir /data && ln -s ${target} /data/sub`);
      rebootRefused(/fs "\/data\/sub": directory "\/data\/sub" is a symbolic link in the zone; refusing to follow it$/m);
      repair();
    }
  });

  test("(c) dir a file, (d) dir a FIFO", () => {
    for (const make of ["touch /data/sub", "mkfifo /data/sub"]) {
      inZone(`mv /data /old && mkdir /data && ${make}`);
      rebootRefused(/fs "\/data\/sub": directory "\/data\/sub" is not a directory in the zone$/m);
      repair();
    }
  });

  test("(e) dir flipped between a directory and a link during ready: never mounted outside the zone", async (t) => {
    root.run("zoneadm", ["-z", "fh", "halt"]);
    fs.rmSync(path.join(zr, "data"), { recursive: true, force: true });
    fs.mkdirSync(path.join(zr, "data"));
    // The zone's root would do this; a host process racing is faster still: renameat2
    // RENAME_EXCHANGE swaps a directory and a link to the victim atomically, so "sub" is
    // always one of the two, flipping as fast as the kernel allows.
    fs.mkdirSync(path.join(zr, "data", "sub"));
    fs.symlinkSync(victim, path.join(zr, "data", "sub.l"));
    const swap = "import ctypes,os\nc=ctypes.CDLL(None,use_errno=True)\nd=os.open('.',os.O_RDONLY)\nwhile True: c.renameat2(d,b'sub',d,b'sub.l',2)";
    const racer = spawn("python3", ["-c", swap], { cwd: path.join(zr, "data"), stdio: "ignore" });
    try {
      let booted = 0;
      let moved = 0;
      for (let i = 0; i < 20; i++) {
        const r = root.run("zoneadm", ["-z", "fh", "boot"]);
        assert.deepEqual(mountsBelow(victim), [], `round ${i}: nothing mounted on the victim`);
        // The root's lxcfs and its stage (src/platform/views.ts) are the daemon's own, in its run directory.
        const own = root.paths.runDir + "/";
        for (const m of mountsBelow(root.dir)) if (!m.startsWith(own)) assert.ok(m.startsWith(zp + "/"), `round ${i}: mount ${m} lies outside the zone`);
        if (r.status === 0) {
          booted++;
          // On the directory pinned, whatever name the swap left it: sub, or sub.l.
          const at = mountsBelow(zp).filter((m) => m === path.join(zr, "data/sub") || m === path.join(zr, "data/sub.l"));
          assert.equal(at.length, 1, `round ${i}: a boot that succeeds has the fs mounted on the zone's directory`);
          if (at[0]!.endsWith(".l")) moved++;
        }
        else assert.match(r.stderr, /fs "\/data\/sub": /);
        root.run("zoneadm", ["-z", "fh", "halt"]);
      }
      t.diagnostic(`${booted} of 20 boots found a directory and mounted (${moved} on it after the swap renamed it sub.l); the others were refused`);
      assert.ok(booted > 0, "some boot won the race: the mount is made whenever the directory is sound");
    } finally {
      racer.kill("SIGKILL");
    }
    assert.deepEqual(fs.readdirSync(victim), ["keep"]);
  });
});
