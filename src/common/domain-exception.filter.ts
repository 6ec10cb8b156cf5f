import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { asUnavailable } from '../redis/redis-errors';
import { DomainError, RateLimitedError, ServerBusyError, UnavailableError, type ErrorCode } from './errors';
import { Logger } from './logger';

/** The one map from domain error codes to HTTP statuses. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_sdp: 400,
  invalid_candidate: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  room_full: 409,
  limit_reached: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  server_busy: 503,
  unavailable: 503,
  node_draining: 503,
  insufficient_storage: 507,
  timeout: 504,
  worker_closed: 503,
  internal: 500,
};

const log = new Logger('http');

/** Every error leaves the REST API as `{ error, message }` with a status from HTTP_STATUS. */
@Catch()
export class DomainExceptionFilter implements ExceptionFilter {
  catch(thrown: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    // A Redis outage reached from any path (repository, BullMQ) is a 503 the client may retry.
    const exception = asUnavailable(thrown) ?? thrown;
    if (exception instanceof DomainError) {
      if (
        exception instanceof RateLimitedError ||
        exception instanceof UnavailableError ||
        exception instanceof ServerBusyError
      )
        res.setHeader('Retry-After', String(exception.retryAfterSeconds));
      res.status(HTTP_STATUS[exception.code]).json({ error: exception.code, message: exception.message });
      return;
    }
    if (exception instanceof HttpException) {
      // Nest's own (404 for unknown routes, body-parser 413, validation pipes).
      const status = exception.getStatus();
      const body = exception.getResponse();
      const message =
        typeof body === 'string'
          ? body
          : Array.isArray((body as { message?: unknown }).message)
            ? (body as { message: string[] }).message.join('; ')
            : String((body as { message?: unknown }).message ?? exception.message);
      res.status(status).json({ error: codeForStatus(status), message });
      return;
    }
    const status = (exception as { status?: number; type?: string })?.status;
    if (status === 413 || status === 400) {
      // body-parser errors (entity.too.large, entity.parse.failed) arrive as plain errors.
      res.status(status).json({ error: codeForStatus(status), message: (exception as Error).message });
      return;
    }
    log.error('unhandled error in a request', { err: exception });
    res.status(500).json({ error: 'internal', message: 'internal error' });
  }
}

function codeForStatus(status: number): ErrorCode {
  const found = (Object.entries(HTTP_STATUS) as [ErrorCode, number][]).find(([, s]) => s === status);
  return found ? found[0] : 'internal';
}
