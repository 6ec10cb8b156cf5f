import { Global, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { Logger } from '../common/logger';
import type { EmbeddedRedis } from './embedded-redis';

export const REDIS_URL = Symbol('REDIS_URL');
/** The supervised embedded redis-server, or null with an external REDIS_URL. */
export const EMBEDDED_REDIS = Symbol('EMBEDDED_REDIS');

/** How long one command may wait for Redis before the caller gets `unavailable`. */
const COMMAND_TIMEOUT_MS = 3000;

/**
 * The control plane's Redis connection (room registry, health); BullMQ opens its own.
 *
 * During an outage commands fail fast (two reconnect attempts, a command timeout) so that REST
 * answers 503 `unavailable` with Retry-After instead of hanging; ioredis keeps reconnecting in the
 * background and everything resumes when Redis is back. A Redis that comes back with another
 * run id restarted: without persistence it lost every room's configuration, which is logged.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly client: Redis;
  private readonly log = new Logger('redis');
  private runId: string | null = null;
  private persistent: boolean | null = null;
  private wasDown = false;

  constructor(readonly url: string) {
    this.client = new Redis(url, {
      maxRetriesPerRequest: 2,
      commandTimeout: COMMAND_TIMEOUT_MS,
      retryStrategy: (times) => Math.min(times * 100, 1000),
    });
    // Errors surface through readiness and the calls that fail; without a listener ioredis
    // would print unstructured warnings.
    this.client.on('error', () => undefined);
    this.client.on('close', () => {
      if (!this.wasDown) this.log.warn('lost the connection to Redis; reconnecting');
      this.wasDown = true;
    });
    this.client.on('ready', () => {
      if (this.wasDown) this.log.info('reconnected to Redis');
      this.wasDown = false;
      void this.checkRestart();
    });
  }

  async ping(timeoutMs = 1000): Promise<boolean> {
    try {
      const r = await Promise.race([
        this.client.ping(),
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), timeoutMs).unref()),
      ]);
      return r === 'PONG';
    } catch {
      return false;
    }
  }

  /**
   * Whether this Redis keeps data across its own restart (AOF or RDB snapshots). Null when it
   * cannot be told (CONFIG is often disabled on managed Redis).
   */
  async persistence(): Promise<{ aof: boolean; rdb: boolean } | null> {
    try {
      const aof = (await this.client.config('GET', 'appendonly')) as string[];
      const save = (await this.client.config('GET', 'save')) as string[];
      return { aof: aof[1] === 'yes', rdb: (save[1] ?? '').trim() !== '' };
    } catch {
      return null;
    }
  }

  /** Logs loudly when an external Redis keeps nothing across a restart (called once at boot). */
  async warnIfVolatile(): Promise<void> {
    const p = await this.persistence();
    this.persistent = p ? p.aof || p.rdb : null;
    if (p && !this.persistent) {
      this.log.warn(
        'Redis has neither AOF nor RDB persistence: room configuration and queued jobs (recording ' +
          'finalize, webhooks) will not survive a Redis restart; run Redis with --appendonly yes',
        { redis: redactUrl(this.url) },
      );
    }
  }

  private async checkRestart(): Promise<void> {
    let info: string;
    try {
      info = await this.client.info('server');
    } catch {
      return;
    }
    const id = /run_id:(\w+)/.exec(info)?.[1] ?? null;
    if (this.runId && id && id !== this.runId) {
      const fields = { redis: redactUrl(this.url) };
      if (this.persistent === false)
        this.log.error(
          'Redis restarted without persistence: room configuration created before is lost',
          fields,
        );
      else this.log.warn('Redis restarted; its data came back from its persistence', fields);
    }
    this.runId = id ?? this.runId;
  }

  /** quit() waits for Redis; during an outage it would wait forever, so it is bounded. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.race([
      this.client.quit().catch(() => undefined),
      new Promise((r) => setTimeout(r, 1000).unref()),
    ]);
    this.client.disconnect();
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

@Global()
@Module({})
export class RedisModule {
  /** `url` is the effective URL: REDIS_URL, or the embedded redis-server's. */
  static forRoot(url: string, embedded: EmbeddedRedis | null): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        { provide: REDIS_URL, useValue: url },
        { provide: EMBEDDED_REDIS, useValue: embedded },
        { provide: RedisService, useFactory: () => new RedisService(url) },
      ],
      exports: [REDIS_URL, EMBEDDED_REDIS, RedisService],
    };
  }
}
