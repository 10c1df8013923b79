/**
 * Rebuilding a missing or emptied zone index from what the repository still holds.
 * Each <zone>.cfg names its zone (the file name) and holds zonepath, brand and ip-type;
 * the state and uuid are not in it, so they come from the records that outlive the
 * index: a zone with a uid slot in the host registry is installed (install allocates the
 * slot, uninstall releases it) and the slot holds its uuid; a zone whose init is alive
 * is at least ready — it has a container, so calling it less would let zoneadmd remove
 * a running zone. A zone with neither is configured and gets a new uuid.
 */
import { randomUUID } from "node:crypto";
import type { IndexEntry, Repository } from "../document/store/repository.js";
import { readRun } from "../document/store/runstate.js";
import type { SlotRegistry } from "./slots.js";

/** Rebuild the index if it is still missing or empty; returns one line per zone for the log. */
export function rebuildIndex(repo: Repository, slots: SlotRegistry, alive: (pid: number) => boolean): string[] {
  const lines: string[] = [];
  if (repo.documents().length === 0) return lines;
  repo.restoreIndex(() => {
    const owned = slots.list().filter((s) => s.configDir === repo.paths.configDir);
    const entries: IndexEntry[] = [];
    for (const name of repo.documents()) {
      let z;
      try {
        z = repo.load(name);
      } catch (e) {
        lines.push(`index rebuild: zone '${name}' left out: ${(e as Error).message}`);
        continue;
      }
      const slot = owned.find((s) => s.zonename === name);
      const run = readRun(repo.paths, name);
      const live = run !== undefined && run.pid > 0 && alive(run.pid);
      const state = live ? (run.booted ? "running" : "ready") : slot ? "installed" : "configured";
      entries.push({ name, state, zonepath: z.zonepath, uuid: slot?.uuid ?? randomUUID(), brand: z.brand, ipType: z.ipType });
      lines.push(`index rebuild: zone '${name}' is ${state}${slot ? "" : " (no uid slot: a new uuid)"}`);
    }
    return entries;
  });
  return lines;
}
