/**
 * Who may call what, for every route: the same rule as the commands (admins.ts
 * refusal), asked with the caller's uid. Root may do anything; a host user named in a
 * zone's admin resource what its auths allow on that zone; anyone else gets 403. Every
 * refusal is logged through the daemon's rate-limited log, per uid, so that a caller
 * cannot flood it.
 */
import type { Repository } from "../../document/store/repository.js";
import { administered, refusal, strangerRefusal, type Verb } from "../admins.js";
import type { LogSource } from "../log.js";
import { ApiError } from "./errors.js";
import type { Audience } from "./events.js";
import type { Caller } from "./router.js";

const ZONE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class Access {
  /**
   * Each zone's subscribers (not root) last found allowed to see it. A deleted zone's
   * admin resource is gone with its document, so its deletion goes to these: her
   * zones as they were when she subscribed, kept current by every event after.
   */
  private readonly watchers = new Map<string, Set<number>>();

  constructor(
    private readonly repo: Repository,
    private readonly log: (line: string, from: LogSource) => void,
  ) {}

  /** Throws 403 unless `caller` may do `verb` on `zone`; `init`: boot arguments (root's). */
  check(caller: Caller, verb: Verb, zone: string, init?: string[]): void {
    if (caller.uid === 0) return;
    const no = refusal(this.repo, caller.uid, { op: verb, zone, init });
    if (no !== undefined) this.refuse(caller, no, zone);
  }

  /**
   * The zones `caller` may see (all for root); 403 for a caller who administers none,
   * since she may see nothing and a stranger learns nothing, not even an empty list.
   */
  visible(caller: Caller, what: string): string[] {
    const names = administered(this.repo, caller.uid);
    if (caller.uid !== 0 && names.length === 0) this.refuse(caller, strangerRefusal(caller.uid, what), "-");
    return names;
  }

  /** `caller` follows the events (events.ts): the zones she administers now are hers to hear of. */
  subscribed(caller: Caller): void {
    if (caller.uid === 0) return;
    // What she administered at an earlier subscription may have been taken from her since.
    for (const w of this.watchers.values()) w.delete(caller.uid);
    for (const zone of administered(this.repo, caller.uid)) this.watch(zone, caller.uid, true);
  }

  /** May `caller` see an event meant for `audience` (events.ts)? */
  sees(caller: Caller, audience: Audience): boolean {
    if (caller.uid === 0) return true;
    if (audience === "root") return false;
    if ("owner" in audience) return audience.owner === caller.uid;
    if (audience.deleted) return this.watchers.get(audience.zone)?.has(caller.uid) ?? false;
    const ok = refusal(this.repo, caller.uid, { op: "show", zone: audience.zone }) === undefined;
    this.watch(audience.zone, caller.uid, ok);
    return ok;
  }

  /** A zone's deletion was told: its name may come back as another zone, with other admins. */
  forget(zone: string): void {
    this.watchers.delete(zone);
  }

  private watch(zone: string, uid: number, allowed: boolean): void {
    const w = this.watchers.get(zone);
    if (allowed) (w ?? this.watchers.set(zone, new Set()).get(zone)!).add(uid);
    else w?.delete(uid);
  }

  /** Log and throw the refusal. */
  refuse(caller: Caller, why: string, zone: string): never {
    // Budgeted per uid alone: a caller naming a new zone each time must not get a new budget.
    this.log(`api (${caller.via}): uid ${caller.uid}: refused${ZONE_NAME.test(zone) ? ` on zone '${zone}'` : ""}: ${why}`, { zone: "-", kind: `api uid ${caller.uid}` });
    throw new ApiError(403, why);
  }
}
