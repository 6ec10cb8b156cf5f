import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { describeDeaths, unexpectedDeathsIn } from './helpers/worker-deaths';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __testRedis?: EmbeddedRedis }).__testRedis?.stop();
  const ledger = process.env.MCU_WORKER_DEATH_LEDGER;
  if (!ledger) return;
  const unexpected = unexpectedDeathsIn(ledger);
  fs.rmSync(path.dirname(ledger), { recursive: true, force: true });
  if (unexpected.length === 0) return;
  // A worker that died by a signal is a crash to investigate, even if every assertion passed.
  const lines = unexpected.map(
    (e) => `  ${e.testFile}: ${e.server}: ${describeDeaths(e.deaths)} (declared ${e.expected})`,
  );
  throw new Error(`unexpected worker deaths in this run (mcu_worker_deaths_total):\n${lines.join('\n')}`);
}
