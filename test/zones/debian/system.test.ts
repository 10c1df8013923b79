/**
 * A debian zone is a whole Debian system: systemd as its init reaches `running`, apt in
 * the zone installs packages through the global zone's package proxy (daemon/proxy.ts)
 * into the zone's own layer, the services it installs start with the zone, answer the
 * global zone at the zone's address (ssh: a password chpasswd set in the zone logs a
 * user of the zone's in, a wrong one is refused) and run again after a reboot; a clone
 * of it is a machine of its own (hostname, machine-id, SSH host keys) whose services
 * run too; and `zoneadm shutdown` powers it off through systemd. Needs the base image
 * (built by install.test.ts's first run on a machine, or here), the host's Debian
 * archives and the host's ssh client (openssh-client).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { ensureDebianImage, releaseTree } from "../../../src/platform/images.js";
import { Repository } from "../../../src/document/store/repository.js";
import { until } from "../../support/helpers.js";
import { sshWithPassword } from "../../support/ssh.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("debsys");
const zp = (n: string): string => path.join(root.dir, "zones", n);
after(() => {
  for (const n of ["web", "twin"]) root.run("zoneadm", ["-z", n, "halt"]);
  for (const n of ["web", "twin"]) {
    try {
      const rec = JSON.parse(fs.readFileSync(path.join(zp(n), "image.json"), "utf8")) as { tree: string; hold: string };
      releaseTree(rec.tree, rec.hold);
    } catch {
      // not installed: nothing held
    }
  }
  root.remove();
});

const NET = "10.213.98";
const state = (n: string): string => new Repository(root.paths).find(n)?.state ?? "absent";
const inZone = (z: string, cmd: string): string => root.ok("zlogin", [z, cmd]);

/** The first bytes a TCP service at `host:port` sends (an SSH banner), or "" after 3 s. */
function banner(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => (s.destroy(), resolve("")), 3000);
    s.once("data", (d) => (clearTimeout(t), s.destroy(), resolve(d.toString("latin1"))));
    s.once("error", () => (clearTimeout(t), resolve("")));
  });
}

async function httpStatus(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(3000) })).status;
  } catch {
    return 0;
  }
}

/** systemd in the zone has finished starting: running, or degraded with what failed. */
async function systemUp(z: string): Promise<string> {
  let last = "";
  await until(`${z}: systemd finished starting`, () => {
    last = root.run("zlogin", [z, "systemctl is-system-running"]).stdout.trim();
    return last === "running" || last === "degraded";
  }, 30_000);
  return last === "running" ? last : `${last}: ${inZone(z, "systemctl --failed --no-legend")}`;
}

describe("brand debian: a whole system with systemd, apt through the proxy, services, clones", { concurrency: false }, () => {
  test("install and boot: systemd reaches running, the zone is its own machine", async () => {
    const addr = (n: number): string => `add net; set physical=zbr9; set address=${NET}.${n}/24; set defrouter=${NET}.1; end`;
    // In-process, with no command's timeout: the first run on a machine builds the image (minutes).
    ensureDebianImage({ stdio: "ignore" });
    root.ok("zonecfg", ["-z", "web", `create; set zonepath=${zp("web")}; set brand=debian; ${addr(2)}`]);
    root.ok("zonecfg", ["-z", "twin", `create; set zonepath=${zp("twin")}; set brand=debian; ${addr(3)}`]);
    root.ok("zoneadm", ["-z", "web", "install"]);
    root.ok("zoneadm", ["-z", "web", "boot"]);
    assert.equal(await systemUp("web"), "running");
    assert.equal(inZone("web", "hostname; zonename; cat /proc/1/comm"), "web\nweb\nsystemd\n");
    assert.match(inZone("web", "systemctl is-active systemd-journald"), /^active$/m);
  });

  test("apt-get install nginx and openssh-server through the global zone's proxy; both answer the global zone", async () => {
    // Two minutes: the proxy fetches from the archive, and the machine may be busy.
    root.ok("zlogin", ["web", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx openssh-server >/dev/null 2>&1 && echo 'root:zone-secret-1' | chpasswd"], undefined, 120_000);
    assert.equal(inZone("web", "systemctl is-active nginx ssh"), "active\nactive\n");
    assert.equal(await httpStatus(`http://${NET}.2/`), 200);
    assert.match(await banner(`${NET}.2`, 22), /^SSH-2\.0-OpenSSH/);
    // The packages are the zone's: in its own layer, not in the image under it.
    assert.ok(fs.existsSync(path.join(zp("web"), "upper/usr/sbin/nginx")), "nginx lies in the zone's upper layer");
  });

  test("a user made in the zone logs in from the global zone over ssh with the password chpasswd set; a wrong one is refused", () => {
    inZone("web", "useradd -m -s /bin/bash alice && echo 'alice:Zone-pass-7' | chpasswd");
    const ok = sshWithPassword(`${NET}.2`, "alice", "Zone-pass-7", "zonename; id");
    assert.equal(ok.status, 0, `ssh as alice: ${ok.stderr}`);
    assert.match(ok.stdout, /^web\nuid=\d+\(alice\) gid=\d+\(alice\) groups=.*\n$/);
    const bad = sshWithPassword(`${NET}.2`, "alice", "Zone-pass-8", "zonename");
    assert.equal(bad.status, 255, `ssh with a wrong password: ${bad.stdout}${bad.stderr}`);
    assert.match(bad.stderr, /Permission denied/);
    assert.equal(bad.stdout, "");
  });

  test("the services run again after zoneadm reboot", async () => {
    root.ok("zoneadm", ["-z", "web", "reboot"]);
    assert.equal(await systemUp("web"), "running");
    await until("nginx answering after the reboot", () => inZone("web", "systemctl is-active nginx").trim() === "active", 15_000);
    assert.equal(await httpStatus(`http://${NET}.2/`), 200);
  });

  test("a clone is a machine of its own: hostname, machine-id, SSH host keys; its services run", async () => {
    const id = inZone("web", "cat /etc/machine-id");
    const key = inZone("web", "cat /etc/ssh/ssh_host_ed25519_key.pub");
    root.ok("zoneadm", ["-z", "web", "shutdown"]);
    assert.equal(state("web"), "installed");
    root.ok("zoneadm", ["-z", "twin", "clone", "web"]);
    // Each holds the image generation in its own name: one's uninstall cannot prune the other's lower layer.
    const rec = (n: string): { tree: string; hold: string } => JSON.parse(fs.readFileSync(path.join(zp(n), "image.json"), "utf8")) as { tree: string; hold: string };
    assert.equal(rec("twin").tree, rec("web").tree);
    assert.notEqual(rec("twin").hold, rec("web").hold);
    for (const n of ["web", "twin"]) assert.ok(fs.existsSync(path.join(`${rec(n).tree}.users`, rec(n).hold)), `${n}'s hold on the image`);
    root.ok("zoneadm", ["-z", "twin", "boot"]);
    root.ok("zoneadm", ["-z", "web", "boot"]);
    assert.equal(await systemUp("twin"), "running");
    assert.equal(inZone("twin", "hostname"), "twin\n");
    assert.notEqual(inZone("twin", "cat /etc/machine-id"), id);
    await until("twin's sshd up", () => inZone("twin", "systemctl is-active ssh").trim() === "active", 15_000);
    assert.notEqual(inZone("twin", "cat /etc/ssh/ssh_host_ed25519_key.pub"), key, "the clone made SSH host keys of its own");
    assert.equal(inZone("web", "cat /etc/machine-id"), id, "the source kept its identity");
    assert.equal(await httpStatus(`http://${NET}.3/`), 200);
    assert.match(await banner(`${NET}.3`, 22), /^SSH-2\.0-OpenSSH/);
  });

  test("zoneadm shutdown powers the zones off through systemd", () => {
    for (const z of ["twin", "web"]) {
      root.ok("zoneadm", ["-z", z, "shutdown"]);
      assert.equal(state(z), "installed");
    }
    assert.match(fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8"), /zone 'web': shutdown: 38 to init/);
  });

  test("the clone's passwords are its own: one changed there logs in there, not in its source", async () => {
    for (const z of ["twin", "web"]) root.ok("zoneadm", ["-z", z, "boot"]);
    for (const z of ["twin", "web"]) assert.equal(await systemUp(z), "running");
    inZone("twin", "echo 'alice:Twin-pass-9' | chpasswd");
    await until("twin's sshd up", () => inZone("twin", "systemctl is-active ssh").trim() === "active", 15_000);
    const there = sshWithPassword(`${NET}.3`, "alice", "Twin-pass-9", "zonename");
    assert.deepEqual([there.status, there.stdout], [0, "twin\n"], there.stderr);
    await until("web's sshd up", () => inZone("web", "systemctl is-active ssh").trim() === "active", 15_000);
    assert.equal(sshWithPassword(`${NET}.2`, "alice", "Twin-pass-9", "zonename").status, 255, "the clone's new password opens its source");
    // Shut down seconds after the ssh login ended: the login's user manager (user@.service)
    // stops by itself. It waited out zoneadmd's 30 s grace, at random, while systemd had
    // only name=systemd and so never learnt that the unit's group emptied (systemd.ts).
    for (const z of ["twin", "web"]) root.ok("zoneadm", ["-z", z, "shutdown"]);
    assert.doesNotMatch(fs.readFileSync(path.join(root.paths.runDir, "zoneadmd.log"), "utf8"), /init still running after/);
  });
});
