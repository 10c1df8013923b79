/**
 * Loop devices without losetup(8): LOOP_CTL_GET_FREE, then LOOP_CONFIGURE with
 * LO_FLAGS_AUTOCLEAR set from the start, so the device lives exactly as long as its
 * users: the descriptor returned here, then the mounts made from it. A process killed
 * at any point leaves no attached device behind. Two spawns of losetup cost ~10 ms.
 */
import * as fs from "node:fs";
import { ZoneError, q } from "./errors.js";
import { errnoText, sys } from "./sys.js";

const SYS_IOCTL: Partial<Record<string, number>> = { x64: 16, arm64: 29 };
const LOOP_CTL_GET_FREE = 0x4c82;
const LOOP_CONFIGURE = 0x4c0a;
const LO_FLAGS_READ_ONLY = 1;
const LO_FLAGS_AUTOCLEAR = 4;
/** struct loop_config: fd, block_size, struct loop_info64 (232 bytes), __reserved[8]. */
const CONFIG_SIZE = 8 + 232 + 64;
const FLAGS_OFFSET = 8 + 52;
const EBUSY = 16;

function ioctl(fd: number, req: number, arg: Buffer | null): number {
  const nr = SYS_IOCTL[process.arch];
  if (nr === undefined) throw new ZoneError(`loop devices: no ioctl syscall number for ${process.arch}`);
  return Number(sys().syscall(nr, "int", fd, "ulong", req, "void *", arg));
}

/**
 * Attach `file` to a free loop device, read-only if asked. Returns the device path and
 * an open descriptor of it: close it once the device is mounted (or not needed), and
 * the kernel detaches the device when its last user goes.
 */
export function attachLoop(file: string, readonly: boolean): { dev: string; fd: number } {
  const backing = fs.openSync(file, readonly ? fs.constants.O_RDONLY : fs.constants.O_RDWR);
  try {
    const ctl = fs.openSync("/dev/loop-control", fs.constants.O_RDWR);
    try {
      // Another process may take the free device first: LOOP_CONFIGURE says EBUSY then.
      for (let attempt = 0; attempt < 20; attempt++) {
        const n = ioctl(ctl, LOOP_CTL_GET_FREE, null);
        if (n < 0) throw new ZoneError(`cannot find a free loop device for ${q(file)}: ${errnoText(sys().errno())}`);
        const dev = `/dev/loop${n}`;
        const fd = fs.openSync(dev, readonly ? fs.constants.O_RDONLY : fs.constants.O_RDWR);
        const cfg = Buffer.alloc(CONFIG_SIZE);
        cfg.writeUInt32LE(backing, 0);
        cfg.writeUInt32LE(LO_FLAGS_AUTOCLEAR | (readonly ? LO_FLAGS_READ_ONLY : 0), FLAGS_OFFSET);
        if (ioctl(fd, LOOP_CONFIGURE, cfg) === 0) return { dev, fd };
        const e = sys().errno();
        fs.closeSync(fd);
        if (e !== EBUSY) throw new ZoneError(`cannot attach ${q(file)} to ${dev}: ${errnoText(e)}`);
      }
      throw new ZoneError(`cannot attach ${q(file)} to a loop device: every free one was taken meanwhile`);
    } finally {
      fs.closeSync(ctl);
    }
  } finally {
    fs.closeSync(backing); // the device holds the file now
  }
}
