/**
 * What a zone gets at boot when its configuration says nothing about a limit. These
 * defaults are applied by the spec builder and never stored, so `zonecfg export` shows
 * only what the administrator wrote (as illumos does) and `add rctl` of any of them
 * works on a fresh `create`. `zonecfg info` shows them, marked "(default)".
 */
import type { ZoneConfig } from "./model.js";
import { rctlLimit } from "./rctls.js";

/**
 * Fixed defaults. max-lwps keeps a fork bomb inside its zone (the zones' common parent
 * cgroup bounds all zones together, reserve.ts); the IPC ids are illumos's
 * project.max-{shm,sem,msg}-ids defaults (Linux's own are 4096 and 32000 per namespace).
 */
export const FIXED_DEFAULTS: Readonly<Record<string, number>> = {
  "zone.max-lwps": 8192,
  "zone.max-shm-ids": 128,
  "zone.max-sem-ids": 128,
  "zone.max-msg-ids": 128,
};

const PAGE_SIZE = 4096;

/**
 * The default zone.max-shm-memory: a quarter of the memory the zone may use (illumos:
 * a quarter of physical memory), that is of capped-memory physical, else of what all
 * zones of the root share. undefined when neither is known (zonecfg info without a cap).
 */
export function defaultShmBytes(z: ZoneConfig, zonesMemory?: number): number | undefined {
  // physical 0 means capped-memory without a physical cap.
  const memory = z.cappedMemory?.physical || zonesMemory;
  if (memory === undefined) return undefined;
  return Math.floor(memory / 4 / PAGE_SIZE) * PAGE_SIZE;
}

/** The default of an rctl the configuration leaves unset; undefined: no default. */
export function defaultLimit(z: ZoneConfig, rctl: string, zonesMemory?: number): number | undefined {
  if (rctl === "zone.max-shm-memory") return defaultShmBytes(z, zonesMemory);
  return FIXED_DEFAULTS[rctl];
}

/** The limit a booted zone gets: the configured one, else the default. */
export function effectiveLimit(z: ZoneConfig, rctl: string, zonesMemory?: number): number | undefined {
  return rctlLimit(z, rctl) ?? defaultLimit(z, rctl, zonesMemory);
}
