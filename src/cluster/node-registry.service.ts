import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { NODE_REFRESH_MS, NODE_TTL_MS } from '../../workers/protocol/cluster';
import type { AppConfig, NodeRole } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { Logger } from '../common/logger';
import { RedisService } from '../redis/redis.module';
import { LoadService } from '../load/load.service';

const NUDGE_DELAY_MS = 200;

/** Whether this node takes new rooms; the drain work provides the real one (NodeStateService). */
export interface NodeAcceptance {
  readonly accepting: boolean;
}
export const NODE_ACCEPTANCE = Symbol('NODE_ACCEPTANCE');

/** What sessions tell the registry about the rooms this node hosts. */
export interface HostedLoad {
  rooms: number;
  participants: number;
}

/** A node's registry entry, `${prefix}node:<id>` (GET /api/nodes). */
export interface NodeRecord {
  id: string;
  roles: NodeRole[];
  state: 'active' | 'draining';
  /** Random per process: a node that restarted under the same id lost its rooms. */
  bootId: string;
  /** Process tree CPU (server + media workers), fraction of the machine's cores. */
  cpuLoad: number;
  /**
   * Event-loop delay, ms: the worst of the control process's p99 over the last period and the
   * p99 its media workers reported at the last stats poll (METRICS_POLL_MS).
   */
  loopDelayMs: number;
  rooms: number;
  participants: number;
  /** Capacity in standard participants (NODE_CAPACITY). */
  capacity: number;
  /** Committed participant cost units / capacity (the load model, src/load). */
  committed: number;
  /** This node's HTTP address, for operators and internal use. */
  url: string;
  updatedAt: string;
}

/**
 * This node's entry in the cluster registry (every node registers; placement takes only active
 * nodes with the media role), refreshed every NODE_REFRESH_MS with PX NODE_TTL_MS: a node whose
 * entry is gone has not been seen for 6 s and is dead. Refreshes also emit 'tick' listeners
 * (claims of hosted rooms, the janitor), so the cluster's periodic work shares one timer.
 */
@Injectable()
export class NodeRegistry implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly bootId = randomBytes(8).toString('hex');
  private readonly log = new Logger('cluster');
  private readonly loop = monitorEventLoopDelay({ resolution: 20 });
  private timer: NodeJS.Timeout | null = null;
  private hosted: () => HostedLoad = () => ({ rooms: 0, participants: 0 });
  private readonly tickListeners: (() => Promise<void>)[] = [];
  private url = '';
  private nudged: NodeJS.Timeout | null = null;
  private loopDelayMs = 0;
  private failing = false;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(NODE_ACCEPTANCE) private readonly acceptance: NodeAcceptance,
    private readonly redis: RedisService,
    private readonly load: LoadService,
  ) {}

  get nodeId(): string {
    return this.config.node.id;
  }

  /** SessionsService: the rooms and participants this node hosts. */
  attachHostedLoad(source: () => HostedLoad): void {
    this.hosted = source;
  }

  /** Known once the server listens (after bootstrap): the entry is written again at once. */
  setUrl(url: string): void {
    this.url = url;
    void this.tick().catch(() => undefined);
  }

  /** Periodic cluster work run after each refresh (errors are logged, never thrown). */
  onTick(listener: () => Promise<void>): void {
    this.tickListeners.push(listener);
  }

  key(nodeId: string): string {
    return `${this.config.redisKeyPrefix}node:${nodeId}`;
  }

  onApplicationBootstrap(): void {
    this.loop.enable();
    void this.tick();
    this.timer = setInterval(() => void this.tick(), NODE_REFRESH_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.nudged) clearTimeout(this.nudged);
    this.nudged = null;
    this.stopped = true;
    this.loop.disable();
    // Leaving on purpose: the others need not wait 6 s to stop placing rooms here.
    await this.redis.client.del(this.key(this.nodeId)).catch(() => undefined);
  }

  /** The control process's event-loop delay over the period since the last refresh. */
  private measure(): void {
    this.loopDelayMs = this.loop.percentile(99) / 1e6;
    this.loop.reset();
  }

  /** This node's entry as of now (CPU and loop delay as of the last refresh). */
  record(): NodeRecord {
    const hosted = this.hosted();
    // CPU of the process tree, the workers' sustained loop delay and the committed units come
    // from the load model (src/load), the same figures admission control uses.
    const load = this.load.snapshot();
    return {
      id: this.nodeId,
      roles: [...this.config.node.roles],
      state: this.acceptance.accepting ? 'active' : 'draining',
      bootId: this.bootId,
      cpuLoad: round(load.cpuLoad),
      loopDelayMs: round(Math.max(this.loopDelayMs, load.loopDelayMs)),
      rooms: hosted.rooms,
      participants: hosted.participants,
      capacity: load.capacity,
      committed: round(load.committed / load.capacity),
      url: this.url,
      updatedAt: new Date().toISOString(),
    };
  }

  /** Every live node's entry (this one included once it has registered), sorted by id. */
  async list(): Promise<NodeRecord[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.client.scan(
        cursor,
        'MATCH',
        `${this.config.redisKeyPrefix}node:*`,
        'COUNT',
        500,
      );
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const values = await this.redis.client.mget(...keys);
    const nodes: NodeRecord[] = [];
    for (const v of values) {
      if (!v) continue; // expired between SCAN and MGET
      try {
        nodes.push(JSON.parse(v) as NodeRecord);
      } catch {
        this.log.warn('unreadable node registry entry ignored', { value: v.slice(0, 200) });
      }
    }
    return nodes.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * A participant joined or left: the entry is written again shortly (at most every
   * NUDGE_DELAY_MS), so that placements elsewhere see the new load before the next refresh. The
   * cluster benchmark showed why: with stats up to 2 s old, two of three rooms of 4 arriving
   * 2 s apart went to the same node (docs/scale-out.md).
   */
  nudge(): void {
    if (this.nudged || this.stopped || !this.config.node.clustered) return;
    this.nudged = setTimeout(() => {
      this.nudged = null;
      // Best effort: the next refresh writes the entry anyway (and reports a failing Redis).
      this.write().catch(() => undefined);
    }, NUDGE_DELAY_MS);
    this.nudged.unref();
  }

  private async write(): Promise<void> {
    await this.redis.client.set(this.key(this.nodeId), JSON.stringify(this.record()), 'PX', NODE_TTL_MS);
  }

  private async tick(): Promise<void> {
    this.measure();
    try {
      await this.write();
      if (this.failing) this.log.info('node registered again', { nodeId: this.nodeId });
      this.failing = false;
    } catch (err) {
      // Redis away: the entry expires and comes back with the next refresh that succeeds.
      if (!this.failing)
        this.log.warn('could not refresh the node registry entry', { nodeId: this.nodeId, err });
      this.failing = true;
    }
    for (const l of this.tickListeners) {
      await l().catch((err: unknown) =>
        this.log.warn('cluster periodic work failed', { nodeId: this.nodeId, err }),
      );
    }
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
