/**
 * The per-boot helpers are started by absolute path, as busybox applets where busybox
 * has them, and still do their work: a holder that sleeps, a user namespace owned by
 * the uid setpriv gives, the helper's argv as its programs pass it on.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { helperArgv, helperBin, setprivBin } from "../../src/platform/helperbins.js";
import { mappedUserns } from "../../src/platform/idmap.js";
import { SLOT_SIZE } from "../../src/platform/slots.js";

const busybox = fs.existsSync("/bin/busybox");

test("each helper is an absolute path; busybox's applet when it has one", () => {
  for (const n of ["sleep", "unshare"] as const) {
    const b = helperBin(n);
    assert.ok(b.file.startsWith("/"), `${n}: ${b.file}`);
    assert.equal(b.argv0, n);
    if (busybox) assert.equal(b.file, "/bin/busybox");
    assert.deepEqual(helperArgv(n, ["x"]), b.file === "/bin/busybox" ? ["/bin/busybox", n, "x"] : [b.file, "x"]);
  }
  assert.match(setprivBin(), /^\/.*\/setpriv$/);
});

test("the user namespace made through the helpers maps the slot and is owned by its uid", { skip: process.getuid?.() !== 0 }, async () => {
  const base = 16001 * SLOT_SIZE;
  const ns = await mappedUserns(base, SLOT_SIZE);
  try {
    // setns into a user namespace takes CAP_SYS_ADMIN in it, which its owner has and no other unprivileged uid.
    const join = (uid: number): ReturnType<typeof spawnSync> =>
      spawnSync("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "nsenter", "--user=/proc/self/fd/3", "cat", "/proc/self/uid_map"], { stdio: ["ignore", "pipe", "pipe", ns.fd], encoding: "utf8" });
    const owner = join(base);
    assert.equal(owner.status, 0, String(owner.stderr));
    assert.deepEqual(String(owner.stdout).trim().split(/\s+/), ["0", String(base), String(SLOT_SIZE)]);
    assert.notEqual(join(base + 1).status, 0, "another uid cannot enter it");
  } finally {
    ns.release();
  }
});
