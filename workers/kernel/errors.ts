/**
 * Domain errors both sides throw: the media worker (bad SDP, unknown participant, full room...),
 * the recording pipeline, and the control plane. `code` is stable and part of the public API
 * (REST `error` field, socket error `code`); the control plane maps it to HTTP statuses in one
 * filter and to socket error events in one place. Errors only the control plane throws are in
 * src/common/errors.ts. Nothing in domain or media code throws HttpException.
 */
import type { ErrorCode } from '../protocol/errors';

export type { ErrorCode };

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
export class NotFoundError extends DomainError {
  override readonly code = 'not_found';
}
export class ParticipantNotFoundError extends NotFoundError {}
export class ConflictError extends DomainError {
  override readonly code = 'conflict';
}
/**
 * A recording capture was stopped before it ever ran (a stop that overtook its start, or a start
 * that failed): there is nothing to stop or finalize from it.
 */
export class RecordingCancelledError extends ConflictError {}
export class RoomFullError extends DomainError {
  override readonly code = 'room_full';
}
export class PayloadTooLargeError extends DomainError {
  override readonly code = 'payload_too_large';
}
