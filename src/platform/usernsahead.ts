/**
 * A zone's user namespace for its next boot, made ahead: at install and after a halt,
 * in the background, so the boot takes it at once instead of waiting for its helper
 * (`unshare --user` as the slot's uid: two binaries started, 10-40 ms of every ready
 * on a loaded host, before anything else of the zone can be mounted).
 *
 * Each namespace serves one boot only and is made fresh for it, exactly as at ready
 * (idmap.ts mappedUserns: owned by the slot's uid, mapping the slot): nothing of one
 * boot's namespace (its keyrings, its counts) reaches the next. Held as a descriptor of
 * zoneadmd's, with no process in it; a namespace made for another slot than the zone
 * now has (reinstalled since) is dropped, not used. Kept in memory only: a restarted
 * daemon has none and the ready makes its own, as before.
 */
import { mappedUserns, type HeldUserns } from "./idmap.js";
import { SLOT_SIZE } from "./slots.js";

interface Ahead {
  base: number;
  ns: Promise<HeldUserns>;
}

export class UsernsAhead {
  private readonly made = new Map<string, Ahead>();

  /** Make zone `name`'s next namespace (slot base `base`) in the background. */
  prepare(name: string, base: number): void {
    const had = this.made.get(name);
    if (had?.base === base) return;
    if (had) this.drop(name);
    const ns = mappedUserns(base, SLOT_SIZE);
    // A failure shows at the boot, which then makes its own (and says why if it fails too).
    ns.catch(() => undefined);
    this.made.set(name, { base, ns });
  }

  /** The namespace made ahead for `name` if it is of slot base `base`; else one made now. */
  async take(name: string, base: number): Promise<HeldUserns> {
    const had = this.made.get(name);
    this.made.delete(name);
    if (had?.base === base) {
      try {
        return await had.ns;
      } catch {
        // made below, where its error is the boot's
      }
    } else if (had) {
      void had.ns.then((u) => u.release(), () => undefined);
    }
    return mappedUserns(base, SLOT_SIZE);
  }

  /** The namespace made ahead for `name`, if any (for tests). */
  peek(name: string): Promise<HeldUserns> | undefined {
    return this.made.get(name)?.ns;
  }

  /** The zone is uninstalled (its slot released): its namespace goes. */
  drop(name: string): void {
    const had = this.made.get(name);
    this.made.delete(name);
    void had?.ns.then((u) => u.release(), () => undefined);
  }
}
