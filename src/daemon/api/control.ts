/**
 * The control messages of the API's streams, Incus's shape: exec's "control"
 * WebSocket, and the text frames of the console and login WebSockets (binary frames
 * there are the terminal's bytes). Each is one JSON object:
 *
 *   {"command":"window-resize","args":{"width":"80","height":"24"}}
 *   {"command":"signal","signal":15}
 *
 * Width and height may be numbers or decimal strings (Incus sends strings). Signals
 * are those a terminal user sends: HUP, INT, QUIT, TERM, USR1, USR2 (by number or
 * name); the runtime passes them on to the zone's process.
 */
import { constants } from "node:os";

export type Control = { command: "window-resize"; width: number; height: number } | { command: "signal"; signal: NodeJS.Signals };

const SIGNALS: readonly NodeJS.Signals[] = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2"];
const MAX_SIZE = 1000;

/** A window dimension: an integer 1..1000, as a number or a decimal string. */
export function dimension(v: unknown, what: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^[0-9]{1,4}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SIZE) throw new Error(`${what} ${JSON.stringify(v)} is not a whole number from 1 to ${MAX_SIZE}`);
  return n;
}

/** The control message in `text`; throws with a one-line reason. */
export function parseControl(text: string): Control {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new Error(`control message is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (typeof o !== "object" || o === null) throw new Error(`control message is not an object`);
  const m = o as { command?: unknown; args?: unknown; signal?: unknown };
  if (m.command === "window-resize") {
    const a = (typeof m.args === "object" && m.args !== null ? m.args : {}) as { width?: unknown; height?: unknown };
    return { command: "window-resize", width: dimension(a.width, "width"), height: dimension(a.height, "height") };
  }
  if (m.command === "signal") {
    const sig = typeof m.signal === "number" ? SIGNALS.find((s) => constants.signals[s] === m.signal) : SIGNALS.find((s) => s === m.signal || s === `SIG${String(m.signal)}`);
    if (sig === undefined) throw new Error(`signal ${JSON.stringify(m.signal)} is not one of ${SIGNALS.join(", ")}`);
    return { command: "signal", signal: sig };
  }
  throw new Error(`control command ${JSON.stringify(m.command)} is not window-resize or signal`);
}
