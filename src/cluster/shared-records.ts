import type Redis from 'ioredis';
import type { Logger } from '../common/logger';

/** A record and the node that owns it (the node hosting its room). */
export interface SharedRecord<V> {
  node: string;
  /** The owning process: a node back under the same id does not own its predecessor's records. */
  bootId: string;
  view: V;
  /** HLS only: the unguessable token of the egress's files. */
  hlsToken?: string | null;
  /** When it reached a final state (ms since the epoch): old ones are pruned. */
  finishedAt?: number;
}

/**
 * Records of one kind (egresses, ingresses) in one Redis hash, `${prefix}<kind>-records`, id → JSON
 * `{ node, view, … }`: the owning node writes every change, any node's REST reads them (so GET
 * /api/egress/:id answers wherever the call lands) and finds which node to forward a stop to.
 * Writes are queued in order on the one connection and not awaited on the hot path (a state
 * change of an encode must never wait on Redis); a failed write is logged, the owner's memory
 * stays the truth for its own records.
 */
export class SharedRecords<V extends { id: string }> {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly kind: string,
    private readonly log: Logger,
  ) {
    this.key = `${prefix}${kind}-records`;
  }

  put(record: SharedRecord<V>): void {
    this.redis
      .hset(this.key, record.view.id, JSON.stringify(record))
      .catch((err: unknown) =>
        this.log.warn(`could not write a shared ${this.kind} record`, { id: record.view.id, err }),
      );
  }

  async get(id: string): Promise<SharedRecord<V> | null> {
    const raw = await this.redis.hget(this.key, id);
    return raw === null ? null : this.parse(raw);
  }

  async all(): Promise<SharedRecord<V>[]> {
    const raw = await this.redis.hgetall(this.key);
    const out: SharedRecord<V>[] = [];
    for (const v of Object.values(raw)) {
      const r = this.parse(v);
      if (r) out.push(r);
    }
    return out;
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.hdel(this.key, ...ids);
  }

  private parse(raw: string): SharedRecord<V> | null {
    try {
      // Written by put() from the same types on every node of one version.
      return JSON.parse(raw) as SharedRecord<V>;
    } catch {
      return null;
    }
  }
}
