/** The real commands (bin/zonecfg, bin/zoneadm, bin/zonename) against a private ZONES_ROOT. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { zonePaths } from "../../src/document/store/paths.js";
import { Repository } from "../../src/document/store/repository.js";
import { TestRoot } from "../support/helpers.js";

const root = new TestRoot("cmd");
after(() => root.remove());
const zp = (name: string): string => path.join(root.dir, "zones", name);

describe("zonecfg", () => {
  test("creates a zone from a command line and shows it with info and export", () => {
    root.ok("zonecfg", ["-z", "web", `create; set zonepath=${zp("web")}; set autoboot=true; add net; set physical=zbr0; set address=10.1.0.2/24; end`]);
    const info = root.ok("zonecfg", ["-z", "web", "info"]);
    assert.match(info, /^zonename: web$/m);
    assert.match(info, /^autoboot: true$/m);
    assert.match(info, /^net:\n\taddress: 10\.1\.0\.2\/24\n\tallowed-address not specified\n\tphysical: zbr0\n\tdefrouter not specified$/m);
    assert.equal(root.ok("zonecfg", ["-z", "web", "info", "zonepath"]), `zonepath: ${zp("web")}\n`);
    const exported = root.ok("zonecfg", ["-z", "web", "export"]);
    assert.equal(exported.split("\n")[0], "create -b");
    assert.match(exported, /^set autoboot=true$/m);
  });

  test("arguments after -z are joined into one command line, as illumos does", () => {
    root.ok("zonecfg", ["-z", "web", "set", "bootargs=-s"]);
    assert.equal(root.ok("zonecfg", ["-z", "web", "info bootargs"]), "bootargs: -s\n");
  });

  test("export re-imports with -f to the same zone, and -f - reads standard input", () => {
    root.ok("zonecfg", ["-z", "web", 'add attr; set name=note; set type=string; set value="a b=c, [d] (e) \\"f\\""; end']);
    const text = root.ok("zonecfg", ["-z", "web", "export"]).replace(`zonepath=${zp("web")}`, `zonepath=${zp("copy")}`);
    const file = path.join(root.dir, "web.export");
    fs.writeFileSync(file, text);
    root.ok("zonecfg", ["-z", "copy", "-f", file]);
    assert.equal(root.ok("zonecfg", ["-z", "copy", "export"]), text);
    root.ok("zonecfg", ["-z", "copy2", "-f", "-"], text.replace(zp("copy"), zp("copy2")));
    assert.equal(root.ok("zonecfg", ["-z", "copy2", "export"]), text.replace(zp("copy"), zp("copy2")));
    assert.match(root.ok("zonecfg", ["-z", "copy", "info", "attr", "name=note"]), /value: a b=c, \[d\] \(e\) "f"/);
  });

  test("standard input that is not a terminal is a command stream", () => {
    root.ok("zonecfg", ["-z", "piped"], `create -b\nset zonepath=${zp("piped")}\n# a comment\nset ip-type=exclusive\n`);
    assert.equal(root.ok("zonecfg", ["-z", "piped", "info ip-type"]), "ip-type: exclusive\n");
  });

  test("errors are one line naming the zone, the thing and the value, with exit 1", () => {
    const r = root.run("zonecfg", ["-z", "web", "set zonepath=zones/web"]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `zonecfg: zone 'web': zonepath must be absolute: "zones/web"\n`);
    const bad = root.run("zonecfg", ["-z", "web", "set autoboot=maybe"]);
    assert.equal(bad.stderr, `zonecfg: zone 'web': autoboot must be true or false: "maybe"\n`);
    assert.equal(root.run("zonecfg", ["-z", "web", "frobnicate"]).status, 1);
  });

  test("a failing command stream commits nothing and names the line of a file", () => {
    const before = root.ok("zonecfg", ["-z", "web", "export"]);
    const file = path.join(root.dir, "bad.cfg");
    fs.writeFileSync(file, "set autoboot=false\nset bootargs=changed\nset hostid=zz\n");
    const r = root.run("zonecfg", ["-z", "web", "-f", file]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `zonecfg: zone 'web': ${file} line 3: hostid must be a hexadecimal number no greater than FFFFFFFE: "zz"\n`);
    assert.equal(root.ok("zonecfg", ["-z", "web", "export"]), before);
  });

  test("usage errors exit 2", () => {
    assert.equal(root.run("zonecfg", []).status, 2);
    assert.equal(root.run("zonecfg", ["-q"]).status, 2);
    assert.equal(root.run("zonecfg", ["-z", "web", "-f", "x", "info"]).status, 2);
  });

  test("invalid and reserved zone names are refused before anything is written", () => {
    for (const name of ["../etc", "global", "a/b", "-x", "SUNWfoo", "x".repeat(65), "semi;colon", "sp ace"]) {
      const r = root.run("zonecfg", ["-z", name, "create"]);
      assert.notEqual(r.status, 0, name);
      assert.match(r.stderr, /zone name|reserved|unknown option|usage/, name);
    }
    assert.deepEqual(fs.readdirSync(root.configDir).filter((f) => f.endsWith(".cfg")).sort(), ["copy.cfg", "copy2.cfg", "piped.cfg", "web.cfg"]);
  });

  test("create on an existing zone needs -F; create -t copies another zone; create -b is blank", () => {
    const r = root.run("zonecfg", ["-z", "web", "create"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /already exists; use 'create -F'/);
    root.ok("zonecfg", ["-z", "twin", "create -t web"]);
    const twin = root.ok("zonecfg", ["-z", "twin", "export"]);
    assert.match(twin, new RegExp(`^set zonepath=${zp("twin")}$`, "m"), "a copied zone gets its own default zonepath");
    assert.match(twin, /^set bootargs=-s$/m);
    const blank = root.run("zonecfg", ["-z", "empty", "create -b"]);
    assert.equal(blank.status, 1, "a blank zone has no zonepath, so the commit at the end fails verify");
    assert.match(blank.stderr, /zonepath not specified/);
  });

  test("set zonename renames a configured zone; the old name is gone", () => {
    root.ok("zonecfg", ["-z", "twin", "set zonename=twin2"]);
    assert.equal(root.run("zonecfg", ["-z", "twin", "info"]).status, 1);
    assert.match(root.ok("zonecfg", ["-z", "twin2", "info zonename"]), /^zonename: twin2$/m);
    assert.ok(!fs.existsSync(path.join(root.configDir, "twin.cfg")));
    const clash = root.run("zonecfg", ["-z", "twin2", "set zonename=web"]);
    assert.match(clash.stderr, /zone 'web' already exists/);
  });

  test("verify reports overlapping zonepaths", () => {
    const r = root.run("zonecfg", ["-z", "twin2", `set zonepath=${zp("web")}/inner; verify`]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /overlaps the zonepath of zone 'web'/);
  });

  test("delete needs -F without a terminal, and removes the zone", () => {
    const r = root.run("zonecfg", ["-z", "twin2", "delete"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /needs -F/);
    root.ok("zonecfg", ["-z", "twin2", "delete -F"]);
    assert.doesNotMatch(root.ok("zoneadm", ["list", "-c"]), /twin2/);
  });

  test("a resource left open at the end of input is an error and nothing is committed", () => {
    const r = root.run("zonecfg", ["-z", "web", "add fs; set dir=/x"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /fs resource is not closed/);
    assert.doesNotMatch(root.ok("zonecfg", ["-z", "web", "info"]), /dir: \/x/);
  });

  test("exit -F leaves without committing; revert -F drops changes", () => {
    root.ok("zonecfg", ["-z", "web", "set bootargs=lost; exit -F"]);
    root.ok("zonecfg", ["-z", "web", "set bootargs=lost2; revert -F; set autoboot=false"]);
    assert.equal(root.ok("zonecfg", ["-z", "web", "info bootargs"]), "bootargs: -s\n");
  });
});

describe("zoneadm and zonename", () => {
  test("list: global first; -c adds configured zones; -p and -v formats", () => {
    assert.equal(root.ok("zoneadm", ["list"]), "global\n");
    const names = root.ok("zoneadm", ["list", "-c"]).trim().split("\n");
    assert.equal(names[0], "global");
    assert.ok(names.includes("web"));
    assert.equal(root.ok("zoneadm", ["list", "-i"]), "global\n", "no zone is installed");
    const p = root.ok("zoneadm", ["list", "-cp"]).trim().split("\n");
    assert.equal(p[0], "0:global:running:/::linux:shared");
    const web = p.find((l) => l.startsWith("-:web:"))!;
    assert.match(web, new RegExp(`^-:web:configured:${zp("web")}:[0-9a-f-]{36}:sparse:shared$`));
    assert.match(p.find((l) => l.startsWith("-:piped:"))!, /:sparse:excl$/);
    const v = root.ok("zoneadm", ["list", "-cv"]).split("\n");
    assert.equal(v[0], "  ID NAME             STATUS        PATH                           BRAND    IP    ");
    assert.equal(v[1], "   0 global           running       /                              linux    shared");
    assert.equal(root.ok("zoneadm", ["-z", "web", "list", "-p"]).split(":")[1], "web");
    assert.equal(root.run("zoneadm", ["list", "-pv"]).status, 2);
  });

  test("list -p escapes ':' in zonepaths", () => {
    root.ok("zonecfg", ["-z", "colon", `create; set zonepath=${root.dir}/zones/a:b`]);
    assert.ok(root.ok("zoneadm", ["list", "-cp"]).includes(`:${root.dir}/zones/a\\:b:`));
    root.ok("zonecfg", ["-z", "colon", "delete -F"]);
  });

  test("verify checks the configuration and the zonepath on the host", () => {
    root.ok("zoneadm", ["-z", "web", "verify"]);
    fs.mkdirSync(zp("web"), { recursive: true, mode: 0o755 });
    fs.chmodSync(zp("web"), 0o755);
    const r = root.run("zoneadm", ["-z", "web", "verify"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /must not be accessible to others/);
    fs.chmodSync(zp("web"), 0o700);
    root.ok("zoneadm", ["-z", "web", "verify"]);
    fs.rmSync(zp("web"), { recursive: true });
  });

  test("the state model answers lifecycle requests; unbuilt subcommands say so", () => {
    const boot = root.run("zoneadm", ["-z", "web", "boot"]);
    assert.equal(boot.status, 1);
    assert.equal(boot.stderr, "zoneadm: zone 'web': must be installed before boot (it is configured)\n");
    const clone = root.run("zoneadm", ["-z", "web", "clone", "other"]);
    assert.equal(clone.stderr, "zoneadm: zone 'web': zone 'other' is not configured\n");
    assert.match(root.run("zoneadm", ["-z", "web", "mount"]).stderr, /must be installed before mount \(it is configured\)/);
    assert.match(root.run("zoneadm", ["-z", "nosuch", "verify"]).stderr, /no such zone configured/);
    assert.equal(root.run("zoneadm", ["bogus"]).status, 2);
    assert.equal(root.run("zoneadm", ["verify"]).status, 2);
  });

  test("an installed zone keeps its zonepath and brand; it can still be renamed", () => {
    root.ok("zonecfg", ["-z", "inst", `create; set zonepath=${zp("inst")}`]);
    const repo = new Repository(zonePaths(root.env));
    repo.setState("inst", "incomplete");
    repo.setState("inst", "installed");
    const move = root.run("zonecfg", ["-z", "inst", `set zonepath=${zp("elsewhere")}`]);
    assert.equal(move.status, 1);
    assert.equal(move.stderr, "zonecfg: zone 'inst': zonepath cannot be changed while the zone is installed: use 'zoneadm -z inst move' to move an installed zone\n");
    assert.match(root.run("zonecfg", ["-z", "inst", "set brand=minimal"]).stderr, /brand cannot be changed while the zone is installed/);
    assert.match(root.run("zonecfg", ["-z", "inst", "delete -F"]).stderr, /only a configured zone can be deleted/);
    root.ok("zonecfg", ["-z", "inst", "set zonename=inst2; set bootargs=-s"]);
    assert.match(root.ok("zoneadm", ["list", "-ip"]), new RegExp(`^-:inst2:installed:${zp("inst")}:`, "m"));
    assert.match(root.ok("zoneadm", ["list", "-iv"]), /inst2 +installed/);
    repo.setState("inst2", "incomplete");
    assert.match(root.run("zoneadm", ["-z", "inst2", "verify"]).stderr, /uninstall required/);
    repo.setState("inst2", "configured");
    root.ok("zonecfg", ["-z", "inst2", "delete -F"]);
  });

  test("two ZONES_ROOTs side by side do not see each other", () => {
    const other = new TestRoot("other");
    try {
      other.ok("zonecfg", ["-z", "web", `create; set zonepath=${other.dir}/zones/web; set bootargs=other`]);
      assert.equal(other.ok("zoneadm", ["list", "-c"]), "global\nweb\n");
      assert.equal(root.ok("zonecfg", ["-z", "web", "info bootargs"]), "bootargs: -s\n");
    } finally {
      other.remove();
    }
  });

  test("zonename prints global in the global zone", () => {
    assert.equal(root.ok("zonename", []), "global\n");
  });

  test("a hand-broken document names its file and line; the other zones stay usable", () => {
    const file = path.join(root.configDir, "piped.cfg");
    const good = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, good.replace("set ip-type=exclusive", 'set ip-type="exclusive'));
    const r = root.run("zonecfg", ["-z", "piped", "info"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.]/g, "\\.")} line \\d+: unterminated quoted string`));
    const list = root.run("zoneadm", ["list", "-cp"]);
    assert.equal(list.status, 0);
    assert.match(list.stdout, /^-:web:configured:/m);
    assert.match(list.stdout, /^-:piped:configured:/m, "list reads only the index");
    assert.match(root.ok("zonecfg", ["-z", "web", "info zonename"]), /web/);
    fs.writeFileSync(file, good);
  });
});
