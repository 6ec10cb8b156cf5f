import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Logger } from '../common/logger';

export interface EmbeddedRedisEvents {
  /** The redis-server died and a new one now serves the same port and data. */
  restarted: [restarts: number];
  /** The redis-server died and could not be brought back: the server cannot work any more. */
  fatal: [err: Error];
}

/** Restart delays after an unexpected exit; more deaths than this within the window is fatal. */
const RESTART_DELAYS_MS = [100, 500, 1000, 2000, 4000];
const DEATH_WINDOW_MS = 60_000;

/**
 * The zero-configuration default: with no REDIS_URL the server runs its own redis-server child
 * on a free loopback port, with its data (AOF on) under DATA_DIR/redis, and stops it on exit.
 *
 * It is supervised: if it dies, a new one is started on the same port and the same AOF within a
 * few seconds, so every client (ioredis, BullMQ) reconnects to the URL it already has and the
 * rooms configured before are still there. If it keeps dying or cannot be started again, `fatal`
 * is emitted and the server exits non-zero for an outer supervisor to restart it.
 *
 * A redis-server left behind by a server that was SIGKILLed (its pid file names it) is stopped
 * at start — only once the caller holds the data folder (DataDirLock), so the one it stops can
 * only belong to a dead server, never to a running one.
 */
export class EmbeddedRedis extends EventEmitter<EmbeddedRedisEvents> {
  private child: ChildProcess | null = null;
  private readonly log = new Logger('embedded-redis');
  private port = 0;
  private stopping = false;
  private readonly deaths: number[] = [];
  restarts = 0;
  url = '';

  constructor(private readonly dataDir: string) {
    super();
  }

  private get dir(): string {
    return path.join(this.dataDir, 'redis');
  }

  private get pidFile(): string {
    return path.join(this.dir, 'redis.pid');
  }

  async start(): Promise<string> {
    fs.mkdirSync(this.dir, { recursive: true });
    await stopLeftBehind(this.pidFile, this.dir, this.log);
    this.port = await freePort();
    await this.spawnRedis();
    this.url = `redis://127.0.0.1:${this.port}`;
    this.log.info('embedded redis-server started', {
      port: this.port,
      dir: this.dir,
      redisPid: this.child?.pid,
    });
    return this.url;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGTERM makes redis fsync its AOF and exit; SIGKILL only if it does not within 5 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    this.child = null;
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
    this.log.info('embedded redis-server stopped');
  }

  private async spawnRedis(): Promise<void> {
    const args = [
      '--bind',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--dir',
      this.dir,
      '--appendonly',
      'yes',
      // everysec acknowledges a write before it reaches the file and, while an earlier fsync is
      // still running (a busy disk), postpones even the write() for up to 2 s: a room created just
      // before a crash of redis-server was lost (seen in the fault tests under load). Every
      // acknowledged write is on disk with `always`; its cost on this machine: 4.8k SET/s for one
      // client, 25k/s for ten (redis-benchmark), far above the control plane's tens per second.
      '--appendfsync',
      'always',
      '--save',
      '',
      '--pidfile',
      this.pidFile,
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
    let output = '';
    child.stdout?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
    child.stderr?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
    const port = this.port;
    try {
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
    } catch (err) {
      child.removeAllListeners('exit');
      child.kill('SIGKILL');
      throw err;
    }
    child.removeAllListeners('exit');
    child.once('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      if (this.stopping) return;
      this.log.error('embedded redis-server died; restarting it on the same port and data', {
        code,
        signal,
        port,
        output: output.trim(),
      });
      void this.restart();
    });
    this.child = child;
  }

  private async restart(): Promise<void> {
    const now = Date.now();
    this.deaths.push(now);
    while (this.deaths.length > 0 && now - this.deaths[0] > DEATH_WINDOW_MS) this.deaths.shift();
    if (this.deaths.length > RESTART_DELAYS_MS.length) {
      this.fail(new Error(`embedded redis-server died ${this.deaths.length} times within a minute`));
      return;
    }
    let lastErr: Error | null = null;
    for (const delay of RESTART_DELAYS_MS) {
      await new Promise((r) => setTimeout(r, delay));
      if (this.stopping) return;
      try {
        await this.spawnRedis();
        this.restarts++;
        this.log.warn('embedded redis-server restarted', {
          port: this.port,
          redisPid: this.child?.pid,
          restarts: this.restarts,
        });
        this.emit('restarted', this.restarts);
        return;
      } catch (err) {
        lastErr = err as Error;
        this.log.error('embedded redis-server did not restart; trying again', { err, port: this.port });
      }
    }
    this.fail(new Error(`embedded redis-server could not be restarted: ${lastErr?.message ?? 'unknown'}`));
  }

  private fail(err: Error): void {
    this.log.error('embedded redis-server is gone for good', { err });
    this.emit('fatal', err);
  }
}

const HAS_SETPRIV = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

/**
 * Stops a redis-server that an earlier server on this data folder left behind. It must be a
 * redis-server working in this very folder (redis chdirs into its --dir; its command line is
 * rewritten to "redis-server host:port"), because a pid file can name a recycled pid.
 */
async function stopLeftBehind(pidFile: string, dir: string, log: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  let isOurs = false;
  try {
    const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    isOurs = comm.startsWith('redis-server') && fs.readlinkSync(`/proc/${pid}/cwd`) === fs.realpathSync(dir);
  } catch {
    return; // gone, or not ours to look at
  }
  if (!isOurs) return;
  log.warn('stopping a redis-server left behind by an earlier server on this data folder', { redisPid: pid });
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
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
