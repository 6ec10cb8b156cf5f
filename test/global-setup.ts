import { EmbeddedRedis } from '../src/redis/embedded-redis';
import { setLogSink } from '../workers/kernel/logger';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * One real redis-server for the tests that talk to Redis directly (BullMQ queues get a random
 * name per test). Started here so the suite depends on nothing pre-started on the machine;
 * servers under test start their own embedded redis-server as `npm start` does.
 *
 * Also the run's worker-death ledger (test/helpers/worker-deaths.ts): every test process appends
 * to it, and the global teardown fails the run if any worker died unexpectedly.
 */
export default async function globalSetup(): Promise<void> {
  const ledgerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-test-deaths-'));
  process.env.MCU_WORKER_DEATH_LEDGER = path.join(ledgerDir, 'worker-deaths.jsonl');
  if (process.env.TEST_REDIS_URL) return;
  setLogSink(() => undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-test-redis-'));
  const redis = new EmbeddedRedis(dir);
  process.env.TEST_REDIS_URL = await redis.start();
  (globalThis as { __testRedis?: EmbeddedRedis }).__testRedis = redis;
}
