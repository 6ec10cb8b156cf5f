import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { reviveError, RemoteError, serializeError } from '../../workers/kernel/error-serialization';
import {
  CLUSTER_REQUEST_TIMEOUT_MS,
  type ClusterMessage,
  type ClusterMethod,
  type ClusterRequest,
  type ClusterRequestMap,
  type ClusterResponse,
} from '../../workers/protocol/cluster';
import { ERROR_CODES, type ErrorCode, type SerializedError } from '../../workers/protocol/errors';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { DomainError, UnavailableError, WorkerTimeoutError } from '../common/errors';
import { Logger } from '../common/logger';
import { RequestChannel } from '../common/request-channel';
import { RedisService } from '../redis/redis.module';

type Handler<M extends ClusterMethod> = (
  data: ClusterRequestMap[M]['req'],
) => Promise<ClusterRequestMap[M]['res']>;
type AnyHandler = (data: never) => Promise<unknown>;

/** A domain error thrown on another node whose class this side has not: its code is kept. */
export class RelayedError extends DomainError {
  override readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode) {
    super(message);
    this.code = code;
  }
}

const isErrorCode = (c: string | undefined): c is ErrorCode =>
  c !== undefined && (ERROR_CODES as readonly string[]).includes(c);

/**
 * Requests between nodes, over Redis: the RequestChannel of the media worker channel with a
 * Redis transport. Every node subscribes to `${prefix}bus:<nodeId>`; a request is PUBLISHed to
 * the target's channel with the asking node's id, the answer to the asker's. PUBLISH says how
 * many subscribers got it, so a request to a node that is gone fails at once rather than at
 * its timeout. Errors come back as the same domain errors (the same code on REST and sockets).
 */
@Injectable()
export class ClusterBus implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('cluster');
  private readonly channels = new Map<string, RequestChannel<ClusterRequestMap>>();
  private readonly handlers = new Map<ClusterMethod, AnyHandler>();
  private sub: Redis | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  get selfId(): string {
    return this.config.node.id;
  }

  private channelName(nodeId: string): string {
    return `${this.config.redisKeyPrefix}bus:${nodeId}`;
  }

  async onModuleInit(): Promise<void> {
    if (!this.config.node.clustered) return;
    // A subscriber connection cannot run other commands; ioredis resubscribes after a reconnect.
    this.sub = this.redis.client.duplicate({ commandTimeout: undefined });
    this.sub.on('error', () => undefined);
    this.sub.on('message', (_channel: string, raw: string) => this.onMessage(raw));
    await this.sub.subscribe(this.channelName(this.selfId));
  }

  async onApplicationShutdown(): Promise<void> {
    for (const c of this.channels.values()) c.close('node shutting down');
    const sub = this.sub;
    if (!sub) return;
    // quit, bounded: a disconnect would reject what the connection still has in flight.
    await Promise.race([sub.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    sub.disconnect();
  }

  /** Serves a method for the other nodes (one handler per method). */
  handle<M extends ClusterMethod>(method: M, handler: Handler<M>): void {
    this.handlers.set(method, handler as AnyHandler);
  }

  request<M extends ClusterMethod>(
    nodeId: string,
    method: M,
    data: ClusterRequestMap[M]['req'],
    timeoutMs?: number,
  ): Promise<ClusterRequestMap[M]['res']> {
    return this.channel(nodeId).request(method, data, timeoutMs);
  }

  private channel(nodeId: string): RequestChannel<ClusterRequestMap> {
    let c = this.channels.get(nodeId);
    if (c) return c;
    const client = this.redis.client;
    const name = this.channelName(nodeId);
    const from = this.selfId;
    c = new RequestChannel<ClusterRequestMap>(
      {
        get connected() {
          return client.status === 'ready';
        },
        send: (msg, done) => {
          const wire: ClusterRequest = { ...msg, from };
          client.publish(name, JSON.stringify(wire)).then(
            (receivers) => done(receivers > 0 ? null : new Error(`node ${nodeId} is not listening`)),
            (err: Error) => done(err),
          );
        },
      },
      {
        defaultTimeoutMs: CLUSTER_REQUEST_TIMEOUT_MS,
        peer: `node ${nodeId}`,
        closedError: (m) => new UnavailableError(m),
        timeoutError: (m) => new WorkerTimeoutError(m),
        revive: (e, method) => reviveClusterError(e, `node ${nodeId} (${method})`),
      },
    );
    this.channels.set(nodeId, c);
    return c;
  }

  private onMessage(raw: string): void {
    let m: ClusterMessage;
    try {
      m = JSON.parse(raw) as ClusterMessage;
    } catch {
      this.log.warn('unreadable cluster message ignored', { nodeId: this.selfId });
      return;
    }
    if (m.kind === 'response') this.channels.get(m.from)?.settle(m);
    else void this.serve(m);
  }

  private async serve(m: ClusterRequest): Promise<void> {
    const handler = this.handlers.get(m.method);
    let res: ClusterResponse;
    try {
      if (!handler) throw new UnavailableError(`node ${this.selfId} does not serve ${m.method}`);
      res = {
        kind: 'response',
        from: this.selfId,
        id: m.id,
        ok: true,
        data: (await handler(m.data as never)) ?? null,
      };
    } catch (err) {
      if (!(err instanceof DomainError))
        this.log.error('cluster request failed', {
          method: m.method,
          from: m.from,
          nodeId: this.selfId,
          err,
        });
      res = { kind: 'response', from: this.selfId, id: m.id, ok: false, error: serializeError(err) };
    }
    await this.redis.client
      .publish(this.channelName(m.from), JSON.stringify(res))
      .catch((err: unknown) =>
        this.log.warn('could not answer a cluster request', { method: m.method, err }),
      );
  }
}

/** The same class for the shared kernel's errors; any other domain error keeps its code. */
export function reviveClusterError(e: SerializedError, origin: string): Error {
  const err = reviveError(e, origin);
  if (err instanceof RemoteError && isErrorCode(err.code)) {
    const relayed = new RelayedError(err.message, err.code);
    relayed.stack = err.stack;
    return relayed;
  }
  return err;
}
