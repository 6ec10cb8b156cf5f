import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { setLogSink } from '../../workers/kernel/logger';
import { AUTH_SECRETS, secretsFile, type AuthSecrets } from '../../src/auth/secrets';
import { MetricsService } from '../../src/metrics/metrics.service';
import { startServer, type RunningServer } from '../../src/server';
import { unhandledRejectionCount } from '../../src/common/process-faults';
import { registerAdminKey } from './api';
import { deathsFromLogLines, deathsFromRegistry, settleWorkerDeaths } from './worker-deaths';

const HAS_SETPRIV = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

export const ROOT = path.resolve(__dirname, '../..');

/**
 * The secrets every node of a cluster must share: a server with REDIS_URL refuses to boot
 * without them. The helpers add them whenever a test gives REDIS_URL (an empty value in the
 * test's env still means unset, for the test of that refusal).
 */
export const CLUSTER_SECRETS = {
  ADMIN_API_KEY: 'test-admin-key-0123456789',
  JWT_SECRET: 'test-jwt-secret-0123456789abcdef0123',
  WEBHOOK_SECRET: 'test-webhook-secret-0123',
} as const;

function withClusterSecrets(env: Record<string, string>): Record<string, string> {
  return env.REDIS_URL ? { ...CLUSTER_SECRETS, ...env } : env;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mcu-${prefix}-`));
}

/**
 * A real server inside the test process (so tests can reach its services), on a random port,
 * with its own embedded redis-server and temp folders. Media workers are real child processes.
 * close() fails if one of its workers died and the test did not declare it (expectWorkerDeaths),
 * and if a promise rejection escaped every handler while it ran (process-faults.ts counts them
 * instead of exiting; in the tests every such escape is a failure of the file that caused it).
 */
/**
 * Tests of other mechanisms run many small rooms on a loaded machine: what the server does
 * about load (refusing joins on capacity, CPU or worker lag; shedding video quality) would make
 * them depend on the machine's load. Off unless a test turns it on (admission.spec.ts,
 * quality-shedding.spec.ts).
 */
const LOAD_INDEPENDENT: Record<string, string> = {
  NODE_CAPACITY: '1000',
  ADMISSION_LIMIT: '1',
  ADMISSION_MAX_LOOP_DELAY_MS: '100000000',
  QUALITY_SHEDDING: 'off',
};

export async function startTestServer(
  testEnv: Record<string, string> = {},
): Promise<RunningServer & { logs: string[] }> {
  const env = withClusterSecrets(testEnv);
  const logs: string[] = [];
  setLogSink((line) => {
    logs.push(line);
    if (logs.length > 5000) logs.splice(0, 2500);
    if (process.env.TEST_LOGS) process.stdout.write(line + '\n');
  });
  const dir = tempDir('srv');
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: path.join(dir, 'data'),
    RECORDINGS_DIR: path.join(dir, 'recordings'),
    // Several servers run at once: RTMP ingest only where a test asks for it (a free port).
    RTMP_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOGS ? 'debug' : 'warn',
    MEDIA_IDLE_TIMEOUT_MS: '2000',
    ...LOAD_INDEPENDENT,
    ...env,
  });
  const rejectionsBefore = unhandledRejectionCount();
  const server = await startServer(config);
  registerAdminKey(server.url, server.app.get<symbol, AuthSecrets>(AUTH_SECRETS).adminApiKey);
  // Read after the close: a worker that crashes while the server shuts it down counts too.
  const deaths = server.app.get(MetricsService).registry.getSingleMetric('mcu_worker_deaths_total');
  const close = server.close;
  const tested = Object.assign(server, {
    logs,
    close: async () => {
      await close();
      const failure = deaths && settleWorkerDeaths(tested, server.url, await deathsFromRegistry(deaths));
      if (failure) throw new Error(failure);
      const escaped = unhandledRejectionCount() - rejectionsBefore;
      if (escaped > 0)
        throw new Error(
          `${escaped} unhandled promise rejection(s) while ${server.url} ran (see its error log)`,
        );
    },
  });
  return tested;
}

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  lines: string[];
  dataDir: string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawned servers still running: killed when the test process exits, even after a failure. */
const spawned = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of spawned) p.kill('SIGTERM');
});

/** The compiled server as its own OS process, exactly as `npm start` runs it. */
export async function spawnServer(testEnv: Record<string, string> = {}): Promise<ServerProcess> {
  const env = withClusterSecrets(testEnv);
  const dir = tempDir('proc');
  const dataDir = path.join(dir, 'data');
  // setpriv --pdeathsig: if the test process dies (e.g. a native crash in wrtc), the kernel
  // stops this server, which stops its own children.
  const argv = [process.execPath, path.join(ROOT, 'dist/src/main.js')];
  const cmd = HAS_SETPRIV ? ['setpriv', '--pdeathsig', 'SIGTERM', '--', ...argv] : argv;
  const proc = spawn(cmd[0], cmd.slice(1), {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      RECORDINGS_DIR: path.join(dir, 'recordings'),
      // Several servers run at once: RTMP ingest only where a test asks for it (a free port).
      RTMP_PORT: '0',
      MEDIA_IDLE_TIMEOUT_MS: '2000',
      ...LOAD_INDEPENDENT,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  const onData = (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  spawned.add(proc);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      spawned.delete(proc);
      resolve(code);
    }),
  );
  // From its log, after it is gone: a worker that crashes while the server shuts down counts too.
  // The ledger is keyed by the returned object, which only exists once the server listens; a
  // server that exits before that (a refused second start) is settled under a placeholder key.
  let ledgerKey: object = {};
  const deathCheck = exited.then(() =>
    settleWorkerDeaths(ledgerKey, `server process ${proc.pid}`, deathsFromLogLines(lines)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const l = lines.find((x) => x.includes('"server listening"'));
      if (l) {
        clearInterval(t);
        resolve(JSON.parse(l).url);
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(t);
      reject(new Error(`server exited with ${code} before listening:\n${lines.join('\n')}`));
    });
  });
  // A zero-config server keeps its generated admin key in DATA_DIR/secrets.json.
  const secrets = env.ADMIN_API_KEY
    ? null
    : (JSON.parse(fs.readFileSync(secretsFile(env.DATA_DIR ?? dataDir), 'utf8')) as AuthSecrets);
  registerAdminKey(url, env.ADMIN_API_KEY ?? (secrets as AuthSecrets).adminApiKey);
  const server: ServerProcess = {
    proc,
    url,
    lines,
    dataDir,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await exited;
      const failure = await deathCheck;
      if (failure) throw new Error(failure);
      const escaped = lines.filter((l) => l.includes('"unhandled promise rejection')).length;
      if (escaped > 0)
        throw new Error(`${escaped} unhandled promise rejection(s) in server process ${proc.pid}`);
      return code;
    },
  };
  ledgerKey = server;
  return server;
}

/** Direct children of a process (Linux). */
export function childPids(pid: number): number[] {
  const out = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * A machine's sudden death for a process and everything under it: the tree is frozen top-down
 * with SIGSTOP first, so no parent lives on to see (and log as a worker death) a child that
 * happens to be killed before it, then every process gets SIGKILL.
 */
export function killProcessTree(pid: number): void {
  const tree: number[] = [];
  // Stop each process before listing its children: a stopped process cannot spawn another.
  const freeze = (p: number) => {
    signal(p, 'SIGSTOP');
    tree.push(p);
    for (const c of childPids(p)) freeze(c);
  };
  freeze(pid);
  for (const p of tree) signal(p, 'SIGKILL');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** The ffmpeg children of a process with their command lines (Linux /proc). */
export function ffmpegChildren(pid: number): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const child of childPids(pid)) {
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited between the listing and the read
    }
    if (path.basename(argv[0]) === 'ffmpeg') out.push({ pid: child, cmdline: argv.join(' ') });
  }
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
