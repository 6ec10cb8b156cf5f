import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { NODE_REFRESH_MS, NODE_TTL_MS } from '../../workers/protocol/cluster';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { Logger } from '../common/logger';
import { RedisService } from '../redis/redis.module';
import { NodeRegistry } from './node-registry.service';
import { RoomDirectory } from './room-directory.service';

export interface JanitorEvents {
  /**
   * Another node is gone (unseen for NODE_TTL_MS, or back under a new bootId). Every node gets
   * it, to end the rooms of its own sockets that were hosted there.
   */
  'node-lost': [nodeId: string];
  /**
   * The rooms whose claims one node (the one that won the clean-up) cleared for a lost node,
   * and who was in the rooms that process hosted (RoomDirectory.takeMembersOf; a room in
   * `members` may be missing from `roomIds` when a join re-placed it before the clean-up).
   */
  'rooms-lost': [nodeId: string, roomIds: string[], lost: LostProcess];
}

export interface LostProcess {
  bootId: string;
  members: Map<string, { participantId: string; identity: string }[]>;
}

/**
 * Watches the registry on every node: a node whose entry expired (not refreshed for
 * NODE_TTL_MS) or that came back under another bootId is dead. Absence is trusted only when
 * Redis has been up for longer than an entry lives and the previous scan worked, so a Redis
 * restart never ends live rooms. The cluster-wide clean-up of a lost node (its room claims,
 * its recordings) runs once, on the node that takes its lock.
 */
@Injectable()
export class Janitor extends EventEmitter<JanitorEvents> implements OnModuleInit {
  private readonly log = new Logger('cluster');
  /** Nodes seen in the registry and their bootId. */
  private readonly seen = new Map<string, string>();
  private lastScanFailed = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
    private readonly registry: NodeRegistry,
    private readonly directory: RoomDirectory,
  ) {
    super();
  }

  onModuleInit(): void {
    if (this.config.node.clustered) this.registry.onTick(() => this.scan());
  }

  async scan(): Promise<void> {
    let nodes;
    let redisUptimeMs;
    try {
      nodes = await this.registry.list();
      redisUptimeMs = await this.redisUptimeMs();
    } catch (err) {
      this.lastScanFailed = true;
      throw err;
    }
    // Absence proves death only if Redis could have seen the node's refreshes for a whole TTL:
    // a Redis that just restarted (or that this node could not read) has lost entries of live
    // nodes, which write them again within NODE_REFRESH_MS.
    const trustAbsence = !this.lastScanFailed && redisUptimeMs > NODE_TTL_MS + NODE_REFRESH_MS;
    this.lastScanFailed = false;
    const lost: { id: string; bootId: string }[] = [];
    const present = new Set<string>();
    for (const n of nodes) {
      present.add(n.id);
      const before = this.seen.get(n.id);
      if (before !== undefined && before !== n.bootId) lost.push({ id: n.id, bootId: before });
      this.seen.set(n.id, n.bootId);
    }
    if (trustAbsence) {
      for (const [id, bootId] of this.seen) {
        if (id === this.config.node.id || present.has(id)) continue;
        lost.push({ id, bootId });
        this.seen.delete(id);
      }
    }
    for (const l of lost) await this.onLost(l.id, l.bootId);
  }

  private async redisUptimeMs(): Promise<number> {
    const info = await this.redis.client.info('server');
    return Number(/uptime_in_seconds:(\d+)/.exec(info)?.[1] ?? 0) * 1000;
  }

  private async onLost(nodeId: string, bootId: string): Promise<void> {
    this.log.error('cluster node lost', { nodeId, bootId, seenBy: this.config.node.id });
    this.emit('node-lost', nodeId);
    const lock = `${this.config.redisKeyPrefix}node-lost:${nodeId}:${bootId}`;
    if ((await this.redis.client.set(lock, this.config.node.id, 'PX', 60_000, 'NX')) !== 'OK') return;
    const rooms = await this.directory.clearNode(nodeId);
    const members = await this.directory.takeMembersOf(nodeId, bootId);
    this.log.warn('rooms of a lost node released', {
      nodeId,
      rooms,
      participants: [...members.values()].reduce((n, m) => n + m.length, 0),
    });
    this.emit('rooms-lost', nodeId, rooms, { bootId, members });
  }
}
