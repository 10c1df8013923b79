/**
 * A host pseudo-terminal for a runtime's interactive exec: the runtime gets the slave
 * as its stdin (the API's exec and login streams: as its stdout and stderr too) and
 * relays it to the pty it makes in the zone (its own /dev/pts); the caller keeps the
 * master. A window size is set on the master and passed on with SIGWINCH to the
 * runtime, which reads it from its stdin. zlogin uses one too (cmd/zlogin/keypty.ts),
 * where it filters the keys for `~.`.
 */
import * as fs from "node:fs";
import { ZoneError } from "./errors.js";
import { errnoText, sys } from "./sys.js";

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

const TCGETS = 0x5401;
const TCSETS = 0x5402;
// struct termios as the kernel's TCGETS has it: four flag words, c_line, c_cc[19].
const TERMIOS_SIZE = 36;
const [IFLAG, OFLAG, CFLAG, LFLAG, CC] = [0, 4, 8, 12, 17];
const [IGNBRK, BRKINT, PARMRK, ISTRIP, INLCR, IGNCR, ICRNL, IXON] = [0o1, 0o2, 0o10, 0o40, 0o100, 0o200, 0o400, 0o2000];
const OPOST = 0o1;
const [CSIZE, CS8, PARENB] = [0o60, 0o60, 0o400];
const [ISIG, ICANON, ECHO, ECHONL, IEXTEN] = [0o1, 0o2, 0o10, 0o100, 0o100000];
const [VTIME, VMIN] = [5, 6];

/**
 * Terminal `fd` fully raw, as cfmakeraw(3) makes it: bytes pass both ways untouched,
 * output too (no CR added before LF: the zone's own pty has added it). Node's
 * setRawMode keeps output processing on.
 */
export function makeRaw(fd: number): void {
  const s = sys();
  const t = Buffer.alloc(TERMIOS_SIZE);
  if (Number(s.syscall(SYS_IOCTL, "int", fd, "ulong", TCGETS, "void *", t)) !== 0) throw new ZoneError(`pty: cannot read the terminal's modes: ${errnoText(s.errno())}`);
  t.writeUInt32LE(t.readUInt32LE(IFLAG) & ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON), IFLAG);
  t.writeUInt32LE(t.readUInt32LE(OFLAG) & ~OPOST, OFLAG);
  t.writeUInt32LE((t.readUInt32LE(CFLAG) & ~(CSIZE | PARENB)) | CS8, CFLAG);
  t.writeUInt32LE(t.readUInt32LE(LFLAG) & ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN), LFLAG);
  t[CC + VMIN] = 1;
  t[CC + VTIME] = 0;
  if (Number(s.syscall(SYS_IOCTL, "int", fd, "ulong", TCSETS, "void *", t)) !== 0) throw new ZoneError(`pty: cannot make the terminal raw: ${errnoText(s.errno())}`);
}
