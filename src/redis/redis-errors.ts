import { UnavailableError } from '../common/errors';

/** ioredis / BullMQ failures that mean "Redis cannot be reached right now", not a bug. */
const UNREACHABLE_MESSAGES = [
  'Connection is closed',
  "Stream isn't writeable",
  'Command timed out',
  'Reached the max retries per request limit',
  'connect ECONNREFUSED',
  'read ECONNRESET',
  'write EPIPE',
  'getaddrinfo',
];
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

export function isRedisUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const code = (err as NodeJS.ErrnoException).code;
  if (code && UNREACHABLE_CODES.has(code)) return true;
  return UNREACHABLE_MESSAGES.some((m) => err.message.includes(m));
}

/** The error as the API shows it: a Redis outage becomes 503 `unavailable` with Retry-After. */
export function asUnavailable(err: unknown): UnavailableError | null {
  if (err instanceof UnavailableError) return err;
  if (!isRedisUnreachable(err)) return null;
  return new UnavailableError('the server cannot reach Redis right now; retry shortly');
}
