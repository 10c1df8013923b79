/**
 * Inter-zone channels for programs in zones (and in the global zone): offer a service,
 * call another zone's service, publish and subscribe on the zone's event channels.
 * The broker is zoneadmd (src/daemon/broker.ts); the protocol is
 * docs/channel-protocol.md. A call ends with a plain connected UNIX socket between
 * caller and server — the broker hands each side one end of a socketpair — so this
 * library only needs descriptor passing (koffi recvmsg) on the broker connection.
 *
 * Node's own sockets read ahead and drop descriptors sent with SCM_RIGHTS, so the
 * connections that receive one (CALL, OFFER) are raw blocking sockets read by recvmsg
 * on a worker thread; event channels carry no descriptors and use net.Socket.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { ZoneError, q } from "../native/errors.js";
import { zonePaths } from "../document/store/paths.js";
import { AF_UNIX, MSG_CMSG_CLOEXEC, SOCK_CLOEXEC, SOCK_STREAM, errnoText, sys } from "../native/sys.js";
import { rightsIn } from "../native/fdpass.js";

const SHUT_RDWR = 2;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * The broker's socket: /run/zones/broker.sock inside a zone and in the global zone of
 * a standard install ($ZONES_ROOT/run/zones/broker.sock under a ZONES_ROOT);
 * ZONES_BROKER overrides.
 */
export function brokerPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.ZONES_BROKER ?? path.join(zonePaths(env).runDir, "broker.sock");
}

/** Who called: every field comes from the kernel through the broker. */
export interface Caller {
  service: string;
  zone: string;
  zoneId: number;
  /** uid and gid inside the caller's zone (host ids for the global zone). */
  uid: number;
  gid: number;
  /** pid as seen in the caller's zone. */
  pid: number;
}

function checkName(what: string, name: string): void {
  if (!NAME.test(name)) throw new ZoneError(`invalid ${what} name ${q(name)}: 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit`);
}

/** A blocking, close-on-exec UNIX stream socket connected to `socketPath`. */
function connectRaw(socketPath: string): number {
  const s = sys();
  const fd = s.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new ZoneError(`socket: ${errnoText(s.errno())}`);
  const p = Buffer.from(socketPath);
  if (p.length > 107) throw new ZoneError(`broker socket path is longer than 107 bytes: ${q(socketPath)}`);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  p.copy(addr, 2);
  if (s.connect(fd, addr, 2 + p.length + 1) !== 0) {
    const e = s.errno();
    fs.closeSync(fd);
    const err = new ZoneError(`cannot reach the zone broker at ${socketPath}: ${errnoText(e)}`);
    (err as ZoneError & { code?: string }).code = errnoText(e);
    throw err;
  }
  return fd;
}

/** One recvmsg on a worker thread: the bytes, and the descriptors that came with them. */
function recvAsync(fd: number): Promise<{ data: Buffer; fds: number[] }> {
  const data = Buffer.alloc(4096);
  const control = Buffer.alloc(256);
  const msg = { msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: data.length }], msg_iovlen: 1, msg_control: control, msg_controllen: control.length, msg_flags: 0 };
  return new Promise((resolve, reject) => {
    sys().recvmsgAsync(fd, msg, MSG_CMSG_CLOEXEC, (err, r) => {
      if (err) return reject(err instanceof Error ? err : new ZoneError(String(err)));
      const n = Number(r);
      if (n < 0) return reject(new ZoneError(`recvmsg from the zone broker: ${errnoText(sys().errno())}`));
      const fds = rightsIn(control, Number(msg.msg_controllen));
      resolve({ data: data.subarray(0, n), fds });
    });
  });
}

/** Lines from a raw socket, each with the descriptors that arrived by the time it ended. */
class LineReader {
  private buf = Buffer.alloc(0);
  private readonly fds: number[] = [];
  eof = false;

  constructor(readonly fd: number) {}

  /** The next line (without "\n"), or undefined at end of stream. */
  async line(): Promise<string | undefined> {
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0) {
        const l = this.buf.subarray(0, nl).toString("utf8");
        this.buf = this.buf.subarray(nl + 1);
        return l;
      }
      if (this.eof) return undefined;
      const { data, fds } = await recvAsync(this.fd);
      this.fds.push(...fds);
      if (data.length === 0) this.eof = true;
      else this.buf = Buffer.concat([this.buf, data]);
    }
  }

  /** The descriptor sent with the line just read (the broker sends one per such line). */
  takeFd(): number | undefined {
    return this.fds.shift();
  }

  closeExtra(): void {
    for (const fd of this.fds.splice(0)) fs.closeSync(fd);
  }
}

function writeAll(fd: number, text: string): void {
  const b = Buffer.from(text);
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off);
}

function brokerError(line: string | undefined, what: string): ZoneError {
  if (line === undefined) return new ZoneError(`the zone broker closed the connection during ${what}`);
  return new ZoneError(line.startsWith("ERR ") ? line.slice(4) : `unexpected reply from the zone broker: ${q(line.slice(0, 80))}`);
}

export interface CallResult {
  /** A connected UNIX stream socket to the server; the caller owns it. */
  fd: number;
  zone: string;
  zoneId: number;
}

/** Call `service` of `zone` ("global" cannot offer): a direct socket, or a ZoneError saying why not. */
export async function call(zone: string, service: string, socketPath = brokerPath()): Promise<CallResult> {
  checkName("zone", zone);
  checkName("service", service);
  const fd = connectRaw(socketPath);
  const r = new LineReader(fd);
  try {
    writeAll(fd, `CALL ${zone} ${service}\n`);
    const line = await r.line();
    const m = line === undefined ? null : /^OK (\S+) ([0-9]+)$/.exec(line);
    const got = m ? r.takeFd() : undefined;
    if (!m || got === undefined) throw brokerError(line, `a call of service ${q(service)} of zone '${zone}'`);
    return { fd: got, zone: m[1]!, zoneId: Number(m[2]) };
  } finally {
    r.closeExtra();
    fs.closeSync(fd);
  }
}

/** A net.Socket over a descriptor from call() or an offer: it takes the descriptor over. */
export function socketOf(fd: number): net.Socket {
  return new net.Socket({ fd, readable: true, writable: true });
}

export interface OfferOptions {
  socketPath?: string;
  /** Told each time the service is registered (again, after a broker restart). */
  onRegistered?: () => void;
  /** Told when the broker cannot be reached or dropped the registration; it retries. */
  onRetry?: (why: string) => void;
}

export interface Offer {
  /** Stop offering; settles when the registration is closed. */
  close(): void;
  /** Settles when the offer ends: closed, or refused by the broker (rejects). */
  done: Promise<void>;
}

/**
 * Offer `service` to callers the zone's configuration allows. Each permitted call
 * gives `onCall` a connected socket (which it owns) and the caller's credentials.
 * The registration is remade automatically when the broker restarts.
 */
export function offer(service: string, onCall: (fd: number, caller: Caller) => void, opts: OfferOptions = {}): Offer {
  checkName("service", service);
  const socketPath = opts.socketPath ?? brokerPath();
  let closed = false;
  let current = -1;
  const done = (async () => {
    let delay = 50;
    while (!closed) {
      let fd: number;
      try {
        fd = connectRaw(socketPath);
      } catch (e) {
        opts.onRetry?.((e as Error).message);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1000);
        continue;
      }
      current = fd;
      const r = new LineReader(fd);
      try {
        writeAll(fd, `OFFER ${service}\n`);
        const ok = await r.line();
        if (ok === undefined) throw new Error("the broker closed the connection");
        // A refusal (a bad name) will not change by retrying.
        if (ok !== "OK") throw brokerError(ok, `the offer of service ${q(service)}`);
        delay = 50;
        opts.onRegistered?.();
        for (;;) {
          const line = await r.line();
          if (line === undefined) break;
          const m = /^CALL (\S+) (\S+) ([0-9]+) ([0-9]+) ([0-9]+) ([0-9]+)$/.exec(line);
          const got = r.takeFd();
          if (!m || got === undefined) {
            if (got !== undefined) fs.closeSync(got);
            continue;
          }
          onCall(got, { service: m[1]!, zone: m[2]!, zoneId: Number(m[3]), uid: Number(m[4]), gid: Number(m[5]), pid: Number(m[6]) });
        }
      } catch (e) {
        if (e instanceof ZoneError) {
          closed = true;
          throw e;
        }
      } finally {
        r.closeExtra();
        current = -1;
        fs.closeSync(fd);
      }
      if (!closed) {
        opts.onRetry?.("the broker dropped the registration");
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  })();
  return {
    close() {
      closed = true;
      // Wakes the worker thread blocked in recvmsg with an end of stream.
      if (current >= 0) sys().shutdown(current, SHUT_RDWR);
    },
    done,
  };
}

export interface ChannelEvent {
  channel: string;
  /** The zone that published it: the subscriber's own zone, or "global". */
  from: string;
  data: Buffer;
}

function connectNet(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath);
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", (e) => reject(new ZoneError(`cannot reach the zone broker at ${socketPath}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
  });
}

/** Publish one event on the zone's `channel`; resolves to the number of subscribers reached. */
export async function publish(channel: string, data: Buffer | string, socketPath = brokerPath()): Promise<number> {
  checkName("channel", channel);
  const payload = Buffer.from(data);
  const s = await connectNet(socketPath);
  return new Promise((resolve, reject) => {
    let buf = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      s.destroy();
      const m = /^OK ([0-9]+)$/.exec(line);
      if (m) resolve(Number(m[1]));
      else reject(brokerError(line, `a publish on channel ${q(channel)}`));
    });
    s.on("close", () => reject(brokerError(undefined, `a publish on channel ${q(channel)}`)));
    s.on("error", () => undefined);
    s.write(Buffer.concat([Buffer.from(`PUB ${channel} ${payload.length}\n`), payload]));
  });
}

export interface Subscription {
  close(): void;
  /** Settles when closed; rejects when the broker refuses the subscription. */
  done: Promise<void>;
}

/** Receive the events of the zone's `channel`; resubscribes after a broker restart. */
export function subscribe(channel: string, onEvent: (e: ChannelEvent) => void, opts: OfferOptions = {}): Subscription {
  checkName("channel", channel);
  const socketPath = opts.socketPath ?? brokerPath();
  let closed = false;
  let sock: net.Socket | undefined;
  const once = (): Promise<"retry"> =>
    new Promise((resolve, reject) => {
      connectNet(socketPath).then(
        (s) => {
          sock = s;
          let buf = Buffer.alloc(0);
          let subscribed = false;
          s.write(`SUB ${channel}\n`);
          s.on("data", (d: Buffer) => {
            buf = Buffer.concat([buf, d]);
            for (;;) {
              const nl = buf.indexOf(0x0a);
              if (nl < 0) return;
              const line = buf.subarray(0, nl).toString("utf8");
              if (!subscribed) {
                if (line !== "OK") {
                  s.destroy();
                  return reject(brokerError(line, `a subscription to channel ${q(channel)}`));
                }
                subscribed = true;
                buf = buf.subarray(nl + 1);
                opts.onRegistered?.();
                continue;
              }
              const m = /^EVENT (\S+) (\S+) ([0-9]+)$/.exec(line);
              if (!m) return void s.destroy();
              const n = Number(m[3]);
              if (buf.length < nl + 1 + n) return;
              const data = Buffer.from(buf.subarray(nl + 1, nl + 1 + n));
              buf = buf.subarray(nl + 1 + n);
              onEvent({ channel: m[1]!, from: m[2]!, data });
            }
          });
          s.on("error", () => undefined);
          s.on("close", () => resolve("retry"));
        },
        (e: Error) => {
          opts.onRetry?.(e.message);
          setTimeout(() => resolve("retry"), 200);
        },
      );
    });
  const done = (async () => {
    while (!closed) await once();
  })();
  return {
    close() {
      closed = true;
      sock?.destroy();
    },
    done,
  };
}
