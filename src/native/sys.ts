/**
 * The few libc calls Node lacks, through koffi (prebuilt FFI, no compiler). Loaded on
 * first use: koffi costs ~20 ms to load and most commands never need it.
 */
import { createRequire } from "node:module";
import * as os from "node:os";

interface KoffiType {
  readonly __koffiType: unique symbol;
}
interface Koffi {
  load(lib: string): { func(sig: string): (...args: unknown[]) => unknown };
  struct(name: string, def: Record<string, string>): KoffiType;
  pointer(t: KoffiType): KoffiType;
  sizeof(t: KoffiType): number;
  decode(ptr: unknown, type: string): number;
}

interface Libc {
  koffi: Koffi;
  flock(fd: number, op: number): number;
  umount2(target: string, flags: number): number;
  /** dev: makedev(major, minor) as glibc packs it. */
  mknod(path: string, mode: number, dev: bigint): number;
  prctl(option: number, arg: number, a3: number, a4: number, a5: number): number;
  /** status: a one-element array that receives the wait status. */
  waitpid(pid: number, status: number[], options: number): number;
  errno(): number;
  syscall: (...args: unknown[]) => unknown;
  mountAttr: KoffiType;
  recvmsg(fd: number, msg: object, flags: number): number | bigint;
  /** Sockets for the inter-zone broker (src/daemon/broker.ts, src/daemon/channel.ts). */
  socket(domain: number, type: number, protocol: number): number;
  /** addr: a struct sockaddr in a Buffer. */
  connect(fd: number, addr: Buffer, len: number): number;
  /** sv: an 8-byte Buffer that receives the two fds. */
  socketpair(domain: number, type: number, protocol: number, sv: Buffer): number;
  /** val: a Buffer; len: a one-element array, in and out. */
  getsockopt(fd: number, level: number, name: number, val: Buffer, len: number[]): number;
  sendmsg(fd: number, msg: object, flags: number): number | bigint;
  shutdown(fd: number, how: number): number;
  /** recvmsg on a worker thread, for sockets that wait long for a message. */
  recvmsgAsync(fd: number, msg: object, flags: number, cb: (err: unknown, n: number | bigint) => void): void;
  /** buf: a Buffer of at least sizeof(struct statvfs), 112 bytes. */
  statvfs(path: string, buf: Buffer): number;
  /** ioctl(fd, TIOCSWINSZ, {rows, cols}) */
  setWinsize(fd: number, rows: number, cols: number): number;
}

let libc: Libc | undefined;

export function sys(): Libc {
  if (!libc) {
    const koffi = createRequire(import.meta.url)("koffi") as Koffi;
    const c = koffi.load("libc.so.6");
    const errnoLocation = c.func("int *__errno_location()");
    libc = {
      koffi,
      flock: c.func("int flock(int fd, int op)") as Libc["flock"],
      umount2: c.func("int umount2(const char *target, int flags)") as Libc["umount2"],
      mknod: c.func("int mknod(const char *path, uint32 mode, uint64 dev)") as Libc["mknod"],
      prctl: c.func("int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)") as Libc["prctl"],
      waitpid: c.func("int waitpid(int pid, _Out_ int *status, int options)") as Libc["waitpid"],
      errno: () => koffi.decode(errnoLocation(), "int"),
      syscall: c.func("long syscall(long number, ...)"),
      mountAttr: koffi.struct("mount_attr", { attr_set: "uint64", attr_clr: "uint64", propagation: "uint64", userns_fd: "uint64" }),
      recvmsg: (() => {
        koffi.struct("iovec", { iov_base: "void *", iov_len: "size_t" });
        koffi.struct("msghdr", { msg_name: "void *", msg_namelen: "uint32", msg_iov: "iovec *", msg_iovlen: "size_t", msg_control: "void *", msg_controllen: "size_t", msg_flags: "int" });
        return c.func("long recvmsg(int fd, _Inout_ msghdr *msg, int flags)") as Libc["recvmsg"];
      })(),
      statvfs: c.func("int statvfs(const char *path, void *buf)") as Libc["statvfs"],
      socket: c.func("int socket(int domain, int type, int protocol)") as Libc["socket"],
      connect: c.func("int connect(int fd, void *addr, uint32 len)") as Libc["connect"],
      socketpair: c.func("int socketpair(int domain, int type, int protocol, void *sv)") as Libc["socketpair"],
      getsockopt: c.func("int getsockopt(int fd, int level, int name, void *val, _Inout_ uint32 *len)") as Libc["getsockopt"],
      sendmsg: c.func("long sendmsg(int fd, msghdr *msg, int flags)") as Libc["sendmsg"],
      shutdown: c.func("int shutdown(int fd, int how)") as Libc["shutdown"],
      recvmsgAsync: (() => {
        const f = c.func("long recvmsg(int fd, _Inout_ msghdr *msg, int flags)") as unknown as { async: (...a: unknown[]) => void };
        return (fd: number, msg: object, flags: number, cb: (err: unknown, n: number | bigint) => void) => f.async(fd, msg, flags, cb);
      })(),
      setWinsize: (() => {
        koffi.struct("winsize", { ws_row: "uint16", ws_col: "uint16", ws_xpixel: "uint16", ws_ypixel: "uint16" });
        const ioctl = c.func("int ioctl(int fd, unsigned long req, winsize *ws)");
        const TIOCSWINSZ = 0x5414;
        return (fd: number, rows: number, cols: number) => ioctl(fd, TIOCSWINSZ, { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 }) as number;
      })(),
    };
  }
  return libc;
}

/** "EPERM (1)" style text for an errno value. */
export function errnoText(n: number): string {
  const name = Object.entries(os.constants.errno).find(([, v]) => v === n)?.[0];
  return name ? `${name}` : `errno ${n}`;
}

/** Socket constants of the Linux ABI, shared by the code that passes descriptors. */
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
export const MSG_CMSG_CLOEXEC = 0x40000000;
