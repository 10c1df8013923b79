/**
 * The API's response bodies, in Incus's shape (its REST API "common" document), so
 * that its users and their clients feel at home: every answer is one of three
 * envelopes, and a client tells them apart by `type`.
 */

/** Incus's status codes inside envelopes and operations (not HTTP statuses). */
export const STATUS = {
  created: 100,
  running: 103,
  success: 200,
  failure: 400,
} as const;

export interface SyncEnvelope {
  type: "sync";
  status: "Success";
  status_code: 200;
  operation: string;
  error_code: 0;
  error: "";
  metadata: unknown;
}

export interface AsyncEnvelope {
  type: "async";
  status: "Operation created";
  status_code: 100;
  operation: string;
  error_code: 0;
  error: "";
  metadata: unknown;
}

export interface ErrorEnvelope {
  type: "error";
  status: "";
  status_code: 0;
  operation: "";
  /** The HTTP status, repeated for clients that only read the body. */
  error_code: number;
  /** One line: the same text the command prints after its prefix. */
  error: string;
  metadata: null;
}

export type Envelope = SyncEnvelope | AsyncEnvelope | ErrorEnvelope;

export function syncEnvelope(metadata: unknown): SyncEnvelope {
  return { type: "sync", status: "Success", status_code: 200, operation: "", error_code: 0, error: "", metadata };
}

/** `url` is the operation's own (/1.0/operations/<id>); `metadata` the operation object. */
export function asyncEnvelope(url: string, metadata: unknown): AsyncEnvelope {
  return { type: "async", status: "Operation created", status_code: 100, operation: url, error_code: 0, error: "", metadata };
}

export function errorEnvelope(httpStatus: number, error: string): ErrorEnvelope {
  return { type: "error", status: "", status_code: 0, operation: "", error_code: httpStatus, error, metadata: null };
}
