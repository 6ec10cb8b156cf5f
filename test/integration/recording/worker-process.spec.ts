import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import Redis from 'ioredis';
import { tempRecordingsDir } from './media-fixtures';

/**
 * The real entry file as its own process: exit codes and signal handling. The bundle keeps
 * node_modules external and finds them through NODE_PATH.
 */
const root = path.resolve(__dirname, '../../..');
// A database of its own, so this worker (which uses the production queue name) can never take a
// job of another test or of a server using the same Redis.
const redisUrl = `${(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379').replace(/\/\d*$/, '')}/14`;

describe('workers/recording/main.ts as a process', () => {
  let dir: string;
  let entry: string;

  beforeAll(async () => {
    dir = await tempRecordingsDir();
    entry = path.join(dir, 'recording-worker.js');
    buildSync({
      entryPoints: [path.join(root, 'workers/recording/main.ts')],
      outfile: entry,
      bundle: true,
      platform: 'node',
      target: 'node20',
      packages: 'external',
      logLevel: 'silent',
    });
  });
  afterAll(async () => {
    const redis = new Redis(redisUrl);
    const keys = await redis.keys('bull:recording-finalize:*');
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await fs.rm(dir, { recursive: true, force: true });
  });

  function run(env: Record<string, string>) {
    const child = spawn(process.execPath, [entry], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_PATH: path.join(root, 'node_modules'),
        RECORDINGS_DIR: dir,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exit, output: () => out };
  }

  it('exits 78 with a clear message when REDIS_URL is missing', async () => {
    const p = run({});
    expect(await p.exit).toBe(78);
    expect(p.output()).toContain('REDIS_URL is required for a standalone recording worker');
  });

  it('exits 78 on an invalid setting', async () => {
    const p = run({ REDIS_URL: redisUrl, RECORDING_CONCURRENCY: 'lots' });
    expect(await p.exit).toBe(78);
    expect(p.output()).toContain('RECORDING_CONCURRENCY');
  });

  it('starts, then exits 0 on SIGTERM', async () => {
    const p = run({ REDIS_URL: redisUrl });
    for (let i = 0; i < 200 && !p.output().includes('recording worker started'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(p.output()).toContain('recording worker started');
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(p.output()).toContain('recording worker stopped');
  });
});
