/**
 * Keystrokes reach a pty in the order they were typed, also when they come faster
 * than the thread pool writes them and when the terminal's input buffer is full.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tty from "node:tty";
import { openPty } from "../../src/native/pty.js";
import { PtyInput } from "../../src/daemon/ptyinput.js";
import { until } from "../support/helpers.js";

/** A pty as zoneadmd holds one: the master read by a tty.ReadStream (non-blocking), the slave raw and silent. */
function pty(): { master: tty.ReadStream; fd: number; slave: tty.ReadStream; read: (n: number) => Promise<string> } {
  const p = openPty(24, 80);
  const master = new tty.ReadStream(p.master);
  master.on("error", () => undefined);
  const slave = new tty.ReadStream(p.slave);
  slave.setRawMode(true);
  let got = "";
  let want = 0;
  let done: (() => void) | undefined;
  const check = (): void => {
    if (got.length >= want) done?.();
  };
  slave.on("data", (d: Buffer) => {
    got += d.toString("latin1");
    check();
  });
  slave.pause();
  const read = (n: number): Promise<string> =>
    new Promise((resolve, reject) => {
      want = n;
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${n} bytes reached the slave`)), 10_000);
      done = () => {
        clearTimeout(timer);
        resolve(got);
      };
      slave.resume();
      check();
    });
  return { master, fd: p.master, slave, read };
}

test("single keystrokes sent at once arrive in order", async () => {
  const t = pty();
  try {
    const input = new PtyInput(t.fd);
    // Each letter a write of its own, all issued in one tick as a fast typist's frames are.
    const text = "zonename\r".repeat(40);
    for (const ch of text) input.write(Buffer.from(ch));
    assert.equal(await t.read(text.length), text);
  } finally {
    t.slave.destroy();
    t.master.destroy();
  }
});

test("input beyond the terminal's buffer waits (EAGAIN) and then arrives whole, in order", async () => {
  const t = pty();
  try {
    let written = 0;
    const input = new PtyInput(t.fd, () => written++);
    // The slave is not read yet: the line discipline's buffer (4 KiB) fills and the
    // non-blocking master refuses the rest until it is read.
    const chunks = Array.from({ length: 64 }, (_, i) => String.fromCharCode(65 + (i % 26)).repeat(1024));
    for (const c of chunks) input.write(Buffer.from(c));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(input.queued > 0, "everything was written with nobody reading the slave");
    const all = chunks.join("");
    assert.equal(await t.read(all.length), all);
    // The last write's callback may come just after its bytes reached the slave.
    await until("the queue to be written", () => input.queued === 0, 2_000);
    assert.ok(written > 0);
  } finally {
    t.slave.destroy();
    t.master.destroy();
  }
});

test("after end() nothing more is written", async () => {
  const t = pty();
  try {
    const input = new PtyInput(t.fd);
    input.write(Buffer.from("a"));
    assert.equal(await t.read(1), "a");
    input.end();
    input.write(Buffer.from("b"));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(input.queued, 0);
    // Nothing but the "a" ever reached the slave.
    assert.equal(await t.read(1), "a");
  } finally {
    t.slave.destroy();
    t.master.destroy();
  }
});
