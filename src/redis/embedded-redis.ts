import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Logger } from '../common/logger';

/**
 * The zero-configuration default: with no REDIS_URL the server runs its own redis-server child
 * on a free loopback port, with its data (AOF on) under DATA_DIR/redis, and stops it on exit.
 * A pid file lets the next start stop a redis left behind by a server that was SIGKILLed.
 */
export class EmbeddedRedis {
  private child: ChildProcess | null = null;
  private readonly log = new Logger('embedded-redis');
  url = '';

  constructor(private readonly dataDir: string) {}

  async start(): Promise<string> {
    const dir = path.join(this.dataDir, 'redis');
    fs.mkdirSync(dir, { recursive: true });
    const pidFile = path.join(dir, 'redis.pid');
    stopStale(pidFile, this.log);
    const port = await freePort();
    const args = [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--save',
      '',
      '--pidfile',
      pidFile,
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--loglevel',
      'warning',
    ];
    // setpriv (util-linux) asks the kernel to SIGTERM redis when this process dies, even by
    // SIGKILL, so a crashed server leaves no redis-server behind; the pid file covers the rest.
    const child = HAS_SETPRIV
      ? spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'redis-server', ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let output = '';
    child.stdout?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
    child.stderr?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) =>
        reject(
          new Error(
            `could not start redis-server (${err.message}); install it (apt-get install redis-server) or set REDIS_URL`,
          ),
        ),
      );
      child.once('exit', (code) =>
        reject(new Error(`redis-server exited with code ${code} during start-up: ${output.trim()}`)),
      );
      waitForPort(port, 10000).then(resolve, reject);
    });
    child.removeAllListeners('exit');
    child.once('exit', (code, signal) => {
      if (this.child) this.log.error('embedded redis-server exited', { code, signal, output: output.trim() });
      this.child = null;
    });
    this.url = `redis://127.0.0.1:${port}`;
    this.log.info('embedded redis-server started', { port, dir, redisPid: child.pid });
    return this.url;
  }

  /** SIGTERM makes redis fsync its AOF and exit; SIGKILL only if it does not within 5 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
    this.log.info('embedded redis-server stopped');
  }
}

const HAS_SETPRIV = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

function stopStale(pidFile: string, log: Logger): void {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  const comm = spawnSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  if (comm.startsWith('redis-server')) {
    log.warn('stopping a redis-server left behind by an earlier run', { redisPid: pid });
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.write('PING\r\n');
      });
      s.once('data', (b) => {
        s.destroy();
        resolve(b.toString().startsWith('+PONG'));
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`redis-server did not answer on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
