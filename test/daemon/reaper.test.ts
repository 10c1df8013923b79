/**
 * zoneadmd's reaper against the helpers it starts: a helper started on a worker thread
 * (spawnWatched) may end before the daemon's thread learns its pid; a sweep then must not
 * reap the status its starter is about to await (which would get ECHILD).
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { Reaper } from "../../src/daemon/reaper.js";
import { spawnsInFlight, spawnWatched } from "../../src/native/posixspawn.js";

test("a sweep running all along reaps no helper whose start has not answered yet", async () => {
  const reaper = new Reaper();
  let sweeping = true;
  let sweeps = 0; // those that looked at the zombies: none was being started
  // As zoneadmd's: a sweep at every turn of the loop, not only at SIGCHLD.
  const loop = (): void => {
    if (!sweeping) return;
    if (spawnsInFlight() === 0) sweeps++;
    reaper.sweep();
    setImmediate(loop);
  };
  loop();
  try {
    // Ending at once, often before the worker thread has answered. Two chains of starts,
    // so that some sweeps run between them and some while one is in flight.
    await Promise.all(
      [0, 1].map(async (chain) => {
        for (let i = 0; i < 100; i++) {
          const { exit } = await spawnWatched("sh", ["-c", `exit ${i}`], { fds: ["null", "null", "null"], env: { PATH: "/usr/bin:/bin" } });
          assert.deepEqual(await exit, { code: i, signal: null }, `helper ${i} of chain ${chain}`);
        }
      }),
    );
  } finally {
    sweeping = false;
  }
  assert.ok(sweeps > 10, `the sweep ran (${sweeps} times)`);
});
