/**
 * Per-user kernel quotas (ucounts) are charged up the chain of user namespaces to each
 * namespace's owner: a zone's user namespace is owned by its slot uid, so a zone that
 * uses up a quota takes it from itself only, never from host root or another zone.
 * Each test fills one quota in zone a with python3 from the host's shared /usr, then
 * asks for one more of it as host root and in zone b.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN } from "../../support/helpers.js";
import { ZoneTestRoot } from "../../support/zones.js";

const root = new ZoneTestRoot("quota");
after(() => root.remove());
const zp = (n: string): string => path.join(root.dir, "zones", n);
const PYTHON = "/usr/bin/python3";

const PRELUDE = `import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
err = lambda: os.strerror(ctypes.get_errno())
class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]
attr = MqAttr(0, 10, 8192, 0)
sig = signal.SIGRTMIN
signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
`;

/** Python that takes one unit of a quota: `take()` is true when the kernel gave it. */
const QUOTAS = {
  "inotify instances": "def take(i): return libc.inotify_init() >= 0\n",
  // RT signals queued to oneself while blocked stay pending.
  "pending signals": "def take(i): return libc.sigqueue(os.getpid(), sig, ctypes.c_void_p(0)) == 0\n",
  // Each queue charges its whole size (10 x 8 KiB) to RLIMIT_MSGQUEUE at mq_open.
  "POSIX message queue bytes": `names = []
def take(i):
    name = f"/zones-quota-{os.getpid()}-{i}".encode()
    if libc.mq_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600, ctypes.byref(attr)) < 0: return False
    names.append(name)
    return True
`,
} as const;
type Quota = keyof typeof QUOTAS;

/** Take units until the kernel refuses; print how many and why; hold them until stdin closes. */
const fill = (q: Quota): string =>
  `${PRELUDE}${QUOTAS[q]}n = 0
while n < 1000000 and take(n): n += 1
print(n, err(), flush=True)
sys.stdin.read()
for name in globals().get("names", []): libc.mq_unlink(name)
`;
/** Take one unit: print "ok" or the error. */
const once = (q: Quota): string => `${PRELUDE}${QUOTAS[q]}ok = take(0)
print("ok" if ok else err())
for name in globals().get("names", []): libc.mq_unlink(name)
`;

/** Python in a zone, or as host root for "global". */
function python(zone: string, code: string): string {
  const r = zone === "global" ? spawnSync(PYTHON, ["-c", code], { encoding: "utf8", timeout: 30_000 }) : root.run("zlogin", [zone, PYTHON, "-c", code]);
  return (r.stdout + r.stderr).trim();
}

/** Fill quota `q` in `zone` and run `check` while it is held; the holder ends after. */
async function whileFull(zone: string, q: Quota, check: (filled: string) => void): Promise<void> {
  const holder = spawn(path.join(BIN, "zlogin"), [zone, PYTHON, "-c", fill(q)], { env: root.env, stdio: ["pipe", "pipe", "inherit"] });
  const ended = new Promise((r) => holder.on("exit", r));
  try {
    const filled = await new Promise<string>((resolve, reject) => {
      let out = "";
      holder.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(out.trim());
      });
      holder.on("exit", (code) => reject(new Error(`the holder in zone ${zone} ended (${code}) before filling ${q}: ${out}`)));
    });
    check(filled);
  } finally {
    holder.stdin.end();
    await ended;
  }
}

/** The host uid owning a process's user namespace (ioctl NS_GET_OWNER_UID). */
function usernsOwner(pid: number): number {
  const code = `import array, fcntl, os
b = array.array("I", [0])
fcntl.ioctl(os.open("/proc/${pid}/ns/user", os.O_RDONLY), 0xb704, b)
print(b[0])`;
  return Number(spawnSync(PYTHON, ["-c", code], { encoding: "utf8" }).stdout.trim());
}

/** The host uid of a process. */
function hostUid(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

describe("per-user kernel quotas are charged to the zone", { concurrency: false, timeout: 240_000 }, () => {
  before(() => {
    for (const z of ["a", "b"]) {
      root.ok("zonecfg", ["-z", z, `create; set zonepath=${zp(z)}`]);
      root.ok("zoneadm", ["-z", z, "install"]);
      root.ok("zoneadm", ["-z", z, "boot"]);
    }
  });
  after(() => {
    for (const z of ["a", "b"]) {
      root.run("zoneadm", ["-z", z, "halt"]);
      root.run("zoneadm", ["-z", z, "uninstall", "-F"]);
    }
  });

  test("each zone's user namespace is owned by its own slot uid, not by host root", () => {
    const owners = ["a", "b"].map((z) => {
      const init = Number(fs.readFileSync(path.join(root.paths.runDir, "zone", z, "init.pid"), "utf8"));
      const owner = usernsOwner(init);
      assert.equal(owner, hostUid(init), `zone ${z}: the owner is the zone root's host uid`);
      assert.ok(owner >= 65536 && owner % 65536 === 0, `zone ${z}: a slot base, got ${owner}`);
      // The process that made the namespace at ready is gone: the zone holds it now.
      assert.equal(spawnSync("pgrep", ["-U", String(owner), "-f", "^unshare --user"], { encoding: "utf8" }).stdout, "", `zone ${z}: no holder left`);
      return owner;
    });
    assert.notEqual(owners[0], owners[1]);
  });

  for (const q of Object.keys(QUOTAS) as Quota[]) {
    test(`a zone that uses up its ${q} leaves host root and other zones theirs`, { timeout: 60_000 }, async () => {
      await whileFull("a", q, (filled) => {
        assert.match(filled, /^[1-9]\d* (Too many open files|Resource temporarily unavailable)$/, `zone a filled its ${q}`);
        assert.equal(python("global", once(q)), "ok", `host root can still take ${q}`);
        assert.equal(python("b", once(q)), "ok", `zone b can still take ${q}`);
        assert.match(python("a", once(q)), /Too many open files|Resource temporarily unavailable/, `zone a itself is at its limit`);
      });
    });
  }
});
