/**
 * The server under test, as its own OS process exactly as `npm start` runs it
 * (`node dist/src/main.js`), in a temp folder, on a random loopback port. Stopping it takes
 * the whole process tree down: SIGTERM to the server (it stops its workers and redis), then
 * SIGKILL to any descendant still alive after a grace period.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ServerEndpoint } from './control-api';
import { processTree, stillSameProcess } from './process-tree';

const HAS_SETPRIV = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

const ROOT = path.resolve(__dirname, '../..');
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 6_000;
/**
 * BENCH_KEEP_SERVER_DIR=1: keep each server's directory (recordings, segments) after the run and
 * write its whole log there (server.log), for looking into a result.
 */
const KEEP_DIR = process.env.BENCH_KEEP_SERVER_DIR === '1';
/**
 * BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": Node flags for the server, which its
 * workers inherit (fork passes execArgv on): profiles of every process, written as each exits.
 */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
/** BENCH_LOG_LEVEL=info: the server logs its decisions too (with BENCH_KEEP_SERVER_DIR, to read them). */
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn';

export class ServerProcess implements ServerEndpoint {
  url = '';
  readonly adminApiKey = randomBytes(24).toString('hex');
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-bench-'));
  readonly logTail: string[] = [];
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** Descendants seen while running, so a stop can reach orphans of a crashed server. */
  private readonly known = new Map<number, number>();

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  /** `cpus` (a taskset list such as "0") pins the server and everything it starts. */
  async start(extraEnv: Record<string, string> = {}, cpus?: string): Promise<void> {
    // With LOG_LEVEL=warn the server does not log its "server listening" line, so the port is
    // chosen here and readiness is polled on /healthz.
    const port = await freePort();
    const main = [process.execPath, ...NODE_ARGS, path.join(ROOT, 'dist/src/main.js')];
    // taskset and setpriv exec node in place, so the pid we hold is still the server's.
    // --pdeathsig: if the bench itself dies (a native crash in wrtc), the kernel stops the
    // server too, and the server stops its own children.
    const pinned = cpus ? ['taskset', '-c', cpus, ...main] : main;
    const argv = HAS_SETPRIV ? ['setpriv', '--pdeathsig', 'SIGTERM', '--', ...pinned] : pinned;
    const proc = spawn(argv[0], argv.slice(1), {
      cwd: this.dir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: this.dir,
        HOST: '127.0.0.1',
        PORT: String(port),
        DATA_DIR: path.join(this.dir, 'data'),
        RECORDINGS_DIR: path.join(this.dir, 'recordings'),
        // Several servers run at once: RTMP ingest only where a test asks for it (a free port).
        RTMP_PORT: '0',
        LOG_LEVEL: LOG_LEVEL,
        ADMIN_API_KEY: this.adminApiKey,
        JWT_SECRET: randomBytes(32).toString('hex'),
        // The load generator is one client address joining dozens of times a minute.
        RATE_LIMIT_JOIN_PER_MINUTE: '100000',
        RATE_LIMIT_TOKENS_PER_MINUTE: '100000',
        MEDIA_MAX_PARTICIPANTS: '64',
        MEDIA_IDLE_TIMEOUT_MS: '2000',
        METRICS_POLL_MS: '1000',
        // The classic scenarios measure the engine past its capacity: no admission control,
        // no shedding. The overload scenario turns both on (bench/overload.ts).
        NODE_CAPACITY: '100000',
        ADMISSION_LIMIT: '1',
        ADMISSION_MAX_LOOP_DELAY_MS: '100000000',
        QUALITY_SHEDDING: 'off',
        // glibc's malloc tunables (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_, …): set in the
        // bench's environment to measure the server with them (the soak's media-worker RSS).
        ...mallocTunables(),
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    let buf = '';
    const onData = (b: Buffer): void => {
      buf += b.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.logTail.push(line);
        if (this.logTail.length > 200) this.logTail.shift();
        if (KEEP_DIR) fs.appendFileSync(path.join(this.dir, 'server.log'), `${line}\n`);
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    // A server bound to another address (HOST, e.g. a veth of the adaptive-downlink scenario) is reached there.
    const url = `http://${extraEnv.HOST ?? '127.0.0.1'}:${port}`;
    let dead = false;
    void this.exited.then(() => (dead = true));
    const deadline = performance.now() + START_TIMEOUT_MS;
    for (;;) {
      if (dead) throw new Error(`server exited before listening:\n${this.logTail.slice(-20).join('\n')}`);
      if (performance.now() > deadline) throw new Error('server did not become ready in time');
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.url = url;
  }

  /** Remembers the current descendants (call now and then while it runs). */
  rememberTree(): void {
    if (!this.pid) return;
    for (const p of processTree(this.pid)) this.known.set(p.pid, p.start);
  }

  /** Warnings and errors the server logged (for the results' notes). */
  problems(): string[] {
    return this.logTail.filter((l) => /"level":"(warn|error)"/.test(l));
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.rememberTree();
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, STOP_GRACE_MS))]);
    for (const [pid, start] of this.known) {
      if (!stillSameProcess({ pid, start })) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 1000))]);
    this.proc = null;
    if (KEEP_DIR) process.stderr.write(`[bench] server directory kept: ${this.dir}\n`);
    else fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A loopback port that was free a moment ago (the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The bench's own MALLOC_* settings, handed to the server it starts (and named in its reports). */
export function mallocTunables(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (k.startsWith('MALLOC_') && v !== undefined) out[k] = v;
  return out;
}
