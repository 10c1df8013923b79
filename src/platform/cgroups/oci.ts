/**
 * The zone's limits as the OCI runtime writes them at boot (config.json
 * linux.resources and process.rlimits): the same mapping as limits.ts, in the spec's
 * terms (zone.max-locked-memory is memlock.ts's). v1 and v2 differ where runc's conversions do not keep illumos's meaning:
 * on v2, cpu.weight and memory.high go through `unified` (runc would turn shares into a
 * weight by its own formula, and has no memory.high field).
 */
import type { ZoneConfig } from "../../document/model.js";
import { zoneLimits } from "./limits.js";
import { sharesToWeight } from "./v2.js";

export interface OciResourceLimits {
  pids?: { limit: number };
  memory?: { limit?: number; swap?: number; reservation?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string };
  unified?: Record<string, string>;
}

/** linux.resources without devices, for a zone holding dedicated `cpus` (if any). */
export function ociResources(z: ZoneConfig, cpus: string | undefined, v2: boolean): OciResourceLimits {
  const l = zoneLimits(z, cpus);
  const unified: Record<string, string> = {};
  const memory: NonNullable<OciResourceLimits["memory"]> = {};
  if (l.memory !== undefined) memory.limit = l.memory;
  if (l.swap !== undefined) {
    // runc writes memsw on v1; on v2 it wants a memory limit to subtract, so swap.max is ours.
    if (!v2) memory.swap = l.swap;
    else unified["memory.swap.max"] = String(Math.max(0, l.swap - (l.memory ?? 0)));
  }
  if (l["memory-soft"] !== undefined) {
    if (v2) unified["memory.high"] = String(l["memory-soft"]);
    else memory.reservation = l["memory-soft"];
  }
  const cpu: NonNullable<OciResourceLimits["cpu"]> = {};
  if (l["cpu-shares"] !== undefined) {
    if (v2) unified["cpu.weight"] = String(sharesToWeight(l["cpu-shares"]));
    else cpu.shares = Math.min(262144, Math.max(2, l["cpu-shares"]));
  }
  if (l["cpu-cap"] !== undefined) Object.assign(cpu, { quota: l["cpu-cap"] * 1000, period: 100000 });
  if (l.cpus !== undefined) cpu.cpus = l.cpus;
  return {
    ...(l.pids !== undefined ? { pids: { limit: l.pids } } : {}),
    ...(Object.keys(memory).length > 0 ? { memory } : {}),
    ...(Object.keys(cpu).length > 0 ? { cpu } : {}),
    ...(Object.keys(unified).length > 0 ? { unified } : {}),
  };
}
