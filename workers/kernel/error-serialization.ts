/**
 * Errors crossing a process boundary (worker IPC) as plain data, and back into the same class:
 * name, code, message and the remote stack survive the trip, so a failure in a worker reads in
 * the control plane's log as what it was and where it happened.
 */
import type { SerializedError } from '../protocol/errors';
import {
  BadRequestError,
  ConflictError,
  DomainError,
  InvalidCandidateError,
  InvalidSdpError,
  NotFoundError,
  ParticipantNotFoundError,
  PayloadTooLargeError,
  RecordingCancelledError,
  RoomFullError,
} from './errors';

type ErrorClass = new (message: string) => Error;

/** Classes a worker may throw at the control plane, by their stable name. */
const revivable = new Map<string, ErrorClass>(
  [
    BadRequestError,
    InvalidSdpError,
    InvalidCandidateError,
    NotFoundError,
    ParticipantNotFoundError,
    ConflictError,
    RecordingCancelledError,
    RoomFullError,
    PayloadTooLargeError,
  ].map((c) => [c.name, c]),
);

/**
 * An error from the other side whose class this side does not know (a plain Error, a
 * TypeError, an ffmpeg failure...): its name and code are kept as they were.
 */
export class RemoteError extends Error {
  constructor(
    name: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = name;
  }
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = err instanceof DomainError || err instanceof RemoteError ? err.code : undefined;
    return { name: err.name, message: err.message, ...(code ? { code } : {}), stack: err.stack };
  }
  return { name: 'Error', message: String(err) };
}

/**
 * Rebuilds an error that crossed a process boundary: the same class when it is a known domain
 * error (so `instanceof` and the HTTP/socket mapping work), a RemoteError otherwise. The stack
 * is this side's (where the answer arrived) followed by the remote one (where it was thrown).
 */
export function reviveError(e: SerializedError, origin = 'remote process'): Error {
  const Known = revivable.get(e.name);
  const err = Known ? new Known(e.message) : new RemoteError(e.name, e.message, e.code);
  if (e.stack)
    err.stack = `${err.stack ?? `${e.name}: ${e.message}`}\n    --- thrown in ${origin} ---\n${e.stack}`;
  return err;
}
