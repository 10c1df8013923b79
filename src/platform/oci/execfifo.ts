/**
 * runc's `start` without runc's process. A created runc container's init waits,
 * before it execs the zone's init, to open the container's exec FIFO
 * (<state>/<id>/exec.fifo) for writing; `runc start` opens it for reading, reads the
 * byte init writes, and removes it (the runtime then reports the container running,
 * not created). That is all it does for a container without hooks, and it costs a Go
 * binary's start (15-35 ms on a loaded host, before the zone's init may run). Done
 * here with the same steps, and the same order: open, read, remove.
 *
 * Only where the FIFO is found as runc leaves it (a FIFO, in our own host-only state
 * directory): otherwise the caller runs `runc start`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";

/** How long init may take to reach its FIFO after create returned (it is well past it then). */
const WAIT_MS = 10_000;

/**
 * Let container `id`'s init (host pid `pid`) exec, through its FIFO under `stateDir`.
 * False if there is no such FIFO (the caller runs the runtime's own `start`).
 */
export async function startThroughFifo(stateDir: string, id: string, pid: number): Promise<boolean> {
  const fifo = path.join(stateDir, id, "exec.fifo");
  try {
    if (!fs.lstatSync(fifo).isFIFO()) return false;
  } catch {
    return false;
  }
  // Non-blocking: an init that died never opens its end, and a blocking open would wait
  // for it forever. Opened, init's own open returns and it writes its byte.
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(16);
    const read = (): number => {
      try {
        return fs.readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw new ZoneError(`container ${q(id)}: reading its exec FIFO: ${(err as Error).message}`);
        return 0;
      }
    };
    const end = Date.now() + WAIT_MS;
    for (;;) {
      if (read() > 0) break;
      // Nothing yet (EAGAIN), or no writer yet (0): init has not reached its open. Or it
      // wrote its byte, exec'd a zone init that ended at once, all since that read: the
      // byte is still in the FIFO, and the zone did start.
      if (!alive(pid) && read() > 0) break;
      if (!alive(pid)) throw new ZoneError(`container ${q(id)}: its init ${pid} ended before it started`);
      if (Date.now() > end) throw new ZoneError(`container ${q(id)}: its init ${pid} did not open its exec FIFO in ${WAIT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 1));
    }
    // As runc does: without the FIFO the runtime reports the container running.
    fs.unlinkSync(fifo);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}
