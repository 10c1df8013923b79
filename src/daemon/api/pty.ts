/**
 * A host pseudo-terminal for the API's interactive streams (exec with "interactive",
 * login): the runtime gets the slave as its stdin, stdout and stderr, exactly as it
 * gets root's terminal from zlogin, and relays it to the pty it makes in the zone (its
 * own /dev/pts); zoneadmd keeps the master. A window size is set on the master and
 * passed on with SIGWINCH to the runtime, which reads it from its stdin.
 */
import * as fs from "node:fs";
import { ZoneError } from "../../native/errors.js";
import { errnoText, sys } from "../../native/sys.js";

const SYS_IOCTL = 16;
const TIOCSPTLCK = 0x40045431;
const TIOCGPTPEER = 0x5441;
const O_NOCTTY = 0o400;
const O_CLOEXEC = 0o2000000;

export interface Pty {
  master: number;
  slave: number;
}

/** A fresh pty pair from /dev/ptmx, the slave opened from the master (no path lookup). */
export function openPty(rows: number, cols: number): Pty {
  const master = fs.openSync("/dev/ptmx", fs.constants.O_RDWR | O_NOCTTY | O_CLOEXEC);
  const s = sys();
  try {
    const unlock = Buffer.alloc(4);
    if (Number(s.syscall(SYS_IOCTL, "int", master, "ulong", TIOCSPTLCK, "void *", unlock)) !== 0) throw new ZoneError(`pty: cannot unlock /dev/ptmx: ${errnoText(s.errno())}`);
    const slave = Number(s.syscall(SYS_IOCTL, "int", master, "ulong", TIOCGPTPEER, "int", fs.constants.O_RDWR | O_NOCTTY));
    if (slave < 0) throw new ZoneError(`pty: cannot open the slave: ${errnoText(s.errno())}`);
    resizePty(master, rows, cols);
    return { master, slave };
  } catch (e) {
    fs.closeSync(master);
    throw e;
  }
}

export function resizePty(master: number, rows: number, cols: number): void {
  if (sys().setWinsize(master, rows, cols) !== 0) throw new ZoneError(`pty: cannot set the window size ${cols}x${rows}: ${errnoText(sys().errno())}`);
}
