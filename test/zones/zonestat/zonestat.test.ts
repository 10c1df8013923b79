/**
 * zonestat on real zones: a zone burning CPU shows it (against its capped-cpu) and more
 * than an idle one; a zone with capped-memory shows its cap, and the memory it fills;
 * process and lwp counts match the zone's own processes; network bytes grow while the
 * global zone fetches a file from a zone; the -p form parses; -z picks zones.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { readRun } from "../../../src/document/store/runstate.js";
import { ZoneTestRoot } from "../../support/zones.js";
import { BIN, collect } from "../../support/helpers.js";

const root = new ZoneTestRoot("zonestat");
// A private /24 per root (10.213.100-199.0), as test/zones/network does.
const X = 100 + (parseInt(createHash("sha256").update(root.dir).digest("hex").slice(0, 4), 16) % 100);
const NET = `10.213.${X}`;
const zp = (n: string): string => path.join(root.dir, "zones", n);
const ZONES = ["busy", "idle", "net"];
const MIB = 1024 * 1024;
const children: ChildProcess[] = [];

after(() => {
  for (const c of children) c.kill("SIGKILL");
  for (const z of ZONES) root.run("zoneadm", ["-z", z, "halt"]);
  root.remove();
});

/** One line of `zonestat -p`, split; its fields named by resource (see format.ts). */
type Line = string[];

/** The lines of a `zonestat -p ...` run in the test's root. */
async function zonestat(args: string[]): Promise<Line[]> {
  const child = spawn(path.join(BIN, "zonestat"), args, { env: root.env, stdio: ["ignore", "pipe", "pipe"] });
  const r = await collect(child);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  return r.stdout.trimEnd().split("\n").map((l) => l.split(":"));
}

const find = (lines: Line[], resource: string, zone: string): Line => {
  const zoneField = resource === "summary" ? 2 : 3;
  const l = lines.find((f) => f[1] === resource && f[zoneField] === zone);
  assert.ok(l, `no ${resource} line for ${zone} in ${JSON.stringify(lines)}`);
  return l;
};

/** The zone's processes, counted here on our own: those sharing its init's pid namespace. */
function processesOf(zone: string): number {
  const ns = fs.readlinkSync(`/proc/${readRun(root.paths, zone)!.pid}/ns/pid`);
  let n = 0;
  for (const p of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (fs.readlinkSync(`/proc/${p}/ns/pid`) === ns) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

describe("zonestat", { concurrency: false }, () => {
  before(() => {
    const cfg: Record<string, string> = {
      busy: "add capped-cpu; set ncpus=0.5; end;",
      // cpu-shares on the zone that stays idle: its %SHRU is shown, without slowing busy.
      idle: "add capped-memory; set physical=256m; end; set cpu-shares=2048;",
      net: `add net; set physical=zbr0; set address=${NET}.2/24; set defrouter=${NET}.1; end;`,
    };
    for (const z of ZONES) {
      root.ok("zonecfg", ["-z", z, `create; set zonepath=${zp(z)}; set brand=minimal; ${cfg[z]!}`]);
      root.ok("zoneadm", ["-z", z, "install"]);
      const r = root.run("zoneadm", ["-z", z, "boot"]);
      assert.equal(r.status, 0, r.stderr);
    }
    // A busy loop in `busy`, for as long as the test runs (the zone's halt ends it).
    const loop = spawn(path.join(BIN, "zlogin"), ["busy", "while :; do :; done"], { env: root.env, stdio: "ignore" });
    children.push(loop);
    root.ok("zlogin", ["net", "mkdir -p /srv && dd if=/dev/zero of=/srv/f bs=1k count=200 2>/dev/null && httpd -p 80 -h /srv"]);
    // 48 MiB in idle's /dev/shm (a tmpfs): charged to the zone's memory cgroup.
    root.ok("zlogin", ["idle", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null"]);
  });

  test("-p: CPU of a busy zone against its cap, memory against the cap, process counts, network bytes", async () => {
    // The global zone fetches 200 KiB from the net zone during zonestat's interval (the
    // host has no ping, and the zone's root lacks net_raw for busybox's).
    // Twice, 0.4 s and 1.2 s in: on a loaded host zonestat may take its first sample late,
    // and a fetch before it would not count (the suite saw 70 bytes once).
    const measured = zonestat(["-p", "-r", "all", "2", "1"]);
    for (const at of [400, 800]) {
      await new Promise((r) => setTimeout(r, at));
      const get = spawnSync("curl", ["-s", "-m", "5", "-o", "/dev/null", "-w", "%{size_download}", `http://${NET}.2/f`], { encoding: "utf8" });
      assert.equal(get.stdout, String(200 * 1024), get.stderr);
    }
    const lines = await measured;
    for (const l of lines) assert.equal(l[0], "interval", l.join(":"));

    // summary: interval:summary:zone:cpu:%part:%cap:%shru:mem:mem%:mem%cap:vm:vm%:vm%cap
    const busy = find(lines, "summary", "busy");
    const idle = find(lines, "summary", "idle");
    assert.ok(Number(busy[3]) > 0.25, `busy zone used ${busy[3]} CPUs`);
    assert.ok(Number(busy[3]) < 0.65, `busy zone used ${busy[3]} CPUs over its cap of 0.5`);
    assert.ok(Number(busy[3]) > Number(idle[3]) + 0.2, `busy ${busy[3]} vs idle ${idle[3]}`);
    assert.ok(Number(busy[5]) > 50, `busy %CAP ${busy[5]}`);
    assert.equal(idle[5], "-", "idle has no CPU cap");
    assert.equal(busy[6], "-", "busy has no cpu-shares");
    assert.match(idle[6]!, /^\d+\.\d\d$/, "idle's %SHRU");
    assert.ok(Number(find(lines, "summary", "[total]")[3]) >= Number(busy[3]));

    // physical-memory: interval:physical-memory:mem_default:zone:used:pct:cap:%cap
    const mem = find(lines, "physical-memory", "idle");
    assert.equal(mem[6], String(256 * MIB));
    assert.ok(Number(mem[4]) >= 48 * MIB, `idle uses ${mem[4]} bytes`);
    assert.ok(Number(mem[7]) >= 18, `idle %CAP ${mem[7]}`);
    assert.equal(find(lines, "physical-memory", "busy")[6], "-");

    // processes and lwps of the steady zones: as many as live in their pid namespaces.
    for (const z of ["idle", "net"]) {
      const n = processesOf(z);
      assert.equal(find(lines, "processes", z)[4], String(n), `${z} processes`);
      assert.equal(find(lines, "lwps", z)[4], String(n), `${z} lwps (busybox is single-threaded)`);
      assert.equal(find(lines, "lwps", z)[6], "8192", "the default max-lwps");
    }

    // network: interval:network:net_default:zone:rbytes:obytes
    const net = find(lines, "network", "net");
    assert.ok(Number(net[4]) > 1000, `net zone received ${net[4]} bytes`);
    assert.ok(Number(net[5]) > 200 * 1024, `net zone sent ${net[5]} bytes`);
    assert.deepEqual(find(lines, "network", "busy").slice(4), ["0", "0"]);
  });

  test("-z picks zones; [total] and [system] stay; the human form has illumos's columns", async () => {
    const r = spawnSync(path.join(BIN, "zonestat"), ["-z", "idle", "1", "1"], { env: root.env, encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^Collecting data for first interval\.\.\.\nInterval: 1, Duration: 0:00:01\nSUMMARY +Cpus\/Online: \d+\/\d+ +Physical: \S+ +Virtual: \S+\n/);
    assert.match(out, /^ +-+CPU-+ -+PHYSICAL-+ -+VIRTUAL-+$/m);
    assert.match(out, /^ +ZONE +USED +%PART +%CAP +%SHRU +USED +PCT +%CAP +USED +PCT +%CAP$/m);
    assert.match(out, /^ +\[total\] /m);
    assert.match(out, /^ *\[system\] /m);
    assert.match(out, /^ +idle +\d+\.\d\d /m);
    assert.doesNotMatch(out, /^ +busy /m);
    const p = await zonestat(["-p", "-P", "zones", "-z", "busy,net", "1", "1"]);
    assert.deepEqual(p.map((l) => l[2]).sort(), ["busy", "net"]);
  });
});
