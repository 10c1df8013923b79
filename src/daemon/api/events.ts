/**
 * GET /1.0/events as server-sent events (text/event-stream: one `event:` and one
 * `data:` line of JSON per event, in Incus's event shape). Three types:
 *   lifecycle  a zone changed state, was created, changed or deleted; told by the
 *              repository's observer (repository.ts), the one place every transition
 *              passes, so a zone that halted by itself is seen as one that was halted
 *   operation  an operation was created or ended (operations.ts)
 *   logging    a line zoneadmd logged (root only: lines name any zone)
 * Each subscriber sees only what it may: root everything, a delegated admin her zones'
 * lifecycle (their deletion too) and her own operations. A subscriber that stops reading is dropped once
 * MAX_BUFFERED bytes wait for it, so that a slow client cannot grow the daemon.
 */
import type * as http from "node:http";
import type { Api } from "./api.js";
import { badRequest } from "./errors.js";
import type { Router } from "./router.js";

export const EVENT_TYPES = ["lifecycle", "operation", "logging"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface ApiEvent {
  type: EventType;
  timestamp: string;
  metadata: unknown;
  location: "none";
  project: "";
}

/**
 * Who an event is for: a zone's admins (lifecycle; for a deleted zone, those who
 * administered it: access.ts), an operation's owner, or root alone.
 */
export type Audience = { zone: string; deleted?: boolean } | { owner: number } | "root";

interface Subscriber {
  res: http.ServerResponse;
  types: ReadonlySet<EventType>;
  /** May this subscriber see an event for `audience`? */
  sees: (audience: Audience) => boolean;
}

const MAX_BUFFERED = 1 << 20;
const KEEPALIVE_MS = 15_000;

export class Events {
  private readonly subscribers = new Set<Subscriber>();
  private timer?: NodeJS.Timeout;

  get count(): number {
    return this.subscribers.size;
  }

  /** Take the response over as an event stream until the client leaves. */
  subscribe(res: http.ServerResponse, types: ReadonlySet<EventType>, sees: (audience: Audience) => boolean): void {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
    // The headers go at once: a client knows it is subscribed before any event comes.
    res.write(": subscribed\n\n");
    const s: Subscriber = { res, types, sees };
    this.subscribers.add(s);
    res.on("close", () => this.subscribers.delete(s));
    this.timer ??= setInterval(() => this.keepalive(), KEEPALIVE_MS).unref();
  }

  publish(type: EventType, metadata: unknown, audience: Audience): void {
    if (this.subscribers.size === 0) return;
    const event: ApiEvent = { type, timestamp: new Date().toISOString(), metadata, location: "none", project: "" };
    const text = `event: ${type}\ndata: ${JSON.stringify(event)}\n\n`;
    for (const s of this.subscribers) {
      if (!s.types.has(type)) continue;
      let ok = false;
      try {
        ok = s.sees(audience);
      } catch {
        ok = false;
      }
      if (ok) this.send(s, text);
    }
  }

  private send(s: Subscriber, text: string): void {
    if (s.res.writableLength > MAX_BUFFERED) {
      this.subscribers.delete(s);
      s.res.destroy();
      return;
    }
    s.res.write(text);
  }

  private keepalive(): void {
    for (const s of this.subscribers) this.send(s, ": keepalive\n\n");
    if (this.subscribers.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const s of this.subscribers) s.res.end();
    this.subscribers.clear();
  }
}

export function register(router: Router, api: Api): void {
  router.add("GET", "/1.0/events", "handler", { summary: "Server-sent events: ?type=lifecycle,operation,logging (default all the caller may see)", produces: "text/event-stream" }, (r) => {
    api.access.visible(r.caller, "follow events");
    const asked = (r.query.get("type") ?? EVENT_TYPES.join(",")).split(",").filter((t) => t !== "");
    const bad = asked.find((t) => !(EVENT_TYPES as readonly string[]).includes(t));
    if (bad !== undefined) throw badRequest(`unknown event type ${JSON.stringify(bad)} (types: ${EVENT_TYPES.join(", ")})`);
    const caller = r.caller;
    api.access.subscribed(caller);
    api.events.subscribe(r.res, new Set(asked as EventType[]), (audience) => api.access.sees(caller, audience));
    return { handled: true };
  });
}
