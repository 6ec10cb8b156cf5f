/**
 * The control plane's domain errors: the ones both sides throw (shared kernel,
 * workers/kernel/errors.ts) and the ones only the control plane throws (auth, limits, the
 * worker channel). Mapped to HTTP statuses in one filter (domain-exception.filter.ts) and to
 * socket error events in one place (signaling gateway).
 */
import { DomainError, NotFoundError } from '../../workers/kernel/errors';

export * from '../../workers/kernel/errors';

export class UnauthorizedError extends DomainError {
  override readonly code = 'unauthorized';
}
export class ForbiddenError extends DomainError {
  override readonly code = 'forbidden';
}
export class RoomNotFoundError extends NotFoundError {}
/** A request body in a content type the route does not take (WHIP/WHEP want application/sdp). */
export class UnsupportedMediaTypeError extends DomainError {
  override readonly code = 'unsupported_media_type';
}
/** A configured limit other than room capacity (MAX_ROOMS, ...) would be exceeded. */
export class LimitReachedError extends DomainError {
  override readonly code = 'limit_reached';
}
export class UnprocessableError extends DomainError {
  override readonly code = 'unprocessable';
}
export class RateLimitedError extends DomainError {
  override readonly code = 'rate_limited';
  /** Seconds until the next request would be accepted (sent as Retry-After). */
  retryAfterSeconds = 1;
}
/** A dependency (Redis, a media worker) cannot serve right now; the client should retry. */
export class UnavailableError extends DomainError {
  override readonly code = 'unavailable';
  /** Seconds after which a retry may succeed (sent as Retry-After). */
  retryAfterSeconds = 2;
}
/**
 * This node is draining (POST /api/nodes/:id/drain or SIGTERM with DRAIN_TIMEOUT_S): rooms that
 * are live here go on, a room that is not is never started here.
 */
export class NodeDrainingError extends DomainError {
  override readonly code = 'node_draining';
}
/** The recordings disk has too little free space (RECORDING_MIN_FREE_MB) to start writing. */
export class InsufficientStorageError extends DomainError {
  override readonly code = 'insufficient_storage';
}
/** A request to a media worker got no answer in time. */
export class WorkerTimeoutError extends DomainError {
  override readonly code = 'timeout';
}
/** The media worker's channel closed (worker exited or died) while a request was pending. */
export class WorkerClosedError extends DomainError {
  override readonly code = 'worker_closed';
}
/**
 * Admission control: this node cannot carry the join without degrading everyone already in
 * (NODE_CAPACITY × ADMISSION_LIMIT, its CPU or its workers' lag). Nothing changed; retry later.
 */
export class ServerBusyError extends DomainError {
  override readonly code = 'server_busy';
  retryAfterSeconds = 10;
}
