/**
 * Long work as Incus's operations: each has an id (a uuid), class "task", a status
 * (Running, then Success or Failure) and timestamps, and is kept for KEEP_MS after it
 * ends so that a client can still ask how it went (GET /1.0/operations/<id>, /wait).
 * The work itself is always Daemon.handle() (zonestate.ts): an operation only records
 * and reports it.
 */
import { randomUUID } from "node:crypto";
import type { Api } from "./api.js";
import { STATUS } from "./envelope.js";
import { ApiError, badRequest, toApiError } from "./errors.js";
import type { Router } from "./router.js";

export interface Operation {
  id: string;
  class: "task";
  description: string;
  created_at: string;
  updated_at: string;
  status: "Running" | "Success" | "Failure";
  status_code: number;
  /** What it works on, as URLs: { zones: ["/1.0/zones/web"] }. */
  resources: Record<string, string[]>;
  metadata: unknown;
  may_cancel: false;
  /** The one-line message of a failure, as the command prints it; "" otherwise. */
  err: string;
  location: "none";
}

interface Entry {
  op: Operation;
  /** The uid that asked: only it and root see the operation. */
  owner: number;
  done: Promise<void>;
  ended?: number;
}

/** How long an ended operation is kept, and how many ended ones at most. */
const KEEP_MS = 5 * 60_000;
const MAX_ENDED = 1000;
/** The last progress lines a running operation keeps in its metadata. */
const MAX_PROGRESS = 50;

export class Operations {
  private readonly entries = new Map<string, Entry>();

  /** `changed` hears of each operation when it is created and when it ends (the events stream). */
  constructor(
    private readonly changed: (op: Operation, owner: number, created: boolean) => void,
    private readonly internal: (e: Error) => void,
  ) {}

  /** Start `work` now; its result becomes the operation's metadata, its error the operation's err. */
  start(description: string, owner: number, resources: Record<string, string[]>, work: (progress: (line: string) => void) => Promise<unknown>): Operation {
    this.prune();
    const now = new Date().toISOString();
    const op: Operation = {
      id: randomUUID(),
      class: "task",
      description,
      created_at: now,
      updated_at: now,
      status: "Running",
      status_code: STATUS.running,
      resources,
      metadata: null,
      may_cancel: false,
      err: "",
      location: "none",
    };
    const entry: Entry = { op, owner, done: Promise.resolve() };
    // A running operation's metadata is its progress so far (an install's image build): {"progress": [lines]}.
    const progress = (line: string): void => {
      if (entry.ended !== undefined) return;
      const lines = ((op.metadata as { progress?: string[] } | null)?.progress ?? []).concat(line).slice(-MAX_PROGRESS);
      op.metadata = { progress: lines };
      op.updated_at = new Date().toISOString();
      this.changed(op, owner, false);
    };
    entry.done = work(progress).then(
      (metadata) => this.end(entry, "Success", metadata ?? null, ""),
      (e: unknown) => this.end(entry, "Failure", null, toApiError(e, this.internal).message),
    );
    this.entries.set(op.id, entry);
    this.changed(op, owner, true);
    return op;
  }

  private end(entry: Entry, status: "Success" | "Failure", metadata: unknown, err: string): void {
    const op = entry.op;
    op.status = status;
    op.status_code = status === "Success" ? STATUS.success : STATUS.failure;
    op.metadata = metadata;
    op.err = err;
    op.updated_at = new Date().toISOString();
    entry.ended = Date.now();
    this.changed(op, entry.owner, false);
  }

  /** The operation `id` if `uid` may see it (its owner, or root). */
  get(id: string, uid: number): Operation | undefined {
    const e = this.entries.get(id);
    return e && (uid === 0 || e.owner === uid) ? e.op : undefined;
  }

  /** The operations `uid` may see, oldest first. */
  list(uid: number): Operation[] {
    this.prune();
    return [...this.entries.values()].filter((e) => uid === 0 || e.owner === uid).map((e) => e.op);
  }

  /** The operation once it has ended, or as it is after `timeoutMs` (negative: no bound); `gone` ends the wait early. */
  async wait(id: string, uid: number, timeoutMs: number, gone?: Promise<void>): Promise<Operation | undefined> {
    const e = this.entries.get(id);
    if (!e || (uid !== 0 && e.owner !== uid)) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const bounds: Promise<void>[] = [e.done];
    if (timeoutMs >= 0) bounds.push(new Promise<void>((r) => (timer = setTimeout(r, timeoutMs))));
    if (gone) bounds.push(gone);
    await Promise.race(bounds);
    clearTimeout(timer);
    return e.op;
  }

  /** Drop operations ended longer than KEEP_MS ago, and the oldest beyond MAX_ENDED. */
  private prune(): void {
    const now = Date.now();
    const ended = [...this.entries.values()].filter((e) => e.ended !== undefined);
    for (const e of ended) if (now - e.ended! > KEEP_MS) this.entries.delete(e.op.id);
    const left = ended.filter((e) => this.entries.has(e.op.id));
    for (const e of left.slice(0, Math.max(0, left.length - MAX_ENDED))) this.entries.delete(e.op.id);
  }
}

/** Longest wait a client may ask (?timeout=N seconds; -1 is this long too): a wait holds a connection. */
const MAX_WAIT_S = 3600;

export function register(router: Router, api: Api): void {
  router.add("GET", "/1.0/operations", "handler", { summary: "The caller's operations (root: all), running and recently ended; ?recursion=1 for objects" }, (r) => {
    api.access.visible(r.caller, "see operations");
    const ops = api.operations.list(r.caller.uid);
    if (r.query.get("recursion") === "1") return { sync: ops };
    return { sync: ops.map((o) => `/1.0/operations/${o.id}`) };
  });
  router.add("GET", "/1.0/operations/:id", "handler", { summary: "One operation: status, err, metadata" }, (r) => {
    api.access.visible(r.caller, "see operations");
    return { sync: found(api.operations.get(r.params.id!, r.caller.uid), r.params.id!) };
  });
  router.add("GET", "/1.0/operations/:id/wait", "handler", { summary: "The operation once it has ended, or after ?timeout=N seconds (-1: no bound but the server's)" }, async (r) => {
    api.access.visible(r.caller, "see operations");
    const t = r.query.get("timeout") ?? "-1";
    if (!/^-1$|^[0-9]+(\.[0-9]+)?$/.test(t)) throw badRequest(`timeout must be a number of seconds or -1, not ${JSON.stringify(t)}`);
    const seconds = Number(t) < 0 ? MAX_WAIT_S : Math.min(Number(t), MAX_WAIT_S);
    // A client that hangs up ends its wait: nothing waits on its behalf.
    const gone = new Promise<void>((resolve) => r.res.once("close", resolve));
    return { sync: found(await api.operations.wait(r.params.id!, r.caller.uid, seconds * 1000, gone), r.params.id!) };
  });
}

function found(op: Operation | undefined, id: string): Operation {
  // Another caller's operation is as absent as one that never was.
  if (!op) throw new ApiError(404, `no such operation ${JSON.stringify(id)}`);
  return op;
}
