/**
 * A hostile client of the admin socket, run as a test's host user: it sends exactly
 * the line it is given (and, with --dir-stdin, a directory's descriptor among three
 * in SCM_RIGHTS; with --stdio, its own three), answers "accepted" with "go", and prints
 * whatever comes back.
 *   node rawclient.js SOCKET LINE [--dir-stdin | --stdio] [--no-newline] [--silent]
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { AF_UNIX, SCM_RIGHTS, SOCK_CLOEXEC, SOCK_STREAM, SOL_SOCKET, sys } from "../../../src/native/sys.js";

const [sock, line, ...flags] = process.argv.slice(2) as [string, string, ...string[]];
const text = flags.includes("--no-newline") ? line : `${line}\n`;
const out = (d: string): void => void process.stdout.write(d);

if (flags.includes("--dir-stdin") || flags.includes("--stdio")) {
  const s = sys();
  const fd = s.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  Buffer.from(sock).copy(addr, 2);
  if (s.connect(fd, addr, 2 + Buffer.byteLength(sock) + 1) !== 0) throw new Error("connect failed");
  const dir = flags.includes("--stdio") ? 0 : fs.openSync("/", fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const control = Buffer.alloc(32);
  control.writeBigUInt64LE(28n, 0);
  control.writeInt32LE(SOL_SOCKET, 8);
  control.writeInt32LE(SCM_RIGHTS, 12);
  [dir, 1, 2].forEach((d, i) => control.writeInt32LE(d, 16 + 4 * i));
  const data = Buffer.from(text);
  s.sendmsg(fd, { msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: data.length }], msg_iovlen: 1, msg_control: control, msg_controllen: 32, msg_flags: 0 }, 0);
  const c = new net.Socket({ fd, readable: true, writable: true });
  c.setEncoding("utf8");
  c.on("data", out);
  c.on("error", () => undefined);
} else {
  const c = net.createConnection(sock);
  let said = false;
  c.setEncoding("utf8");
  c.on("connect", () => c.write(text));
  c.on("data", (d: string) => {
    out(d);
    if (!said && d.includes('{"accepted":true}\n')) {
      said = true;
      c.write("go\n");
    }
  });
  c.on("error", (e) => out(`error ${e.message}\n`));
  c.on("close", () => out("closed\n"));
}
setTimeout(() => process.exit(0), 15_000).unref();
