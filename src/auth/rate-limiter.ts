import { RateLimitedError } from '../common/errors';

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per key (a client address): `perMinute` requests in a burst, refilled evenly
 * over a minute. In memory and per node: it protects this process, which is what it is for.
 * Full buckets are forgotten so the map does not grow with every address ever seen.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillPerMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly what: string,
    private readonly now: () => number = Date.now,
  ) {
    this.refillPerMs = perMinute / 60000;
  }

  /** Takes one token for `key` or throws RateLimitedError. */
  consume(key: string): void {
    const now = this.now();
    this.sweep(now);
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.refillPerMs);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      const err = new RateLimitedError(
        `too many ${this.what} requests; at most ${this.perMinute} per minute`,
      );
      err.retryAfterSeconds = Math.max(1, Math.ceil((1 - b.tokens) / this.refillPerMs / 1000));
      throw err;
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
  }

  private lastSweep = 0;

  private sweep(now: number): void {
    if (now - this.lastSweep < 60000) return;
    this.lastSweep = now;
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.refillPerMs >= this.perMinute) this.buckets.delete(k);
    }
  }
}
