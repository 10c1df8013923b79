/**
 * posix_spawn for zoneadmd's helpers: the child gets exactly the descriptors and the
 * environment it is given, default signal dispositions (not Node's ignored SIGPIPE),
 * a session of its own when asked, and its exit status reaches waitExit.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { directChildren, killNow, posixSpawn, waitExit } from "../../src/native/posixspawn.js";

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "posixspawn-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("exit status and signal reach waitExit, and the child is reaped", async () => {
  const ok = await posixSpawn("sh", ["-c", "exit 7"], { fds: ["null", "null", "null"], env: { PATH: "/usr/bin:/bin" } });
  assert.ok(directChildren.size === 0 || !directChildren.has(ok));
  const exit = waitExit(ok);
  assert.ok(directChildren.has(ok), "an awaited child is left to its waiter by the reaper");
  assert.deepEqual(await exit, { code: 7, signal: null });
  assert.ok(!directChildren.has(ok));
  assert.throws(() => fs.statSync(`/proc/${ok}`), /ENOENT/, "no zombie left");
  const killed = await posixSpawn("sleep", ["60"], { fds: ["null", "null", "null"], env: {} });
  const end = waitExit(killed);
  process.kill(killed, "SIGKILL");
  assert.deepEqual(await end, { code: null, signal: 9 });
});

test("descriptors land where named, low numbers included; nothing else is inherited", async (t) => {
  const dir = tmp(t);
  const out = fs.openSync(path.join(dir, "out"), "w");
  const extra = fs.openSync(path.join(dir, "extra"), "w");
  // The shell's descriptors (ls lists them from outside): exactly 0-4, and no
  // descriptor of the test process (its runner's included) that lacks close-on-exec.
  const pid = await posixSpawn("sh", ["-c", 'echo to-out; echo to-four >&4; ls /proc/$$/fd; echo "env:$(env | sort | tr "\\n" " ")"'], {
    fds: ["null", out, out, "null", extra],
    env: { PATH: "/usr/bin:/bin", ZONE_TEST: "a b" },
  });
  fs.closeSync(out);
  fs.closeSync(extra);
  assert.deepEqual(await waitExit(pid), { code: 0, signal: null });
  const text = fs.readFileSync(path.join(dir, "out"), "utf8").split("\n");
  assert.equal(text[0], "to-out");
  const fds = text.slice(1).filter((l) => /^[0-9]+$/.test(l)).map(Number);
  assert.deepEqual(fds.sort(), [0, 1, 2, 3, 4], `only the named descriptors: ${fds.join(" ")}`);
  assert.equal(text.find((l) => l.startsWith("env:")), `env:PATH=/usr/bin:/bin PWD=${process.cwd()} ZONE_TEST=a b `, "the environment given, and what sh adds (PWD)");
  assert.equal(fs.readFileSync(path.join(dir, "extra"), "utf8"), "to-four\n");
});

test("a source descriptor that is itself a target's number is copied before it is overwritten", async (t) => {
  const dir = tmp(t);
  const a = fs.openSync(path.join(dir, "a"), "w");
  const b = fs.openSync(path.join(dir, "b"), "w");
  // Swapped: child 1 gets b and child 2 gets a, whatever numbers a and b are.
  const pid = await posixSpawn("sh", ["-c", "echo one; echo two >&2"], { fds: ["null", b, a], env: { PATH: "/usr/bin:/bin" } });
  fs.closeSync(a);
  fs.closeSync(b);
  await waitExit(pid);
  assert.equal(fs.readFileSync(path.join(dir, "b"), "utf8"), "one\n");
  assert.equal(fs.readFileSync(path.join(dir, "a"), "utf8"), "two\n");
});

test("signals at their defaults, an empty mask, and setsid when asked", async (t) => {
  const dir = tmp(t);
  const out = fs.openSync(path.join(dir, "out"), "w");
  const pid = await posixSpawn("sh", ["-c", "grep -E '^(SigIgn|SigBlk)' /proc/self/status; echo sid=$(cut -d' ' -f6 /proc/self/stat) pid=$$"], { fds: ["null", out, out], env: { PATH: "/usr/bin:/bin" }, setsid: true });
  fs.closeSync(out);
  await waitExit(pid);
  const text = fs.readFileSync(path.join(dir, "out"), "utf8");
  // Node ignores SIGPIPE (13); the helper must not inherit that. glibc's spawn leaves its
  // own internal signals 32 and 33 ignored, which each glibc program sets up anew.
  const ign = BigInt("0x" + /^SigIgn:\s+([0-9a-f]+)$/m.exec(text)![1]!);
  assert.equal(ign & ~0x180000000n, 0n, text);
  assert.match(text, /^SigBlk:\s+0+$/m, text);
  const m = /sid=(\d+) pid=(\d+)/.exec(text)!;
  assert.equal(m[1], m[2], "its own session");
});

test("a program that cannot be started is an error naming it", async () => {
  await assert.rejects(posixSpawn("no-such-helper-here", [], { fds: ["null", "null", "null"], env: { PATH: "/usr/bin:/bin" } }), /^Error: cannot start no-such-helper-here: ENOENT$/);
});

test("killNow leaves no zombie behind it, and settles the child's waitExit", async () => {
  const awaited = await posixSpawn("sleep", ["60"], { fds: ["null", "null", "null"], env: {} });
  const end = waitExit(awaited);
  killNow(awaited);
  assert.throws(() => fs.statSync(`/proc/${awaited}`), /ENOENT/, "reaped before killNow returned");
  assert.deepEqual(await end, { code: null, signal: 9 });
  const unawaited = await posixSpawn("sleep", ["60"], { fds: ["null", "null", "null"], env: {} });
  killNow(unawaited);
  assert.throws(() => fs.statSync(`/proc/${unawaited}`), /ENOENT/);
  assert.ok(!directChildren.has(awaited) && !directChildren.has(unawaited));
  killNow(unawaited); // gone: nothing to do, no error
});

test("a child killNow could not reap in time is reaped at its SIGCHLD", async () => {
  // A gigabyte to give back: its end takes the kernel well over the no wait allowed here.
  const pid = await posixSpawn(process.execPath, ["-e", "globalThis.a = Buffer.alloc(2 ** 30, 1); setTimeout(() => {}, 60_000)"], { fds: ["null", "null", "null"], env: {} });
  const deadline0 = Date.now() + 20_000;
  while (Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) < 1 << 20 && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 20));
  killNow(pid, 0);
  const deadline = Date.now() + 2000;
  while (fs.existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(!fs.existsSync(`/proc/${pid}`), "reaped, not left a zombie");
  assert.ok(!directChildren.has(pid));
});

test("argv0 names the program apart from the file: a multi-call busybox runs the applet it names", { skip: !fs.existsSync("/bin/busybox") }, async () => {
  const pid = await posixSpawn("/bin/busybox", ["60"], { fds: ["null", "null", "null"], env: {}, argv0: "sleep" });
  const exit = waitExit(pid);
  try {
    // posix_spawn returns once the child has left our memory, a moment before the kernel shows its new argv.
    let cmdline = "";
    for (const end = Date.now() + 2000; cmdline === "" && Date.now() < end; await new Promise((r) => setTimeout(r, 5))) cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    assert.equal(cmdline, "sleep\x0060\x00");
    // busybox has become sleep, and sleeps: alive a moment later, not ended on "applet not found".
    await new Promise((r) => setTimeout(r, 100));
    assert.match(fs.readFileSync(`/proc/${pid}/stat`, "utf8"), /\) S /);
  } finally {
    process.kill(pid, "SIGKILL");
  }
  assert.deepEqual(await exit, { code: null, signal: 9 });
});
