import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RateLimiter } from '../../../src/auth/rate-limiter';
import { RateLimitedError } from '../../../src/common/errors';

/** Two Redis connections stand for two nodes of a cluster sharing one Redis. */
describe('token-bucket rate limiter in Redis', () => {
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  let nodeA: Redis;
  let nodeB: Redis;
  let prefix: string;
  let now = 0;
  const clock = () => now;

  beforeAll(() => {
    nodeA = new Redis(url);
    nodeB = new Redis(url);
  });

  beforeEach(() => {
    prefix = `t${randomBytes(4).toString('hex')}:`;
    now = 1_700_000_000_000;
  });

  afterAll(async () => {
    const keys = await nodeA.keys('t*:ratelimit:*');
    if (keys.length) await nodeA.del(...keys);
    await nodeA.quit();
    await nodeB.quit();
  });

  async function refused(p: Promise<void>): Promise<RateLimitedError> {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RateLimitedError);
    return err as RateLimitedError;
  }

  it('allows a burst of the per-minute figure, then refuses with a retry delay', async () => {
    const l = new RateLimiter(nodeA, prefix, 3, 'join', clock);
    for (let i = 0; i < 3; i++) await l.consume('a');
    const err = await refused(l.consume('a'));
    expect(err.retryAfterSeconds).toBe(20);
    expect(err.message).toMatch(/at most 3 per minute/);
  });

  it('keeps one bucket per client', async () => {
    const l = new RateLimiter(nodeA, prefix, 1, 'join', clock);
    await l.consume('a');
    await expect(l.consume('b')).resolves.toBeUndefined();
    await refused(l.consume('a'));
  });

  it('refills evenly over a minute', async () => {
    const l = new RateLimiter(nodeA, prefix, 60, 'token', clock);
    for (let i = 0; i < 60; i++) await l.consume('a');
    await refused(l.consume('a'));
    now += 1000;
    await expect(l.consume('a')).resolves.toBeUndefined();
    await refused(l.consume('a'));
  });

  it('is one limit across nodes: requests spread over two nodes share the bucket', async () => {
    const onA = new RateLimiter(nodeA, prefix, 4, 'join', clock);
    const onB = new RateLimiter(nodeB, prefix, 4, 'join', clock);
    await onA.consume('198.51.100.9');
    await onB.consume('198.51.100.9');
    await onA.consume('198.51.100.9');
    await onB.consume('198.51.100.9');
    await refused(onA.consume('198.51.100.9'));
    await refused(onB.consume('198.51.100.9'));
  });

  it("uses Redis's clock by default, and the key expires once the bucket is full again", async () => {
    const l = new RateLimiter(nodeA, prefix, 2, 'join');
    await l.consume('c');
    await l.consume('c');
    await refused(l.consume('c'));
    const ttl = await nodeA.pttl(`${prefix}ratelimit:join:c`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(61_000);
  });
});
