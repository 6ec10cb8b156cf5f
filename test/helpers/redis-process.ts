import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { tempDir } from './server';

/**
 * A plain redis-server the test controls completely (an "external" Redis for REDIS_URL): it
 * can be stopped and started again on the same port and data, to play an outage. Unlike the
 * server's embedded Redis nothing restarts it behind the test's back.
 */
export interface RedisProcess {
  url: string;
  port: number;
  dir: string;
  /** SIGTERM (Redis fsyncs its AOF) and wait for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data folder. */
  start(): Promise<void>;
}

export async function startRedisProcess(opts: { appendonly?: boolean } = {}): Promise<RedisProcess> {
  const dir = tempDir('redis');
  const port = await freePort();
  let child: ChildProcess | null = null;
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dir,
    '--appendonly',
    opts.appendonly === false ? 'no' : 'yes',
    '--save',
    '',
    '--loglevel',
    'warning',
  ];
  const start = async () => {
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    child = c;
    process.once('exit', () => c.kill('SIGKILL'));
    await waitForPong(port, 10000);
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, dir, stop, start };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
      s.once('data', (b) => {
        s.destroy();
        resolve(b.toString().startsWith('+PONG'));
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
}
