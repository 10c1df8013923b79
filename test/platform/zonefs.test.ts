/**
 * zonefs on a scratch tree (as root, no zone): every call stays inside the root whatever
 * links, FIFOs, hard links, odd names and mounts the "zone" left, and says what it
 * refused in one line naming the path.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, beforeEach, describe, test } from "node:test";
import { ZoneError } from "../../src/native/errors.js";
import { mountsBelow, mountsBelowBytes, unmount } from "../../src/platform/idmap.js";
import { ZoneRoot } from "../../src/platform/zonefs.js";
import { removeZoneRoot, unmountZoneRoot } from "../../src/platform/rootremoval.js";

const top = fs.mkdtempSync(path.join(os.tmpdir(), "zones-zonefs-"));
const root = path.join(top, "root");
const outside = path.join(top, "outside");
/** Mounts under the tree, whatever their names, then the host's own under `outside`. */
function unmountAllBelowTop(): void {
  try {
    if (fs.existsSync(root)) unmountZoneRoot(root);
    for (const m of mountsBelow(top)) unmount(m);
  } finally {
    // Not through the code under test alone: with it broken, a byte-named mount stayed.
    for (const m of mountsBelowBytes(top)) spawnSync("sh", ["-c", 'umount -l "$(printf %b "$0")"', escape(m)]);
  }
}
after(() => {
  try {
    unmountAllBelowTop();
  } finally {
    // Only once nothing is mounted: never remove through a mount.
    if (mountsBelow(top).length === 0) fs.rmSync(top, { recursive: true, force: true });
  }
});

/** A fresh tree and a host directory outside it holding one file. */
beforeEach(() => {
  unmountAllBelowTop();
  for (const d of [root, outside]) fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(path.join(root, "etc"), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, "file"), "host\n");
});

function withRoot<T>(fn: (zr: ZoneRoot) => T): T {
  const zr = ZoneRoot.open(root);
  try {
    return fn(zr);
  } finally {
    zr.close();
  }
}

/** The call must throw a one-line ZoneError matching `re`. */
function refuses(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ZoneError && re.test(e.message) && !e.message.includes("\n"));
}

/** A path of raw bytes (a JS string's chars as bytes 0-255), as a zone could name it. */
const bytes = (s: string): Buffer => Buffer.from(s, "latin1");

/** A path for printf %b: argv is UTF-8, so raw bytes go as octal escapes. */
function escape(b: Buffer): string {
  return [...b].map((c) => (c > 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\0${c.toString(8).padStart(3, "0")}`)).join("");
}

/** Bind `src` onto `dst` (any bytes). */
function mount(src: string, dst: string | Buffer): void {
  const r = spawnSync("sh", ["-c", 'mount --bind "$0" "$(printf %b "$1")"', src, escape(typeof dst === "string" ? Buffer.from(dst) : dst)], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
}

describe("zonefs", { concurrency: false }, () => {
  test("writeFile replaces a link to a host file, a FIFO and a hard link: it never writes through them", () => {
    fs.symlinkSync(path.join(outside, "file"), path.join(root, "etc/zonename"));
    fs.symlinkSync(path.join(outside, "new"), path.join(root, "etc/dangling"));
    spawnSync("mkfifo", [path.join(root, "etc/fifo")]);
    fs.linkSync(path.join(outside, "file"), path.join(root, "etc/hard"));
    withRoot((zr) => {
      for (const f of ["etc/zonename", "/etc/dangling", "etc//fifo", "etc/hard"]) zr.writeFile(f, "zone\n", 0o640, 1234, 5678);
    });
    assert.equal(fs.readFileSync(path.join(outside, "file"), "utf8"), "host\n");
    assert.ok(!fs.existsSync(path.join(outside, "new")));
    for (const f of ["zonename", "dangling", "fifo", "hard"]) {
      const st = fs.lstatSync(path.join(root, "etc", f));
      assert.ok(st.isFile(), f);
      assert.deepEqual([st.mode & 0o7777, st.uid, st.gid, st.nlink], [0o640, 1234, 5678, 1]);
      assert.equal(fs.readFileSync(path.join(root, "etc", f), "utf8"), "zone\n");
    }
    assert.deepEqual(fs.readdirSync(path.join(root, "etc")).sort(), ["dangling", "fifo", "hard", "zonename"], "no temporary file left");
  });

  test("writeFile fresh (install): a new file is made in place; a link, FIFO or hard link there is replaced, never written through", () => {
    fs.symlinkSync(path.join(outside, "file"), path.join(root, "etc/link"));
    fs.symlinkSync(path.join(outside, "new"), path.join(root, "etc/dangling"));
    spawnSync("mkfifo", [path.join(root, "etc/fifo")]);
    fs.linkSync(path.join(outside, "file"), path.join(root, "etc/hard"));
    withRoot((zr) => {
      for (const f of ["etc/new", "etc/link", "etc/dangling", "etc/fifo", "etc/hard"]) zr.writeFile(f, "zone\n", 0o4640, 1234, 5678, true);
      refuses(() => zr.writeFile("etc/new/x", "x", 0o644, 0, 0, true), /^file "\/etc\/new\/x": "\/etc\/new" is not a directory in the zone$/);
    });
    assert.equal(fs.readFileSync(path.join(outside, "file"), "utf8"), "host\n");
    assert.ok(!fs.existsSync(path.join(outside, "new")));
    for (const f of ["new", "link", "dangling", "fifo", "hard"]) {
      const st = fs.lstatSync(path.join(root, "etc", f));
      assert.ok(st.isFile(), f);
      assert.deepEqual([st.mode & 0o7777, st.uid, st.gid, st.nlink], [0o4640, 1234, 5678, 1], f);
      assert.equal(fs.readFileSync(path.join(root, "etc", f), "utf8"), "zone\n");
    }
    assert.deepEqual(fs.readdirSync(path.join(root, "etc")).sort(), ["dangling", "fifo", "hard", "link", "new"], "no temporary file left");
  });

  test("mkdir over a link at the last component refuses it, naming the path", () => {
    fs.symlinkSync(outside, path.join(root, "etc/ssl"));
    withRoot((zr) => refuses(() => zr.mkdir("etc/ssl", 0o755, 0, 0), /^directory "\/etc\/ssl" is a symbolic link in the zone; refusing to follow it$/));
    assert.deepEqual(fs.statSync(outside).uid, 0);
    assert.equal(fs.statSync(outside).mode & 0o7777, 0o755);
  });

  test("a link at any directory component is refused, naming the path and the component", () => {
    fs.rmSync(path.join(root, "etc"), { recursive: true });
    fs.symlinkSync(outside, path.join(root, "etc"));
    withRoot((zr) => {
      refuses(() => zr.writeFile("etc/zonename", "x", 0o644, 0, 0), /^file "\/etc\/zonename": "\/etc" is a symbolic link in the zone; refusing to follow it$/);
      refuses(() => zr.mkdir("etc/ssl", 0o755, 0, 0), /"\/etc" is a symbolic link/);
      refuses(() => zr.symlink("etc/mtab", "x", 0, 0), /"\/etc" is a symbolic link/);
      refuses(() => zr.readFile("etc/file", 100), /"\/etc" is a symbolic link/);
      refuses(() => zr.mountPoint("etc/ssl"), /^mount point "\/etc\/ssl": "\/etc" is a symbolic link in the zone; refusing to follow it$/);
      refuses(() => zr.mountPoint("etc"), /^mount point "\/etc" is a symbolic link in the zone; refusing to follow it$/);
      assert.equal(zr.isDirectory("etc"), false);
      refuses(() => zr.writeFile("../outside/file", "x", 0o644, 0, 0), /"\.\."/);
      refuses(() => zr.mkdir("./x", 0o755, 0, 0), /"\."/);
    });
    assert.deepEqual(fs.readdirSync(outside), ["file"]);
    assert.equal(fs.readFileSync(path.join(outside, "file"), "utf8"), "host\n");
  });

  test("mountPoint: a directory gives a descriptor; missing and a file are named", () => {
    fs.mkdirSync(path.join(root, "usr"));
    fs.writeFileSync(path.join(root, "etc/ssl"), "");
    withRoot((zr) => {
      const fd = zr.mountPoint("/usr");
      assert.equal(fs.readlinkSync(`/proc/self/fd/${fd}`), path.join(root, "usr"));
      fs.closeSync(fd);
      refuses(() => zr.mountPoint("/bin"), /^mount point "\/bin" does not exist in the zone$/);
      refuses(() => zr.mountPoint("etc/ssl"), /^mount point "\/etc\/ssl" is not a directory in the zone$/);
      refuses(() => zr.mountPoint("etc/ssl/certs"), /^mount point "\/etc\/ssl\/certs": "\/etc\/ssl" is not a directory in the zone$/);
      assert.equal(zr.isDirectory("/usr"), true);
    });
  });

  test("mkdir and symlink: owners and modes through descriptors; an existing directory is taken", () => {
    withRoot((zr) => {
      zr.mkdir("", 0o755, 7, 7);
      zr.mkdir("tmp", 0o1777, 8, 9);
      zr.mkdir("tmp", 0o1777, 8, 9);
      zr.mkdir("etc/sub", 0o2750, 10, 11);
      fs.writeFileSync(path.join(root, "etc/mtab"), "old");
      zr.symlink("etc/mtab", "../proc/self/mounts", 12, 13);
      refuses(() => zr.mkdir("no/such", 0o755, 0, 0), /^directory "\/no\/such": "\/no" does not exist in the zone$/);
    });
    const st = (p: string): number[] => {
      const s = fs.lstatSync(path.join(root, p));
      return [s.mode & 0o7777, s.uid, s.gid];
    };
    assert.deepEqual(st(""), [0o755, 7, 7]);
    assert.deepEqual(st("tmp"), [0o1777, 8, 9]);
    assert.deepEqual(st("etc/sub"), [0o2750, 10, 11], "set-gid kept: chmod comes after chown");
    assert.equal(fs.readlinkSync(path.join(root, "etc/mtab")), "../proc/self/mounts");
    assert.deepEqual(st("etc/mtab").slice(1), [12, 13]);
  });

  test("readFile: regular files only, FIFOs refused without blocking, size capped", () => {
    fs.writeFileSync(path.join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    spawnSync("mkfifo", [path.join(root, "etc/fifo")]);
    fs.symlinkSync(path.join(outside, "file"), path.join(root, "etc/link"));
    withRoot((zr) => {
      assert.equal(zr.readFile("etc/passwd", 1000).toString(), "root:x:0:0::/root:/bin/sh\n");
      refuses(() => zr.readFile("etc/fifo", 1000), /^"\/etc\/fifo" in the zone is not a regular file$/);
      refuses(() => zr.readFile("etc/link", 1000), /^"\/etc\/link" in the zone is a symbolic link; refusing to follow it$/);
      refuses(() => zr.readFile("etc/passwd", 10), /larger than 10 bytes/);
      refuses(() => zr.readFile("etc", 10), /not a regular file/);
    });
  });

  test("mountsBelow decodes mountinfo's escapes: space, tab, newline, backslash, and non-UTF-8 bytes", () => {
    const names = ["a b", "t\tab", "new\nline", "back\\slash", "\xff\xfe"];
    for (const n of names) {
      fs.mkdirSync(bytes(path.join(root, n)));
      mount(outside, bytes(path.join(root, n)));
    }
    const found = mountsBelowBytes(root).map((b) => b.toString("latin1").slice(root.length + 1)).sort();
    assert.deepEqual(found, [...names].sort());
    assert.ok(mountsBelow(root).includes(path.join(root, "new\nline")));
    unmountZoneRoot(root);
    assert.deepEqual(mountsBelowBytes(root), []);
  });

  test("unmountAll finds mounts wherever the zone renamed their directories, and follows no link on the way", () => {
    fs.mkdirSync(path.join(root, "etc/ssl"));
    mount(outside, path.join(root, "etc/ssl"));
    mount(outside, path.join(root, "etc/ssl")); // stacked twice
    fs.renameSync(path.join(root, "etc"), path.join(root, "e\ntc"));
    fs.symlinkSync(outside, path.join(root, "etc"));
    const hostMount = path.join(outside, "sub");
    fs.mkdirSync(hostMount);
    mount(outside, hostMount); // the host's own mount, reachable only through the link
    unmountZoneRoot(root);
    assert.deepEqual(mountsBelowBytes(root), []);
    assert.deepEqual(mountsBelow(outside), [hostMount], "a mount outside the root is not touched");
    unmount(hostMount);
  });

  test("removeTree removes links, never what they point at, names any byte, and refuses a mount inside", () => {
    fs.mkdirSync(path.join(root, "d/e"), { recursive: true });
    fs.symlinkSync(outside, path.join(root, "evil"));
    fs.symlinkSync(outside, path.join(root, "d/e/sub"));
    fs.symlinkSync(path.join(outside, "file"), path.join(root, "d/f"));
    fs.symlinkSync(outside, path.join(root, "d/up")); // never "/": a broken removal would follow it
    fs.mkdirSync(bytes(path.join(root, "d/\xff\nodd")));
    fs.writeFileSync(bytes(path.join(root, "d/\xff\nodd/x")), "");
    const m = path.join(root, "d/mnt");
    fs.mkdirSync(m);
    mount(outside, m);
    refuses(() => removeZoneRoot(root), /^cannot remove "\/d\/mnt" in the zone: it is still mounted$/);
    assert.deepEqual(fs.readdirSync(outside), ["file"], "nothing removed through the mount");
    unmount(m);
    removeZoneRoot(root);
    assert.ok(!fs.existsSync(root));
    assert.deepEqual(fs.readdirSync(outside), ["file"]);
    assert.equal(fs.readFileSync(path.join(outside, "file"), "utf8"), "host\n");
    removeZoneRoot(root); // absent is fine
  });
});
