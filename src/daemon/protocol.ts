/**
 * zoneadmd's API: one JSON request per connection on a UNIX socket in the run
 * directory (mode 0600: only root reaches it), one JSON reply. Other host users have
 * the admin socket (adminSocketPath), where the same requests are checked against
 * the zones' admin resources (admins.ts). After the reply to
 * "console", the connection carries the zone console's bytes both ways.
 */
import type { RuntimeVersion } from "../platform/oci/runtime.js";
import type { RunState } from "../document/store/runstate.js";
import type { ErrorKind } from "../native/errors.js";

export const OPERATIONS = ["ping", "stats", "install", "uninstall", "ready", "boot", "halt", "reboot", "shutdown", "shutdown-reboot", "console", "post", "login", "clone", "move", "detach", "attach", "web"] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface Request {
  op: Operation;
  zone?: string;
  /** boot -- ARGS: this boot's arguments (document/bootargs.ts: -i PATH picks the init, the rest are its argv). */
  init?: string[];
  /** install -x copy: a whole-root brand's private copy of its image (brands/debian.ts). */
  copy?: boolean;
  /** install -x rebuild-image: the brand's base image fetched again first (imagebuild.ts). */
  rebuildImage?: boolean;
  /** install -i: the OCI image (an absolute host path, PATH:TAG) a brand oci zone is made from. */
  image?: string;
  /** console: drop the connection when the zone halts (zlogin -C -d). */
  detachOnHalt?: boolean;
  /** post: the zone's event channel and the message (src/daemon/broker.ts). */
  channel?: string;
  message?: string;
  /** clone: the source zone; move: the new zonepath; attach -F: force. */
  source?: string;
  zonepath?: string;
  force?: boolean;
  /** login: what a delegated admin's zlogin runs (src/daemon/login.ts); the admin socket only. */
  login?: LoginRequest;
}

/** zlogin by a user with `login` in an admin resource; her stdin, stdout, stderr come with it in SCM_RIGHTS. */
export interface LoginRequest {
  user: string;
  safe: boolean;
  terminal: boolean;
  argv: string[];
  term: string;
  /** The caller's terminal size, the zone pty's from its start (loginproc.ts). */
  size?: { height: number; width: number };
}

/**
 * The daemon's first line on a connection that carries an operation: it has read the
 * request. It starts it when the client answers "go" (client.ts, server.ts).
 */
export const ACCEPTED = '{"accepted":true}';

/** What the daemon holds, after a garbage collection (the soak test watches it). */
export interface DaemonStats {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  /** Memory of C++ objects bound to JavaScript ones (Buffers among them). */
  external: number;
  /** Open descriptors. */
  fds: number;
  /** Zombie children not reaped yet. */
  zombies: number;
  /** Zone inits the reaper keeps track of. */
  inits: number;
}

export type Reply = { ok: true; pid?: number; run?: RunState; runtime?: RuntimeVersion; delivered?: number; stats?: DaemonStats; status?: number; url?: string } | { ok: false; error: string; kind?: ErrorKind };

export function socketPath(runDir: string): string {
  return `${runDir}/zoneadmd.sock`;
}

/**
 * The admin socket (mode 0666, in a directory of its own beside the run directory,
 * which stays 0700): any host user reaches it, and zoneadmd lets each do only what the
 * zones' admin resources give her uid (src/daemon/admins.ts).
 */
export function adminSocketPath(runDir: string): string {
  return `${runDir}-admin/zoneadmd.sock`;
}
