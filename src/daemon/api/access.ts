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

  /** May `caller` see an event meant for `audience` (events.ts)? */
  sees(caller: Caller, audience: Audience): boolean {
    if (caller.uid === 0) return true;
    if (audience === "root") return false;
    if ("owner" in audience) return audience.owner === caller.uid;
    return refusal(this.repo, caller.uid, { op: "show", zone: audience.zone }) === undefined;
  }

  /** Log and throw the refusal. */
  refuse(caller: Caller, why: string, zone: string): never {
    // Budgeted per uid alone: a caller naming a new zone each time must not get a new budget.
    this.log(`api (${caller.via}): uid ${caller.uid}: refused${ZONE_NAME.test(zone) ? ` on zone '${zone}'` : ""}: ${why}`, { zone: "-", kind: `api uid ${caller.uid}` });
    throw new ApiError(403, why);
  }
}
