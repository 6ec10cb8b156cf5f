/**
 * Domain errors. Thrown by services, the media worker and the channel between them; mapped to
 * HTTP statuses in one filter (domain-exception.filter.ts) and to socket error events in one place
 * (signaling gateway). Nothing in domain or media code throws HttpException.
 *
 * `code` is stable and part of the public API (REST `error` field, socket error `code`).
 */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_sdp'
  | 'invalid_candidate'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'room_full'
  | 'limit_reached'
  | 'payload_too_large'
  | 'unprocessable'
  | 'rate_limited'
  | 'unavailable'
  | 'timeout'
  | 'worker_closed'
  | 'internal';

export class DomainError extends Error {
  readonly code: ErrorCode = 'internal';
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends DomainError {
  override readonly code = 'bad_request';
}
export class InvalidSdpError extends DomainError {
  override readonly code = 'invalid_sdp';
}
export class InvalidCandidateError extends DomainError {
  override readonly code = 'invalid_candidate';
}
export class UnauthorizedError extends DomainError {
  override readonly code = 'unauthorized';
}
export class ForbiddenError extends DomainError {
  override readonly code = 'forbidden';
}
export class NotFoundError extends DomainError {
  override readonly code = 'not_found';
}
export class RoomNotFoundError extends NotFoundError {}
export class ParticipantNotFoundError extends NotFoundError {}
export class ConflictError extends DomainError {
  override readonly code = 'conflict';
}
export class RoomFullError extends DomainError {
  override readonly code = 'room_full';
}
/** A configured limit other than room capacity (MAX_ROOMS, ...) would be exceeded. */
export class LimitReachedError extends DomainError {
  override readonly code = 'limit_reached';
}
export class PayloadTooLargeError extends DomainError {
  override readonly code = 'payload_too_large';
}
export class UnprocessableError extends DomainError {
  override readonly code = 'unprocessable';
}
export class RateLimitedError extends DomainError {
  override readonly code = 'rate_limited';
  /** Seconds until the next request would be accepted (sent as Retry-After). */
  retryAfterSeconds = 1;
}
export class UnavailableError extends DomainError {
  override readonly code = 'unavailable';
}
/** A request to a media worker got no answer in time. */
export class WorkerTimeoutError extends DomainError {
  override readonly code = 'timeout';
}
/** The media worker's channel closed (worker exited or died) while a request was pending. */
export class WorkerClosedError extends DomainError {
  override readonly code = 'worker_closed';
}

const byName: Record<string, new (message: string) => DomainError> = {
  BadRequestError,
  InvalidSdpError,
  InvalidCandidateError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  RoomNotFoundError,
  ParticipantNotFoundError,
  ConflictError,
  RoomFullError,
  LimitReachedError,
  PayloadTooLargeError,
  UnprocessableError,
  RateLimitedError,
  UnavailableError,
  WorkerTimeoutError,
  WorkerClosedError,
};

/** Rebuilds an error that crossed a process boundary as `{ name, message }`. */
export function reviveError(e: { name: string; message: string; stack?: string }): Error {
  const Ctor = byName[e.name];
  const err = Ctor ? new Ctor(e.message) : new Error(e.message);
  if (!Ctor) err.name = e.name;
  return err;
}

export function serializeError(err: unknown): {
  name: string;
  message: string;
  code?: string;
  stack?: string;
} {
  if (err instanceof DomainError) return { name: err.name, message: err.message, code: err.code };
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}
