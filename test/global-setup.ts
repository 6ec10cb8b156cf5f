import { EmbeddedRedis } from '../src/redis/embedded-redis';
import { setLogSink } from '../src/common/logger';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * One real redis-server for the tests that talk to Redis directly (BullMQ queues get a random
 * name per test). Started here so the suite depends on nothing pre-started on the machine;
 * servers under test start their own embedded redis-server as `npm start` does.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_REDIS_URL) return;
  setLogSink(() => undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-test-redis-'));
  const redis = new EmbeddedRedis(dir);
  process.env.TEST_REDIS_URL = await redis.start();
  (globalThis as { __testRedis?: EmbeddedRedis }).__testRedis = redis;
}
