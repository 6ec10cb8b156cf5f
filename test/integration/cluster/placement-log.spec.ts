import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { PENALTY_WINDOW_MS } from '../../../src/cluster/placement';
import { PlacementLog } from '../../../src/cluster/placement-log';

/** Two Redis connections stand for two control nodes of a cluster sharing one Redis. */
describe('recent placements shared in Redis', () => {
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  let controlA: Redis;
  let controlB: Redis;
  let prefix: string;

  beforeAll(() => {
    controlA = new Redis(url);
    controlB = new Redis(url);
  });
  beforeEach(() => {
    prefix = `t${randomBytes(4).toString('hex')}:`;
  });
  afterAll(async () => {
    const keys = await controlA.keys('t*:placement*');
    if (keys.length) await controlA.del(...keys);
    await controlA.quit();
    await controlB.quit();
  });

  it("one control node's placements are seen by the other, within the window only", async () => {
    const a = new PlacementLog(controlA, prefix);
    const b = new PlacementLog(controlB, prefix);
    const now = await a.now();
    // The shared clock is the Redis server's: both control nodes read the same one.
    expect(Math.abs((await b.now()) - now)).toBeLessThan(1000);
    await a.record('media-1', 'room-old', now - PENALTY_WINDOW_MS - 1);
    await a.record('media-1', 'room-x', now - 1000);
    await a.record('media-1', 'room-y', now);
    await a.record('media-2', 'room-z', now);
    const seen = await b.recent(['media-1', 'media-2', 'media-3'], now);
    expect(seen.sort((p, q) => p.at - q.at || p.nodeId.localeCompare(q.nodeId))).toEqual([
      { nodeId: 'media-1', at: now - 1000 },
      { nodeId: 'media-1', at: now },
      { nodeId: 'media-2', at: now },
    ]);
    // Trimmed to the window as it is written, and the key expires with the window.
    expect(await controlB.zcard(a.key('media-1'))).toBe(2);
    const ttl = await controlB.pttl(a.key('media-1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(PENALTY_WINDOW_MS);
  });

  it('serialises placements of both control nodes under the placement lock', async () => {
    const logs = [new PlacementLog(controlA, prefix), new PlacementLog(controlB, prefix)];
    let inside = 0;
    let overlapped = false;
    const runs = await Promise.all(
      [0, 1, 0, 1, 0, 1].map((i) =>
        logs[i].withLock(async () => {
          inside++;
          if (inside > 1) overlapped = true;
          await new Promise((r) => setTimeout(r, 20));
          inside--;
          return i;
        }),
      ),
    );
    expect(overlapped).toBe(false);
    expect(runs.every((r) => r.locked)).toBe(true);
    expect(await controlA.exists(`${prefix}placement-lock`)).toBe(0);
  });

  it('releases the lock when the placement throws', async () => {
    const log = new PlacementLog(controlA, prefix);
    await expect(log.withLock(() => Promise.reject(new Error('no node can take it')))).rejects.toThrow(
      'no node can take it',
    );
    expect(await controlA.exists(`${prefix}placement-lock`)).toBe(0);
  });
});
