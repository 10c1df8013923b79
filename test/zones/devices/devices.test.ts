/**
 * `add device` on real zones: each host node a match names appears in the zone with
 * the host's type, numbers and mode, owned by the zone's root, and opens; the zone's
 * device cgroup admits exactly those, so a zone without a device gets ENOENT, cannot
 * mknod one (EPERM), and a node of it planted in its tree by the host opens with
 * EPERM. CDI devices bring their nodes, read-only host files and environment.
 * zonecfg verify and zoneadm verify refuse the devices that give the host away.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ZoneTestRoot } from "../../support/zones.js";
import { sys } from "../../../src/native/sys.js";

const root = new ZoneTestRoot("dev");
/** A kvm alias in the host's /dev, named after this root: refused by number, not by name. */
const ALIAS = `/dev/zonetest-kvm-${path.basename(root.dir)}`;
after(() => {
  fs.rmSync(ALIAS, { force: true });
  root.remove();
});
const zp = (n: string): string => path.join(root.dir, "zones", n);

function inZone(zone: string, line: string): { status: number; out: string } {
  const r = root.run("zlogin", [zone, line]);
  return { status: r.status, out: (r.stdout + r.stderr).trim() };
}

/** Open each path read-write in the zone: "ok" or the errno name, one line per path. */
const openAll = (...paths: string[]): string =>
  `python3 -c 'import os, errno, sys
for p in sys.argv[1:]:
    try:
        os.close(os.open(p, os.O_RDWR)); print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])' ${paths.join(" ")}`;

/** What stat(1) in the zone prints for a host node: type, hex major:minor, mode, and the zone's root as owner. */
function expected(p: string): string {
  const st = fs.statSync(p);
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & ~0xff);
  return `character special file ${major.toString(16)}:${minor.toString(16)} ${(st.mode & 0o7777).toString(8)} 0:0`;
}

/** Make a character node as host root (the test's own files only). */
function mknod(p: string, major: number, minor: number, uid: number): void {
  const dev = (BigInt(major) << 8n) | BigInt(minor);
  assert.equal(sys().mknod(p, 0o020666, dev), 0, `mknod ${p}`);
  fs.chownSync(p, uid, uid);
  fs.chmodSync(p, 0o666);
}

const SPEC = (file: string): string => `cdiVersion: 0.6.0
kind: zonetest.example/dev
devices:
- name: fuse
  containerEdits:
    deviceNodes:
    - path: /dev/fuse
    env:
    - ZONETEST_CDI=fuse
    mounts:
    - hostPath: ${file}
      containerPath: /srv/cdi-file
      options: [rw, bind]
- name: hooked
  containerEdits:
    hooks:
    - hookName: createContainer
      path: /usr/bin/true
`;

describe("devices given to zones", { concurrency: false, timeout: 240_000 }, () => {
  const zones = ["dev", "plain", "cdi"];
  let base = 0;
  before(() => {
    const cdiDir = path.join(root.dir, "etc/cdi");
    fs.mkdirSync(cdiDir, { recursive: true });
    // Writable by all on the host: only the read-only bind stops the zone.
    fs.writeFileSync(path.join(root.dir, "cdi-file"), "from the host\n", { mode: 0o666 });
    fs.chmodSync(path.join(root.dir, "cdi-file"), 0o666);
    fs.writeFileSync(path.join(cdiDir, "zonetest.yaml"), SPEC(path.join(root.dir, "cdi-file")));
    root.ok("zonecfg", ["-z", "dev", `create; set zonepath=${zp("dev")}; add device; set match=/dev/fuse; end; add device; set match=/dev/net/tu?; end`]);
    root.ok("zonecfg", ["-z", "plain", `create; set zonepath=${zp("plain")}`]);
    root.ok("zonecfg", ["-z", "cdi", `create; set zonepath=${zp("cdi")}; add device; set match=cdi:zonetest.example/dev=fuse; end`]);
    for (const z of zones) root.ok("zoneadm", ["-z", z, "install"]);
    // Nodes the host leaves in a zone's tree (an unpacked image could): only the cgroup stands between.
    base = fs.statSync(path.join(zp("plain"), "root")).uid;
    mknod(path.join(zp("plain"), "root/planted-fuse"), 10, 229, base);
    mknod(path.join(zp("plain"), "root/planted-tun"), 10, 200, base);
    mknod(path.join(zp("dev"), "root/planted-kvm"), 10, 232, fs.statSync(path.join(zp("dev"), "root")).uid);
    for (const z of zones) root.ok("zoneadm", ["-z", z, "boot"]);
  });
  after(() => {
    for (const z of [...zones, "miss"]) {
      root.run("zoneadm", ["-z", z, "halt"]);
      root.run("zoneadm", ["-z", z, "uninstall", "-F"]);
    }
  });

  test("given nodes appear with the host's type, numbers and mode, owned by the zone's root, and open", () => {
    assert.equal(inZone("dev", "stat -c '%F %t:%T %a %u:%g' /dev/fuse /dev/net/tun").out, [expected("/dev/fuse"), expected("/dev/net/tun")].join("\n"));
    assert.equal(inZone("dev", openAll("/dev/fuse", "/dev/net/tun")).out, "ok\nok");
  });

  test("a zone without them finds no node, cannot mknod one, and a planted node opens with EPERM", () => {
    assert.equal(inZone("plain", openAll("/dev/fuse", "/dev/net/tun")).out, "ENOENT\nENOENT");
    const mk = inZone("plain", "mknod /tmp/fuse c 10 229");
    assert.notEqual(mk.status, 0);
    assert.match(mk.out, /Operation not permitted/);
    assert.equal(inZone("plain", openAll("/planted-fuse", "/planted-tun")).out, "EPERM\nEPERM", "the device cgroup refuses their numbers");
    assert.equal(inZone("dev", openAll("/planted-kvm")).out, "EPERM", "a zone given fuse and tun gets nothing else");
  });

  test("the zone's device cgroup admits exactly the given numbers", (t) => {
    const list = (z: string): string => {
      const f = path.join("/sys/fs/cgroup/devices", root.paths.hostPrefix, z, "devices.list");
      return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
    };
    if (list("dev") === "") return t.skip("no cgroup v1 devices controller (v2: runc's eBPF program, covered by the EPERM test)");
    assert.match(list("dev"), /^c 10:229 rwm$/m);
    assert.match(list("dev"), /^c 10:200 rwm$/m);
    // Not even /dev/net/tun, which runc before 1.2 admits in every container.
    assert.doesNotMatch(list("plain"), /10:229|10:200/);
  });

  test("a CDI device brings its node, its host files read-only, and its environment", () => {
    assert.equal(inZone("cdi", openAll("/dev/fuse")).out, "ok");
    assert.equal(inZone("cdi", "cat /srv/cdi-file").out, "from the host");
    assert.match(inZone("cdi", "echo x >> /srv/cdi-file").out, /Read-only file system/);
    assert.equal(inZone("cdi", "tr '\\0' '\\n' < /proc/1/environ | grep ^ZONETEST").out, "ZONETEST_CDI=fuse");
    assert.equal(inZone("cdi", "echo $ZONETEST_CDI").out, "fuse", "zlogin sessions get it too");
    assert.equal(fs.readFileSync(path.join(root.dir, "cdi-file"), "utf8"), "from the host\n");
  });

  test("halt removes the zone's nodes", () => {
    root.ok("zoneadm", ["-z", "cdi", "halt"]);
    assert.ok(!fs.existsSync(path.join(zp("cdi"), "dev")));
    assert.ok(fs.existsSync(path.join(zp("dev"), "dev/fuse")), "a running zone keeps them");
  });

  test("zonecfg refuses devices that give the host away; allow-host-access lifts all but /dev/mem and MSRs", () => {
    let r = root.run("zonecfg", ["-z", "kvm", `create; set zonepath=${zp("kvm")}; add device; set match=/dev/kvm; end`]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /device match "\/dev\/kvm" runs virtual machines.*add 'set allow-host-access=true'/);
    root.ok("zonecfg", ["-z", "kvm", `create; set zonepath=${zp("kvm")}; add device; set match=/dev/kvm; set allow-host-access=true; end`]);
    r = root.run("zonecfg", ["-z", "kvm", "add device; set match=/dev/mem; set allow-host-access=true; end"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /device match "\/dev\/mem" reads and writes the host's physical memory and I\/O ports; it is never given to a zone/);
    root.ok("zonecfg", ["-z", "kvm", "delete -F"]);
  });

  test("zoneadm verify and boot refuse a match that finds nothing, an alias by its numbers, and CDI hooks", () => {
    // Installed while its device exists; then the match finds nothing (a device gone, a typo).
    root.ok("zonecfg", ["-z", "miss", `create; set zonepath=${zp("miss")}; add device; set match=/dev/fuse; end`]);
    root.ok("zoneadm", ["-z", "miss", "install"]);
    root.ok("zonecfg", ["-z", "miss", "select device match=/dev/fuse; set match=/dev/zonetest-none*; end"]);
    let r = root.run("zoneadm", ["-z", "miss", "verify"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /device match "\/dev\/zonetest-none\*" matches no device node on this host/);
    r = root.run("zoneadm", ["-z", "miss", "boot"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /matches no device node on this host/);
    assert.match(root.ok("zoneadm", ["-z", "miss", "list", "-p"]), /:miss:installed:/);
    assert.ok(!fs.existsSync(path.join(zp("miss"), "dev")));

    mknod(ALIAS, 10, 232, 0);
    root.ok("zonecfg", ["-z", "miss", `select device match=/dev/zonetest-none*; set match=${ALIAS}; end`]);
    r = root.run("zoneadm", ["-z", "miss", "verify"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`device "${ALIAS}" \\(c 10:232\\) runs virtual machines`));
    root.ok("zonecfg", ["-z", "miss", `select device match=${ALIAS}; set allow-host-access=true; end`]);
    root.ok("zoneadm", ["-z", "miss", "verify"]);

    root.ok("zonecfg", ["-z", "miss", `select device match=${ALIAS}; set match=cdi:zonetest.example/dev=hooked; set allow-host-access=false; end`]);
    r = root.run("zoneadm", ["-z", "miss", "verify"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /zonetest\.yaml" device "hooked" has hooks \(\/usr\/bin\/true\): a CDI hook runs as host root/);
  });
});
