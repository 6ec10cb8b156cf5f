import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { PENALTY_WINDOW_MS, type RecentPlacement } from './placement';

/** DEL only if the value is still the given token. */
const RELEASE_IF = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** How long one placement may hold the cluster's placement lock (it takes a few ms). */
const LOCK_TTL_MS = 2000;
/** How long a placement waits for the lock before placing without it (never blocks a join). */
const LOCK_WAIT_MS = 2000;

/**
 * The recent placements of every control node, in Redis, so that the penalty for recent
 * placements (placement.ts) counts the rooms any control node placed, not only this one's: a
 * burst of first joins spread over several control nodes would otherwise land on the node that
 * each of them believes emptiest.
 *
 * One sorted set per media node, `${prefix}placements:<nodeId>`: member = room id + time, score =
 * the Redis clock (TIME) at placement, trimmed to PENALTY_WINDOW_MS and expiring with it. The
 * Redis clock is the one clock every control node shares (their own may drift apart by more
 * than a penalty's worth).
 *
 * Read, choose and record must not interleave between control nodes, or two simultaneous
 * placements both read "nothing recent" and choose the same node: `withLock` serialises them
 * with a short cluster-wide lock (SET NX PX). A placement happens once per room start, so the
 * lock is cheap; if it cannot be had within LOCK_WAIT_MS (a holder died mid-placement) the
 * placement goes on without it rather than fail a join.
 */
export class PlacementLog {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  key(nodeId: string): string {
    return `${this.prefix}placements:${nodeId}`;
  }

  /** Milliseconds on the Redis server's clock. */
  async now(): Promise<number> {
    const [s, us] = await this.redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  /** Placements on the given nodes within the penalty window before `now`. */
  async recent(nodeIds: readonly string[], now: number): Promise<RecentPlacement[]> {
    if (nodeIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of nodeIds)
      pipeline.zrangebyscore(this.key(id), now - PENALTY_WINDOW_MS, '+inf', 'WITHSCORES');
    const results = (await pipeline.exec()) ?? [];
    const recent: RecentPlacement[] = [];
    results.forEach(([err, reply], i) => {
      if (err) throw err;
      const flat = reply as string[];
      for (let j = 1; j < flat.length; j += 2) recent.push({ nodeId: nodeIds[i], at: Number(flat[j]) });
    });
    return recent;
  }

  /** Records a placement and trims the node's set to the window. */
  async record(nodeId: string, roomId: string, at: number): Promise<void> {
    const key = this.key(nodeId);
    await this.redis
      .multi()
      .zadd(key, at, `${roomId}@${at}`)
      .zremrangebyscore(key, '-inf', at - PENALTY_WINDOW_MS)
      .pexpire(key, PENALTY_WINDOW_MS)
      .exec();
  }

  /** Runs `fn` holding the cluster's placement lock (or without it after LOCK_WAIT_MS). */
  async withLock<T>(fn: () => Promise<T>): Promise<{ result: T; locked: boolean }> {
    const key = `${this.prefix}placement-lock`;
    const token = randomBytes(8).toString('hex');
    const deadline = Date.now() + LOCK_WAIT_MS;
    let locked = false;
    for (;;) {
      locked = (await this.redis.set(key, token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK';
      if (locked || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    }
    try {
      return { result: await fn(), locked };
    } finally {
      if (locked) await this.redis.eval(RELEASE_IF, 1, key, token);
    }
  }
}
