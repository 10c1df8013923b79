/**
 * POST /1.0/zones/<name>/exec, Incus's shape: a command run in the zone exactly as
 * `zlogin zone cmd…` runs it (login.ts startLogin: the zone's process template, its
 * namespaces, cgroup and limits, as the zone's root), as an operation.
 *
 * Body: {"command":[…], "environment":{…}, "interactive":bool, "width":N, "height":N,
 * "wait-for-websocket":bool, "record-output":bool}.
 *
 *  - wait-for-websocket true: the operation's metadata is {"fds":{…}} with one secret
 *    per stream: "0" (the pty, both ways) and "control" when interactive, else "0"
 *    (stdin), "1" (stdout), "2" (stderr) and "control". The client connects each with
 *    GET /1.0/operations/<id>/websocket?secret=S; the command starts once every data
 *    stream is connected (within CONNECT_MS). On stdin a zero-length message or the
 *    socket's close is end of file. Control carries control.ts messages
 *    (window-resize, signal).
 *  - wait-for-websocket false: stdin is empty; with record-output the operation's
 *    metadata ends as {"return":N,"output":{"1":stdout,"2":stderr}} (UTF-8 text, each
 *    cut at MAX_RECORD bytes), without it as {"return":N}.
 *
 * In every form the metadata ends with "return", the command's exit status as a shell
 * reports it (128+N for a signal).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type * as http from "node:http";
import type * as net from "node:net";
import type { ChildProcess, StdioOptions } from "node:child_process";
import { shellStatus, startLogin } from "../login.js";
import type { Api } from "./api.js";
import { dimension, parseControl } from "./control.js";
import { errorEnvelope } from "./envelope.js";
import { ApiError, badRequest } from "./errors.js";
import type { Caller, Router } from "./router.js";
import { Terminal, type Starter } from "./terminal.js";
import { acceptWebSocket, handshakeProblem, refuseUpgrade, type WebSocket } from "./websocket.js";
import { entryOf, zoneUrl } from "./zones.js";

const CONNECT_MS = 30_000;
const MAX_RECORD = 1024 * 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const WEBSOCKET_PATH = /^\/1\.0\/operations\/([0-9a-f-]{36})\/websocket$/;

export interface ExecRequest {
  command: string[];
  env: string[];
  interactive: boolean;
  width: number;
  height: number;
  waitForWebsocket: boolean;
  recordOutput: boolean;
}

/** The exec body, checked; 400 with the reason otherwise. */
export function parseExec(b: Record<string, unknown>): ExecRequest {
  const command = b.command;
  if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === "string" && !a.includes("\0")))
    throw badRequest(`exec: "command" must be a non-empty array of strings, not ${JSON.stringify(command)?.slice(0, 80)}`);
  const env: string[] = [];
  const e = b.environment ?? {};
  if (typeof e !== "object" || e === null || Array.isArray(e)) throw badRequest(`exec: "environment" must be an object of strings`);
  for (const [k, v] of Object.entries(e)) {
    if (!ENV_NAME.test(k)) throw badRequest(`exec: environment variable name ${JSON.stringify(k)} is not valid`);
    if (typeof v !== "string" || v.includes("\0")) throw badRequest(`exec: environment variable ${k} must be a string without NUL`);
    env.push(`${k}=${v}`);
  }
  const flag = (k: string, dflt: boolean): boolean => {
    const v = b[k] ?? dflt;
    if (typeof v !== "boolean") throw badRequest(`exec: "${k}" must be true or false, not ${JSON.stringify(v)}`);
    return v;
  };
  const size = (k: string, dflt: number): number => {
    try {
      return b[k] === undefined || b[k] === 0 ? dflt : dimension(b[k], k);
    } catch (err) {
      throw badRequest(`exec: ${(err as Error).message}`);
    }
  };
  const interactive = flag("interactive", false);
  const waitForWebsocket = flag("wait-for-websocket", false);
  if (interactive && !waitForWebsocket) throw badRequest(`exec: "interactive" needs "wait-for-websocket": true`);
  return { command: command as string[], env, interactive, width: size("width", 80), height: size("height", 24), waitForWebsocket, recordOutput: flag("record-output", false) };
}

const secret = (): string => randomBytes(32).toString("hex");

/** One exec waiting for (or using) its WebSockets. */
class ExecSession {
  readonly fds: Record<string, string>;
  private readonly sockets = new Map<string, WebSocket>();
  private connected!: () => void;
  readonly ready = new Promise<void>((r) => (this.connected = r));

  constructor(
    readonly owner: number,
    readonly req: ExecRequest,
  ) {
    const names = req.interactive ? ["0", "control"] : ["0", "1", "2", "control"];
    this.fds = Object.fromEntries(names.map((n) => [n, secret()]));
  }

  /** The stream whose secret is `s`, each usable once. */
  take(s: string): string | undefined {
    const given = Buffer.from(s);
    for (const [name, want] of Object.entries(this.fds)) {
      const w = Buffer.from(want);
      if (given.length === w.length && timingSafeEqual(given, w) && !this.sockets.has(name)) return name;
    }
    return undefined;
  }

  private readonly later = new Map<string, (ws: WebSocket) => void>();

  connect(name: string, ws: WebSocket): void {
    this.sockets.set(name, ws);
    this.later.get(name)?.(ws);
    if (Object.keys(this.fds).every((n) => n === "control" || this.sockets.has(n))) this.connected();
  }

  socket(name: string): WebSocket | undefined {
    return this.sockets.get(name);
  }

  /** `use` the stream `name` now or when it connects (control is not waited for). */
  whenConnected(name: string, use: (ws: WebSocket) => void): void {
    const ws = this.sockets.get(name);
    if (ws) use(ws);
    else this.later.set(name, use);
  }

  closeAll(): void {
    for (const ws of this.sockets.values()) ws.close(1000);
  }
}

export class Execs {
  private readonly sessions = new Map<string, ExecSession>();

  constructor(private readonly api: Api) {}

  /** Start the exec operation for `caller` (already allowed `login` on the zone). */
  start(zone: string, caller: Caller, req: ExecRequest): ReturnType<Api["operations"]["start"]> {
    const e = entryOf(this.api, zone);
    if (e.state !== "running") throw new ApiError(409, `zone is ${e.state}; exec needs it running`);
    const starter: Starter = (stdio) => startLogin(this.api.daemon.paths, this.api.daemon.platform, zone, { user: "root", safe: false, terminal: req.interactive, argv: req.command, term: "xterm" }, caller.uid, stdio, { env: req.env, consoleSize: { height: req.height, width: req.width } });
    const session = req.waitForWebsocket ? new ExecSession(caller.uid, req) : undefined;
    let id = "";
    const op = this.api.operations.start(`Executing command`, caller.uid, { zones: [zoneUrl(zone)] }, async () => {
      try {
        if (!session) return await recorded(starter, req.recordOutput);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new ApiError(400, `exec: its WebSockets were not all connected within ${CONNECT_MS / 1000} s`)), CONNECT_MS)));
        try {
          await Promise.race([session.ready, late]);
        } finally {
          clearTimeout(timer);
        }
        return { return: await (req.interactive ? interactive(starter, session) : piped(starter, session)) };
      } finally {
        session?.closeAll();
        this.sessions.delete(id);
      }
    });
    id = op.id;
    if (session) {
      this.sessions.set(op.id, session);
      op.metadata = { fds: session.fds };
    }
    return op;
  }

  /** GET /1.0/operations/<id>/websocket?secret=S: false when it is not an exec's. */
  upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, caller: Caller): boolean {
    const url = new URL(req.url ?? "/", "http://zoneadmd");
    const m = WEBSOCKET_PATH.exec(url.pathname);
    if (!m) return false;
    const session = this.sessions.get(m[1]!);
    // The same answer for a wrong secret and another's operation: nothing to learn by guessing.
    const name = session && (caller.uid === 0 || caller.uid === session.owner) ? session.take(url.searchParams.get("secret") ?? "") : undefined;
    if (!session || name === undefined) {
      refuseUpgrade(socket, 403, errorEnvelope(403, `no WebSocket of operation ${JSON.stringify(m[1])} for this caller and secret`));
      return true;
    }
    const no = handshakeProblem(req);
    if (no) {
      refuseUpgrade(socket, 400, errorEnvelope(400, no));
      return true;
    }
    session.connect(name, acceptWebSocket(req, socket, head));
    return true;
  }
}

/** The interactive form: the pty on "0", window size and signals on "control". */
async function interactive(starter: Starter, s: ExecSession): Promise<number> {
  const term = new Terminal(starter, s.req.height, s.req.width);
  term.attach(s.socket("0")!, false);
  s.whenConnected("control", (c) => c.on("message", (d, binary) => !binary && term.control(d.toString("utf8"), c)));
  return term.status;
}

function spawnOrThrow(starter: Starter, stdio: StdioOptions): ChildProcess {
  const child = starter(stdio);
  if (typeof child === "string") throw new ApiError(409, child);
  return child;
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once("error", (e) => reject(new ApiError(500, `exec: cannot start ${child.spawnfile}: ${e.message}`)));
    child.once("close", (code, signal) => resolve(shellStatus(code, signal)));
  });
}

/** The piped form: stdin from "0", stdout to "1", stderr to "2", each paced by the other end. */
async function piped(starter: Starter, s: ExecSession): Promise<number> {
  const child = spawnOrThrow(starter, ["pipe", "pipe", "pipe"]);
  const stdin = s.socket("0")!;
  child.stdin!.on("error", () => undefined);
  stdin.on("message", (d) => {
    if (d.length === 0) return void child.stdin!.end();
    if (!child.stdin!.write(d)) {
      stdin.pause();
      child.stdin!.once("drain", () => stdin.resume());
    }
  });
  stdin.on("close", () => child.stdin!.end());
  for (const [fd, out] of [["1", child.stdout!], ["2", child.stderr!]] as const) {
    const ws = s.socket(fd)!;
    out.on("data", (d: Buffer) => {
      if (!ws.send(d)) {
        out.pause();
        ws.once("drain", () => out.resume());
      }
    });
  }
  // Without a pty there is no window: control carries signals only.
  s.whenConnected("control", (control) =>
    control.on("message", (d, binary) => {
      if (binary) return;
      try {
        const c = parseControl(d.toString("utf8"));
        if (c.command === "signal") child.kill(c.signal);
      } catch (e) {
        control.send(JSON.stringify({ error: (e as Error).message }));
      }
    }),
  );
  return exitOf(child);
}

/** wait-for-websocket false: no stdin; the output kept (bounded) when asked. */
async function recorded(starter: Starter, record: boolean): Promise<{ return: number; output?: Record<string, string> }> {
  const child = spawnOrThrow(starter, ["ignore", record ? "pipe" : "ignore", record ? "pipe" : "ignore"]);
  const kept: Record<string, Buffer[]> = { "1": [], "2": [] };
  const sizes: Record<string, number> = { "1": 0, "2": 0 };
  if (record) {
    for (const [fd, out] of [["1", child.stdout!], ["2", child.stderr!]] as const) {
      out.on("data", (d: Buffer) => {
        const room = MAX_RECORD - sizes[fd]!;
        if (room <= 0) return;
        kept[fd]!.push(d.subarray(0, room));
        sizes[fd]! += Math.min(room, d.length);
      });
    }
  }
  const status = await exitOf(child);
  if (!record) return { return: status };
  return { return: status, output: { "1": Buffer.concat(kept["1"]!).toString("utf8"), "2": Buffer.concat(kept["2"]!).toString("utf8") } };
}

export function register(router: Router, api: Api): void {
  const execs = new Execs(api);
  router.add("POST", "/1.0/zones/:name/exec", { verb: "login", zone: "name" }, { summary: "Run a command in the zone as zlogin does: WebSockets for its streams, or its recorded output", body: "json", async: true }, async (r) => ({
    async: execs.start(r.params.name!, r.caller, parseExec(await r.json())),
  }));
  router.add("GET", "/1.0/operations/:id/websocket", "handler", { summary: "An exec's stream, by the secret its operation gave (WebSocket)", websocket: true }, () => {
    throw badRequest("this is a WebSocket: send Upgrade: websocket");
  });
  router.upgrade((req, socket, head, caller) => execs.upgrade(req, socket, head, caller));
}
