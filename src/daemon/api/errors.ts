/**
 * The HTTP status an error gets. ZoneErrors say what they are about (native/errors.ts
 * ErrorKind), set where they are thrown: bad input 400, a zone that does not exist 404,
 * the wrong state or a name taken 409, a refused caller 403. An unmarked ZoneError is the operation
 * failing as the command would (400: the request cannot be done as given); anything
 * else is the daemon's own fault (500), logged, with a one-line message.
 */
import { ZoneError, type ErrorKind } from "../../native/errors.js";

const STATUS_OF: Record<ErrorKind, number> = { input: 400, missing: 404, state: 409, conflict: 409, denied: 403 };

/** An error with its HTTP status; the message is one line, as the commands print it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function statusOfKind(kind: ErrorKind | undefined): number {
  return kind === undefined ? 400 : STATUS_OF[kind];
}

/** ApiError for whatever a handler threw; `internal` hears about the unexpected ones. */
export function toApiError(e: unknown, internal: (e: Error) => void): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof ZoneError) return new ApiError(statusOfKind(e.kind), oneLine(e.message));
  const err = e instanceof Error ? e : new Error(String(e));
  internal(err);
  return new ApiError(500, `internal error: ${oneLine(err.message)}`);
}

/** verify lists every problem on its own line; the envelope's error is one line. */
export function oneLine(message: string): string {
  return message.split("\n").filter((l) => l !== "").join("; ");
}

export const notFound = (what: string): ApiError => new ApiError(404, what);
export const badRequest = (what: string): ApiError => new ApiError(400, what);
