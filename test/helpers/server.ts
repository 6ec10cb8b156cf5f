import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { setLogSink } from '../../src/common/logger';
import { AUTH_SECRETS, secretsFile, type AuthSecrets } from '../../src/auth/secrets';
import { startServer, type RunningServer } from '../../src/server';
import { registerAdminKey } from './api';

const HAS_SETPRIV = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

export const ROOT = path.resolve(__dirname, '../..');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mcu-${prefix}-`));
}

/**
 * A real server inside the test process (so tests can reach its services), on a random port,
 * with its own embedded redis-server and temp folders. Media workers are real child processes.
 */
export async function startTestServer(
  env: Record<string, string> = {},
): Promise<RunningServer & { logs: string[] }> {
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
    LOG_LEVEL: process.env.TEST_LOGS ? 'debug' : 'warn',
    MEDIA_IDLE_TIMEOUT_MS: '2000',
    ...env,
  });
  const server = await startServer(config);
  registerAdminKey(server.url, server.app.get<symbol, AuthSecrets>(AUTH_SECRETS).adminApiKey);
  return Object.assign(server, { logs });
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
export async function spawnServer(env: Record<string, string> = {}): Promise<ServerProcess> {
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
      MEDIA_IDLE_TIMEOUT_MS: '2000',
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
  return {
    proc,
    url,
    lines,
    dataDir,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Direct children of a process (Linux). */
export function childPids(pid: number): number[] {
  const out = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
