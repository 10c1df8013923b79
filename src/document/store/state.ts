/**
 * The zone state model (illumos libzonecfg zone_state_t and zoneadm's sanity_check):
 * the states, the legal transitions, and what each operation needs. Every change of
 * state goes through checkTransition, and the repository persists the result.
 */
import { EXIT_ERR, ZoneError } from "../../native/errors.js";

/** A refusal for the zone's state (the API answers 409). */
const wrongState = (message: string): ZoneError => new ZoneError(message, EXIT_ERR, "state");

export const STATES = ["configured", "incomplete", "installed", "ready", "running", "shutting_down", "down", "mounted"] as const;
export type ZoneState = (typeof STATES)[number];

export function isState(s: string): s is ZoneState {
  return (STATES as readonly string[]).includes(s);
}

/** from -> to pairs that may happen (zones-reference §3). */
const TRANSITIONS: ReadonlyArray<readonly [ZoneState, ZoneState]> = [
  ["configured", "incomplete"], // install or clone begins
  ["incomplete", "installed"], // install or clone done
  ["configured", "installed"], // attach
  ["installed", "configured"], // detach
  ["installed", "incomplete"], // uninstall begins, mark incomplete
  ["incomplete", "configured"], // uninstall done
  ["installed", "ready"],
  ["ready", "running"],
  ["installed", "running"],
  ["running", "shutting_down"],
  ["ready", "shutting_down"],
  ["shutting_down", "down"],
  ["down", "installed"],
  ["ready", "installed"], // halt of a ready zone
  ["running", "installed"], // halt that found nothing left to tear down
  ["shutting_down", "installed"],
  ["down", "running"], // reboot
  ["installed", "mounted"],
  ["mounted", "installed"],
];

export function canTransition(from: ZoneState, to: ZoneState): boolean {
  return TRANSITIONS.some(([f, t]) => f === from && t === to);
}

export function checkTransition(from: ZoneState, to: ZoneState): void {
  if (!canTransition(from, to)) throw wrongState(`cannot go from ${from} to ${to}`);
}

/** What each zoneadm/zonecfg operation needs: the states it accepts, and the one to name. */
export const REQUIRES: Readonly<Record<string, { states: readonly ZoneState[]; need: string }>> = {
  install: { states: ["configured"], need: "configured" },
  clone: { states: ["configured"], need: "configured" },
  attach: { states: ["configured"], need: "configured" },
  uninstall: { states: ["installed", "incomplete"], need: "installed" },
  ready: { states: ["installed", "ready"], need: "installed" },
  boot: { states: ["installed", "ready"], need: "installed" },
  halt: { states: ["ready", "running", "shutting_down", "down"], need: "ready or running" },
  reboot: { states: ["running"], need: "running" },
  shutdown: { states: ["running"], need: "running" },
  move: { states: ["installed"], need: "installed" },
  detach: { states: ["installed"], need: "installed" },
  mark: { states: ["installed", "incomplete"], need: "installed" },
  mount: { states: ["installed"], need: "installed" },
  unmount: { states: ["mounted"], need: "mounted" },
  verify: { states: ["configured", "installed", "ready", "running", "shutting_down", "down", "mounted"], need: "configured" },
  delete: { states: ["configured"], need: "configured" },
};

/**
 * Throws a message that says what state the zone is in and what the operation needs,
 * e.g. "must be installed before boot (it is configured)".
 */
export function checkOperation(op: string, state: ZoneState): void {
  const r = REQUIRES[op];
  if (!r) throw new ZoneError(`unknown operation '${op}'`);
  if (r.states.includes(state)) return;
  if (state === "incomplete" && ["install", "clone", "attach", "verify", "boot", "ready"].includes(op))
    throw wrongState(`zone is incomplete: uninstall required before ${op} (zoneadm uninstall -F)`);
  if (op === "delete") throw wrongState(`must be configured to be deleted (it is ${state}); uninstall it first`);
  if (state === "running" && (op === "boot" || op === "ready")) throw wrongState(`zone is already running`);
  throw wrongState(`must be ${r.need} before ${op} (it is ${state})`);
}
