import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { z } from 'zod';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { NotFoundError } from '../common/errors';
import { Logger } from '../common/logger';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { RedisService } from '../redis/redis.module';
import { NodeStateService } from './node-state';

/** How often a draining node looks whether its last room has ended. */
const DRAIN_POLL_MS = 500;

/** What one node asks another over `${prefix}node:${id}:control`. */
const controlMessage = z.object({ kind: z.literal('drain'), reason: z.string().max(200) });
type ControlMessage = z.infer<typeof controlMessage>;

export type DrainOutcome = 'empty' | 'timeout';

/** The Redis channel a node listens on for requests addressed to it. */
export function nodeControlChannel(prefix: string, nodeId: string): string {
  return `${prefix}node:${nodeId}:control`;
}

/**
 * Drains this node: when NodeStateService turns `draining`, it waits until no room is hosted
 * here (MediaSupervisor has no worker left; empty rooms close at once while draining) or until
 * DRAIN_TIMEOUT_S, then tells main.ts, which stops the server and exits 0. Rooms still live at
 * the deadline end as at any shutdown (`room-ended {reason: 'server-shutdown'}`).
 *
 * It also carries drain requests between nodes: each node subscribes to its own control channel,
 * and a request for another node is published there (PUBLISH says how many nodes heard it).
 */
@Injectable()
export class DrainService implements OnModuleInit, OnApplicationShutdown {
  private subscriber: Redis | null = null;
  private poll: NodeJS.Timeout | null = null;
  private deadline: NodeJS.Timeout | null = null;
  private readonly handlers: ((outcome: DrainOutcome) => void)[] = [];
  private done = false;
  private readonly log = new Logger('drain');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
    private readonly nodeState: NodeStateService,
    private readonly supervisor: MediaSupervisor,
  ) {}

  get nodeId(): string {
    return this.config.node.id;
  }

  async onModuleInit(): Promise<void> {
    this.nodeState.on('change', (state) => state === 'draining' && this.watch());
    // A subscriber connection cannot run other commands: a connection of its own. ioredis
    // subscribes again by itself after a reconnect.
    const sub = this.redis.client.duplicate();
    sub.on('error', () => undefined);
    sub.on('message', (_channel, raw: string) => this.onControlMessage(raw));
    this.subscriber = sub;
    await sub.subscribe(nodeControlChannel(this.config.redisKeyPrefix, this.nodeId));
  }

  /** Called once when the drain is over (main.ts stops the server and exits 0). */
  onDrained(handler: (outcome: DrainOutcome) => void): void {
    this.handlers.push(handler);
  }

  /**
   * Drains `nodeId`: this node at once, another one by asking it over Redis. A node nobody
   * listens for (unknown, or not running) is NotFoundError.
   */
  async requestDrain(nodeId: string, reason: string): Promise<'local' | 'remote'> {
    if (nodeId === this.nodeId) {
      this.nodeState.startDraining(reason);
      return 'local';
    }
    const message: ControlMessage = { kind: 'drain', reason };
    const heard = await this.redis.client.publish(
      nodeControlChannel(this.config.redisKeyPrefix, nodeId),
      JSON.stringify(message),
    );
    if (heard === 0) throw new NotFoundError(`node ${nodeId} not found (no running node has this id)`);
    this.log.info('asked another node to drain', { nodeId, reason });
    return 'remote';
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopWatching();
    const sub = this.subscriber;
    this.subscriber = null;
    if (sub) {
      await Promise.race([
        sub.quit().catch(() => undefined),
        new Promise((r) => setTimeout(r, 1000).unref()),
      ]);
      sub.disconnect();
    }
  }

  private onControlMessage(raw: string): void {
    let m: ControlMessage;
    try {
      m = controlMessage.parse(JSON.parse(raw));
    } catch {
      this.log.warn('ignored a malformed node control message', { nodeId: this.nodeId });
      return;
    }
    if (m.kind === 'drain') this.nodeState.startDraining(m.reason);
  }

  private watch(): void {
    const timeoutS = this.config.node.drainTimeoutS;
    this.log.info('draining: no new rooms; waiting for the live ones to end', {
      nodeId: this.nodeId,
      rooms: this.supervisor.size,
      drainTimeoutS: timeoutS,
    });
    // Rooms already empty (waiting out their idle delay) close now: nobody is in them.
    for (const roomId of this.supervisor.roomIds())
      if (this.supervisor.isIdle(roomId)) void this.supervisor.stop(roomId);
    const check = () => {
      if (this.supervisor.size === 0) this.finish('empty');
    };
    this.poll = setInterval(check, DRAIN_POLL_MS);
    if (timeoutS > 0) this.deadline = setTimeout(() => this.finish('timeout'), timeoutS * 1000);
    check();
  }

  private finish(outcome: DrainOutcome): void {
    if (this.done) return;
    this.done = true;
    this.stopWatching();
    const fields = { nodeId: this.nodeId, outcome, roomsLeft: this.supervisor.size };
    if (outcome === 'timeout') this.log.warn('drain deadline reached; ending the rooms still live', fields);
    else this.log.info('drained: no room left on this node', fields);
    for (const h of this.handlers) h(outcome);
  }

  private stopWatching(): void {
    if (this.poll) clearInterval(this.poll);
    if (this.deadline) clearTimeout(this.deadline);
    this.poll = this.deadline = null;
  }
}
