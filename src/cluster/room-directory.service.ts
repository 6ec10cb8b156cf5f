import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ROOM_CLAIM_TTL_MS } from '../../workers/protocol/cluster';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { ServerBusyError, UnavailableError } from '../common/errors';
import { Logger } from '../common/logger';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { RedisService } from '../redis/redis.module';
import { NodeRegistry, type NodeRecord } from './node-registry.service';
import { chooseNode, placementLoad } from './placement';
import { PlacementLog } from './placement-log';

/** SET if absent, or extend if ours; 0 when another node holds the claim. */
const CLAIM_OR_EXTEND = `
local v = redis.call('GET', KEYS[1])
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;
/** A room's members on its hosting node outlive a lost node long enough for the janitor. */
const MEMBERS_TTL_MS = 60_000;
/** Redis glob characters in a node id are matched literally by SCAN. */
const globEscape = (s: string): string => s.replace(/[*?[\]\\]/g, '\\$&');

/** DEL only if the value is still the given node. */
const RELEASE_IF = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Which node hosts which room: `${prefix}room-node:<roomId>` = node id, claimed with SET NX at
 * the room's first join (so two control nodes racing to start a room agree on one node) and
 * kept alive by the hosting node while it has the room's worker. Placement of a new room is the
 * pure rule of placement.ts over the registry.
 */
@Injectable()
export class RoomDirectory implements OnModuleInit {
  private readonly log = new Logger('cluster');
  /** Recent placements of every control node (the penalty), in Redis. */
  private readonly placements: PlacementLog;
  /** Rooms this node claimed and still refreshes, with when it last confirmed each. */
  private readonly claimed = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
    private readonly registry: NodeRegistry,
    private readonly supervisor: MediaSupervisor,
  ) {
    this.placements = new PlacementLog(redis.client, config.redisKeyPrefix);
  }

  onModuleInit(): void {
    // A room's claim lives as long as its worker here (idle ones included: a rejoin reuses it).
    if (this.config.node.clustered) this.registry.onTick(() => this.refresh(this.supervisor.roomIds()));
  }

  get selfId(): string {
    return this.config.node.id;
  }

  /** This process's registry bootId (a node back under the same id is another process). */
  get selfBootId(): string {
    return this.registry.bootId;
  }

  key(roomId: string): string {
    return `${this.config.redisKeyPrefix}room-node:${roomId}`;
  }

  /**
   * `${prefix}room-members:<nodeId>:<bootId>:<roomId>`, participantId → identity: who is in each
   * room this process hosts, so that when it dies the janitor can tell the webhook receivers
   * that they left (nobody else knew them). Per process (bootId), not per room claim: a room
   * re-placed before the janitor ran, or a node back under the same id, cannot mix members.
   */
  private membersPrefix(nodeId: string, bootId: string): string {
    return `${this.config.redisKeyPrefix}room-members:${nodeId}:${bootId}:`;
  }

  private membersKey(roomId: string): string {
    return this.membersPrefix(this.selfId, this.registry.bootId) + roomId;
  }

  /** Fire and forget (in order on the one connection): a join must not wait on it. */
  noteMember(roomId: string, participantId: string, identity: string): void {
    if (!this.config.node.clustered) return;
    const key = this.membersKey(roomId);
    this.redis.client
      .multi()
      .hset(key, participantId, identity)
      .pexpire(key, MEMBERS_TTL_MS)
      .exec()
      .catch((err: unknown) =>
        this.log.warn('could not record a room member', { roomId, participantId, err }),
      );
  }

  /**
   * Writes a room's whole member list again (every registry tick): a Redis that restarted, or a
   * write that failed, is repaired within NODE_REFRESH_MS, and the key's TTL is extended. Safe
   * against a join or leave under way: the snapshot is taken and queued at once, and every
   * member write goes out in order on the one connection.
   */
  syncMembers(roomId: string, members: readonly { participantId: string; identity: string }[]): void {
    if (!this.config.node.clustered) return;
    const key = this.membersKey(roomId);
    const m = this.redis.client.multi().del(key);
    if (members.length > 0)
      m.hset(key, Object.fromEntries(members.map((x) => [x.participantId, x.identity]))).pexpire(
        key,
        MEMBERS_TTL_MS,
      );
    m.exec().catch((err: unknown) => this.log.warn('could not write room members', { roomId, err }));
  }

  forgetMember(roomId: string, participantId: string): void {
    if (!this.config.node.clustered) return;
    this.redis.client.hdel(this.membersKey(roomId), participantId).catch(() => undefined);
  }

  forgetRoom(roomId: string): void {
    if (!this.config.node.clustered) return;
    this.redis.client.del(this.membersKey(roomId)).catch(() => undefined);
  }

  /** The members of every room a lost process hosted, removed from Redis as they are read. */
  async takeMembersOf(
    nodeId: string,
    bootId: string,
  ): Promise<Map<string, { participantId: string; identity: string }[]>> {
    const prefix = this.membersPrefix(nodeId, bootId);
    const out = new Map<string, { participantId: string; identity: string }[]>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.client.scan(
        cursor,
        'MATCH',
        `${globEscape(prefix)}*`,
        'COUNT',
        500,
      );
      cursor = next;
      for (const k of keys) {
        const members = await this.redis.client.hgetall(k);
        await this.redis.client.del(k);
        out.set(
          k.slice(prefix.length),
          Object.entries(members).map(([participantId, identity]) => ({ participantId, identity })),
        );
      }
    } while (cursor !== '0');
    return out;
  }

  /** The node holding the room's claim, or null. Single-node: always this node. */
  async hostOf(roomId: string): Promise<string | null> {
    if (!this.config.node.clustered) return this.selfId;
    return this.redis.client.get(this.key(roomId));
  }

  /**
   * The node that hosts the room, placing it when nobody does (or its host is gone from the
   * registry). Exactly one node wins a race: the SET NX.
   */
  async place(roomId: string): Promise<string> {
    if (!this.config.node.clustered) return this.selfId;
    const nodes = await this.registry.list();
    const alive = new Set(nodes.map((n) => n.id));
    const current = await this.redis.client.get(this.key(roomId));
    if (current && (alive.has(current) || current === this.selfId)) return current;
    if (current) {
      // Its node left the registry and the janitor has not cleared it yet.
      await this.redis.client.eval(RELEASE_IF, 1, this.key(roomId), current);
      this.log.warn('room claim of a dead node dropped', { roomId, nodeId: current });
    }
    const candidates = nodes.map(candidate);
    // Read, choose and record under the cluster's placement lock: every control node's recent
    // placements count, and two simultaneous placements see each other.
    const { result: placed, locked } = await this.placements.withLock(async () => {
      const now = await this.placements.now();
      const recent = await this.placements.recent(
        candidates.map((c) => c.nodeId),
        now,
      );
      const chosen = chooseNode(candidates, recent, now);
      if (!chosen) throw new ServerBusyError('no media node can take a new room now; retry later');
      const won = await this.redis.client.set(this.key(roomId), chosen, 'PX', ROOM_CLAIM_TTL_MS, 'NX');
      if (won !== 'OK') return null;
      await this.placements.record(chosen, roomId, now);
      const loads = Object.fromEntries(
        candidates.map((c) => [
          c.nodeId,
          c.accepting ? Math.round(placementLoad(c, recent, now) * 1000) / 1000 : null,
        ]),
      );
      this.log.info('room placed', { roomId, nodeId: chosen, placedBy: this.selfId, loads });
      return chosen;
    });
    if (!locked)
      this.log.warn('room placed without the placement lock (held too long by another node)', { roomId });
    if (placed) return placed;
    const winner = await this.redis.client.get(this.key(roomId));
    if (!winner) throw new UnavailableError(`room ${roomId} placement raced with its end; retry`);
    return winner;
  }

  /**
   * The hosting node's side of a join: the room's claim is ours (claimed now if nobody holds
   * it), or UnavailableError when another node holds it (the asking node retries and is routed).
   */
  async confirmHost(roomId: string): Promise<void> {
    if (!this.config.node.clustered) return;
    const ok = await this.redis.client.eval(
      CLAIM_OR_EXTEND,
      1,
      this.key(roomId),
      this.selfId,
      ROOM_CLAIM_TTL_MS,
    );
    if (ok !== 1) throw new UnavailableError(`room ${roomId} is hosted by another node; join again`);
    this.claimed.set(roomId, Date.now());
  }

  /**
   * Keeps the claims of the rooms this node hosts (re-claiming after a Redis restart lost them)
   * and releases the ones it no longer hosts.
   */
  async refresh(hosted: readonly string[]): Promise<void> {
    if (!this.config.node.clustered) return;
    const startedAt = Date.now();
    const now = new Set(hosted);
    for (const roomId of now) {
      const ok = await this.redis.client.eval(
        CLAIM_OR_EXTEND,
        1,
        this.key(roomId),
        this.selfId,
        ROOM_CLAIM_TTL_MS,
      );
      if (ok === 1) this.claimed.set(roomId, Date.now());
      else
        this.log.error('a room this node hosts is claimed by another node', { roomId, nodeId: this.selfId });
    }
    for (const [roomId, at] of [...this.claimed]) {
      // A claim confirmed since `hosted` was read belongs to a join whose worker is starting:
      // releasing it would let a racing join place the room a second time.
      if (now.has(roomId) || at >= startedAt) continue;
      await this.release(roomId);
    }
  }

  async release(roomId: string): Promise<void> {
    this.claimed.delete(roomId);
    if (!this.config.node.clustered) return;
    await this.redis.client.eval(RELEASE_IF, 1, this.key(roomId), this.selfId);
  }

  /** Drops every claim of a dead node; returns its rooms. */
  async clearNode(nodeId: string): Promise<string[]> {
    const prefix = this.key('');
    const rooms: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const k of keys) {
        if ((await this.redis.client.eval(RELEASE_IF, 1, k, nodeId)) === 1)
          rooms.push(k.slice(prefix.length));
      }
    } while (cursor !== '0');
    return rooms;
  }
}

function candidate(n: NodeRecord) {
  return {
    nodeId: n.id,
    accepting: n.state === 'active' && n.roles.includes('media'),
    cpuLoad: n.cpuLoad,
    committed: n.committed,
  };
}
