/**
 * Errors and exit codes shared by every command (illumos: Z_OK, Z_ERR, Z_USAGE).
 * A ZoneError carries a one-line message that already names the thing and the value;
 * commands only add their own prefix ("zonecfg: zone 'web': ").
 */
import { printable } from "./printable.js";

export const EXIT_OK = 0;
export const EXIT_ERR = 1;
export const EXIT_USAGE = 2;

/**
 * What an error is about, where a caller must tell kinds apart (the HTTP API answers
 * 400, 404, 409, 409, 403 by it: src/daemon/api/errors.ts); unset is a plain failure.
 */
export type ErrorKind = "input" | "missing" | "state" | "conflict" | "denied";

export class ZoneError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ERR,
    readonly kind?: ErrorKind,
  ) {
    super(message);
    this.name = "ZoneError";
  }
}

/** A usage mistake: wrong flags or arguments (exit 2). */
export class UsageError extends ZoneError {
  constructor(message: string) {
    super(message, EXIT_USAGE, "input");
    this.name = "UsageError";
  }
}

/**
 * Quote a value the way messages show it: in double quotes, so spaces stay visible,
 * with printable()'s escapes (values may come from a zone: see printable.ts).
 */
export function q(value: string): string {
  return `"${printable(value).replace(/"/g, '\\"')}"`;
}
