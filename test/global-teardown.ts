import type { EmbeddedRedis } from '../src/redis/embedded-redis';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __testRedis?: EmbeddedRedis }).__testRedis?.stop();
}
