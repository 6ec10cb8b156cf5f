import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { DomainError, RateLimitedError, type ErrorCode } from './errors';
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
  unprocessable: 422,
  rate_limited: 429,
  unavailable: 503,
  timeout: 504,
  worker_closed: 503,
  internal: 500,
};

const log = new Logger('http');

/** Every error leaves the REST API as `{ error, message }` with a status from HTTP_STATUS. */
@Catch()
export class DomainExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (exception instanceof DomainError) {
      if (exception instanceof RateLimitedError)
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
