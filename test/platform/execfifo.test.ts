/**
 * runc's start without runc (src/platform/oci/execfifo.ts), on a FIFO laid out as runc
 * lays out a created container's (<state>/<id>/exec.fifo) and a shell standing in for
 * runc's init: the byte is read and the FIFO removed; no FIFO leaves it to the runtime;
 * an init that is gone is an error naming the container, not a wait without end.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { startThroughFifo } from "../../src/platform/oci/execfifo.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-execfifo-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function fifoOf(id: string): string {
  fs.mkdirSync(path.join(dir, id));
  const fifo = path.join(dir, id, "exec.fifo");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  return fifo;
}

describe("exec FIFO start", () => {
  test("the waiting init's byte is read and the FIFO removed", async () => {
    const fifo = fifoOf("a");
    // As runc's init: blocks opening its end for writing, writes a byte, goes on (into
    // the zone's init, which runs on).
    const init = spawn("sh", ["-c", `printf 0 > ${fifo}; echo started; exec sleep 30`], { stdio: ["ignore", "pipe", "ignore"] });
    const started = new Promise<string>((r) => init.stdout.once("data", (d: Buffer) => r(d.toString())));
    try {
      assert.equal(await startThroughFifo(dir, "a", init.pid!), true);
      assert.equal((await started).trim(), "started");
      assert.equal(fs.existsSync(fifo), false);
    } finally {
      init.kill("SIGKILL");
    }
  });

  test("no FIFO: left to the runtime's own start", async () => {
    fs.mkdirSync(path.join(dir, "b"));
    assert.equal(await startThroughFifo(dir, "b", process.pid), false);
    fs.writeFileSync(path.join(dir, "b", "exec.fifo"), "");
    assert.equal(await startThroughFifo(dir, "b", process.pid), false, "a plain file is no FIFO");
  });

  test("an init that is gone is an error naming the container", async () => {
    fifoOf("c");
    const gone = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
    const pid = Number(gone.stdout.trim());
    await assert.rejects(startThroughFifo(dir, "c", pid), new RegExp(`container "c": its init ${pid} ended before it started`));
  });
});
