import { Global, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';

export const REDIS_URL = Symbol('REDIS_URL');

/** The control plane's Redis connection (room registry, health); BullMQ opens its own. */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly client: Redis;

  constructor(readonly url: string) {
    this.client = new Redis(url, { maxRetriesPerRequest: 2 });
    // Errors surface through readiness and the calls that fail; without a listener ioredis
    // would print unstructured warnings.
    this.client.on('error', () => undefined);
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

  async onApplicationShutdown(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

@Global()
@Module({})
export class RedisModule {
  /** `url` is the effective URL: REDIS_URL, or the embedded redis-server's. */
  static forRoot(url: string): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        { provide: REDIS_URL, useValue: url },
        { provide: RedisService, useFactory: () => new RedisService(url) },
      ],
      exports: [REDIS_URL, RedisService],
    };
  }
}
