import type Redis from 'ioredis';
import { RateLimitedError } from '../common/errors';

/**
 * One token bucket, taken atomically in Redis: refill by the time elapsed since the last take,
 * then take one token if there is one. The clock is Redis's own (TIME), so nodes with skewed
 * clocks share one bucket correctly; tests may pass a clock (ARGV[3]). The key expires once the
 * bucket would be full again, so idle addresses cost nothing. Returns {taken 0|1, tokens left}
 * (as a string: a Lua number reply would be truncated to an integer).
 */
const TAKE_TOKEN = `
local capacity = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or capacity
local at = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * perMs)
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / perMs) + 1000)
return { taken, tostring(tokens) }
`;

type TakeToken = (key: string, capacity: number, perMs: number, now: string) => Promise<[number, string]>;

/**
 * A token bucket per key (a client address): `perMinute` requests in a burst, refilled evenly
 * over a minute. The buckets live in Redis under the key prefix, so the limit holds for a client
 * across every node of a cluster (a client cannot multiply it by spreading its requests over
 * the nodes behind a load balancer). Redis unreachable: the request fails as `unavailable`, like
 * every other request that needs Redis.
 */
export class RateLimiter {
  private readonly perMs: number;
  private readonly take: TakeToken;

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
    private readonly perMinute: number,
    private readonly what: string,
    /** Tests only: a clock in ms instead of Redis's TIME. */
    private readonly now?: () => number,
  ) {
    this.perMs = perMinute / 60000;
    if (!('mcuTakeToken' in redis)) redis.defineCommand('mcuTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN });
    const command = (redis as unknown as { mcuTakeToken: TakeToken }).mcuTakeToken.bind(redis);
    this.take = command;
  }

  /** Takes one token for `key` or throws RateLimitedError. */
  async consume(key: string): Promise<void> {
    const [taken, left] = await this.take(
      `${this.keyPrefix}ratelimit:${this.what}:${key}`,
      this.perMinute,
      this.perMs,
      this.now ? String(this.now()) : '',
    );
    if (taken === 1) return;
    const err = new RateLimitedError(`too many ${this.what} requests; at most ${this.perMinute} per minute`);
    err.retryAfterSeconds = Math.max(1, Math.ceil((1 - Number(left)) / this.perMs / 1000));
    throw err;
  }
}
