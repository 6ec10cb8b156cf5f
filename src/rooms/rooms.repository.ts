import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { RedisService } from '../redis/redis.module';
import { roomSchema, type Room } from './rooms.schemas';

/**
 * Room configurations in Redis: one JSON string per room under `<prefix>room:<id>` and a set of
 * ids under `<prefix>rooms`. Live participants are not stored here (they belong to a node).
 */
@Injectable()
export class RoomsRepository {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.prefix = config.redisKeyPrefix;
  }

  /** False when a room with this id exists already. */
  async create(room: Room): Promise<boolean> {
    const created = await this.redis.client.set(this.key(room.id), JSON.stringify(room), 'NX');
    if (created !== 'OK') return false;
    await this.redis.client.sadd(this.indexKey(), room.id);
    return true;
  }

  async get(id: string): Promise<Room | null> {
    const raw = await this.redis.client.get(this.key(id));
    return raw === null ? null : roomSchema.parse(JSON.parse(raw));
  }

  async list(): Promise<Room[]> {
    const ids = (await this.redis.client.smembers(this.indexKey())).sort();
    if (ids.length === 0) return [];
    const raws = await this.redis.client.mget(ids.map((id) => this.key(id)));
    return raws.filter((r): r is string => r !== null).map((r) => roomSchema.parse(JSON.parse(r)));
  }

  async count(): Promise<number> {
    return this.redis.client.scard(this.indexKey());
  }

  /** Overwrites an existing room; false when it was deleted meanwhile. */
  async save(room: Room): Promise<boolean> {
    return (await this.redis.client.set(this.key(room.id), JSON.stringify(room), 'XX')) === 'OK';
  }

  async delete(id: string): Promise<boolean> {
    const [[, removed]] = (await this.redis.client
      .multi()
      .del(this.key(id))
      .srem(this.indexKey(), id)
      .exec()) as [[Error | null, number], [Error | null, number]];
    return removed === 1;
  }

  private key(id: string): string {
    return `${this.prefix}room:${id}`;
  }

  private indexKey(): string {
    return `${this.prefix}rooms`;
  }
}
