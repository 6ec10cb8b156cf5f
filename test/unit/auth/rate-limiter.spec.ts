import { RateLimitedError } from '../../../src/common/errors';
import { RateLimiter } from '../../../src/auth/rate-limiter';

describe('token-bucket rate limiter', () => {
  let now = 0;
  const clock = () => now;

  beforeEach(() => {
    now = 1_000_000;
  });

  it('allows a burst of the per-minute figure, then refuses with a retry delay', () => {
    const l = new RateLimiter(3, 'join', clock);
    for (let i = 0; i < 3; i++) l.consume('a');
    let err: unknown;
    try {
      l.consume('a');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterSeconds).toBe(20);
    expect((err as RateLimitedError).message).toMatch(/at most 3 per minute/);
  });

  it('keeps one bucket per client', () => {
    const l = new RateLimiter(1, 'join', clock);
    l.consume('a');
    expect(() => l.consume('b')).not.toThrow();
    expect(() => l.consume('a')).toThrow(RateLimitedError);
  });

  it('refills evenly over a minute', () => {
    const l = new RateLimiter(60, 'token', clock);
    for (let i = 0; i < 60; i++) l.consume('a');
    expect(() => l.consume('a')).toThrow(RateLimitedError);
    now += 1000;
    expect(() => l.consume('a')).not.toThrow();
    expect(() => l.consume('a')).toThrow(RateLimitedError);
  });
});
