/**
 * zchan: inter-zone channels from the shell, inside zones and in the global zone.
 *
 *   zchan offer NAME -- PROGRAM [ARG...]   run PROGRAM per call, the channel as its
 *                                          stdin and stdout, the caller in ZCHAN_* env
 *   zchan call ZONE NAME                   connect stdin and stdout to ZONE's service
 *   zchan publish CHANNEL [MESSAGE]        one event on this zone's channel (stdin if
 *                                          no MESSAGE)
 *   zchan subscribe [-n COUNT] CHANNEL     print "FROM<TAB>MESSAGE" per event
 *   zchan post ZONE CHANNEL MESSAGE        global zone, root: a fault or error event
 *                                          into ZONE's channel (through zoneadmd)
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { call as daemonCall } from "../daemon/client.js";
import { call, offer, publish, socketOf, subscribe, type Caller } from "../daemon/channel.js";
import { EXIT_USAGE, UsageError, ZoneError } from "../native/errors.js";
import { zonePaths } from "../document/store/paths.js";
import { printable } from "../native/printable.js";

const USAGE = `usage: zchan offer NAME -- PROGRAM [ARG...]
       zchan call ZONE NAME
       zchan publish CHANNEL [MESSAGE]
       zchan subscribe [-n COUNT] CHANNEL
       zchan post ZONE CHANNEL MESSAGE`;

function callerEnv(c: Caller): Record<string, string> {
  return {
    ZCHAN_SERVICE: c.service,
    ZCHAN_CALLER_ZONE: c.zone,
    ZCHAN_CALLER_ZONEID: String(c.zoneId),
    ZCHAN_CALLER_UID: String(c.uid),
    ZCHAN_CALLER_GID: String(c.gid),
    ZCHAN_CALLER_PID: String(c.pid),
  };
}

async function cmdOffer(args: string[]): Promise<number> {
  const sep = args.indexOf("--");
  const name = args[0];
  const prog = sep >= 0 ? args.slice(sep + 1) : args.slice(1);
  if (!name || (sep >= 0 && sep !== 1) || prog.length === 0) throw new UsageError("offer needs a service name and a program: zchan offer NAME -- PROGRAM [ARG...]");
  let warned = false;
  const o = offer(
    name,
    (fd, caller) => {
      const child = spawn(prog[0]!, prog.slice(1), { stdio: [fd, fd, "inherit"], env: { ...process.env, ...callerEnv(caller) } });
      child.on("error", (e) => process.stderr.write(`zchan: service "${name}": cannot run ${JSON.stringify(prog[0])}: ${e.message}\n`));
      // The child has its copy (stdin and stdout); ours would keep the channel open.
      fs.closeSync(fd);
    },
    {
      onRegistered: () => (warned = false),
      onRetry: (why) => {
        if (!warned) process.stderr.write(`zchan: service "${name}": ${why}; retrying\n`);
        warned = true;
      },
    },
  );
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
  await o.done;
  return 0;
}

async function cmdCall(args: string[]): Promise<number> {
  if (args.length !== 2) throw new UsageError("call needs a zone and a service: zchan call ZONE NAME");
  const r = await call(args[0]!, args[1]!);
  const s = socketOf(r.fd);
  process.stdin.pipe(s);
  s.pipe(process.stdout);
  await new Promise<void>((resolve) => {
    s.on("error", () => resolve());
    s.on("close", () => resolve());
    s.on("end", () => resolve());
  });
  process.stdin.destroy();
  return 0;
}

async function readStdin(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const d of process.stdin) parts.push(d as Buffer);
  return Buffer.concat(parts);
}

async function cmdPublish(args: string[]): Promise<number> {
  if (args.length < 1 || args.length > 2) throw new UsageError("publish needs a channel: zchan publish CHANNEL [MESSAGE]");
  await publish(args[0]!, args[1] ?? (await readStdin()));
  return 0;
}

async function cmdSubscribe(args: string[]): Promise<number> {
  let count = Infinity;
  if (args[0] === "-n") {
    count = Number(args[1]);
    if (!Number.isInteger(count) || count < 1) throw new UsageError(`-n needs a positive count: ${JSON.stringify(args[1] ?? "")}`);
    args = args.slice(2);
  }
  if (args.length !== 1) throw new UsageError("subscribe needs a channel: zchan subscribe [-n COUNT] CHANNEL");
  let seen = 0;
  const sub = subscribe(
    args[0]!,
    (e) => {
      // The payload is another process's bytes (a zone's, or the global zone's): one
      // escaped line per event, so events cannot forge lines or reach the terminal raw.
      const data = e.data[e.data.length - 1] === 0x0a ? e.data.subarray(0, e.data.length - 1) : e.data;
      process.stdout.write(`${printable(e.from)}\t${printable(data)}\n`);
      if (++seen >= count) sub.close();
    },
    // Tests and scripts wait for this line before publishing.
    { onRegistered: () => process.stderr.write(`zchan: subscribed to "${args[0]}"\n`) },
  );
  await sub.done;
  return 0;
}

async function cmdPost(args: string[]): Promise<number> {
  if (args.length !== 3) throw new UsageError("post needs a zone, a channel and a message: zchan post ZONE CHANNEL MESSAGE");
  const paths = zonePaths();
  if (!fs.existsSync(`${paths.runDir}/zoneadmd.sock`) && fs.existsSync("/etc/zonename"))
    throw new ZoneError("post is for the global zone: zones cannot post into another zone's channels");
  const reply = await daemonCall(paths, { op: "post", zone: args[0]!, channel: args[1]!, message: args[2]! });
  if (!reply.ok) throw new ZoneError(reply.error);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "offer":
      return cmdOffer(rest);
    case "call":
      return cmdCall(rest);
    case "publish":
      return cmdPublish(rest);
    case "subscribe":
      return cmdSubscribe(rest);
    case "post":
      return cmdPost(rest);
    default:
      process.stderr.write(`${USAGE}\n`);
      return EXIT_USAGE;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Worker threads blocked in recvmsg must not keep the process alive.
    if (code !== 0 || process.argv[2] !== "offer") setImmediate(() => process.exit(code));
  },
  (e: Error) => {
    process.stderr.write(`zchan: ${e.message}\n`);
    process.exit(e instanceof ZoneError ? e.exitCode : 1);
  },
);
