import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** What the owner of a data folder tells a second server that tries to start on it. */
export interface DataDirOwner {
  pid: number;
  port: number | null;
  url: string | null;
  startedAt: string;
  dataDir: string;
}

/** A second server tried to start with a DATA_DIR that a running server owns. */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
  constructor(
    readonly dataDir: string,
    readonly owner: DataDirOwner | null,
  ) {
    super(
      owner
        ? `DATA_DIR ${dataDir} is in use by a running server (pid ${owner.pid}, port ${owner.port ?? 'starting'}` +
            `, started ${owner.startedAt}); stop that server first or give this one another DATA_DIR`
        : `DATA_DIR ${dataDir} is in use by another running server; stop it first or give this one another DATA_DIR`,
    );
  }
}

const INFO_FILE = 'server.json';

/**
 * One server per data folder (its embedded Redis, secrets and pid files live there).
 *
 * The lock is a listening Unix socket in Linux's abstract namespace, named after the folder's
 * real path: binding it is atomic and exclusive, and the kernel releases it the moment the owner
 * dies, however it dies (SIGKILL included) — so unlike a pid file it can neither be stolen from a
 * live server nor outlive a dead one. A second server finds the name taken (EADDRINUSE), connects
 * to it and is told the owner's pid and port, which it puts in its refusal. `server.json` in the
 * folder repeats the owner for humans; it is advisory only.
 *
 * Abstract sockets are per network namespace: servers in different containers sharing one
 * volume do not see each other's lock (each node has its own DATA_DIR in the deployment files).
 */
export class DataDirLock {
  private server: net.Server | null = null;
  private owner: DataDirOwner;

  private constructor(readonly dataDir: string) {
    this.owner = { pid: process.pid, port: null, url: null, startedAt: new Date().toISOString(), dataDir };
  }

  /** Takes the folder or throws DataDirInUseError naming the running owner. */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    fs.mkdirSync(dataDir, { recursive: true });
    const real = fs.realpathSync(dataDir);
    const lock = new DataDirLock(real);
    const name = socketName(real);
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end(JSON.stringify(lock.owner));
    });
    const bound = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        err.code === 'EADDRINUSE' ? resolve(false) : reject(err),
      );
      server.listen({ path: name, exclusive: true }, () => resolve(true));
    });
    if (!bound) throw new DataDirInUseError(real, await askOwner(name));
    // The lock must never keep the process alive on its own.
    server.unref();
    lock.server = server;
    lock.writeInfo();
    return lock;
  }

  /** Records where the server listens, once it does (for the refusal message and humans). */
  setListening(port: number, url: string): void {
    this.owner = { ...this.owner, port, url };
    this.writeInfo();
  }

  release(): void {
    if (!this.server) return;
    this.server.close();
    this.server = null;
    try {
      const info = JSON.parse(fs.readFileSync(path.join(this.dataDir, INFO_FILE), 'utf8')) as DataDirOwner;
      if (info.pid === process.pid) fs.rmSync(path.join(this.dataDir, INFO_FILE), { force: true });
    } catch {
      /* nothing to clean */
    }
  }

  private writeInfo(): void {
    try {
      fs.writeFileSync(path.join(this.dataDir, INFO_FILE), JSON.stringify(this.owner, null, 2) + '\n');
    } catch {
      /* advisory only: a read-only or full data folder must not stop the server here */
    }
  }
}

function socketName(realDir: string): string {
  const hash = createHash('sha256').update(realDir).digest('hex').slice(0, 32);
  return `\0mcu-media-server/${hash}`;
}

/** Asks the owner who it is; null when it does not answer within a second. */
function askOwner(name: string): Promise<DataDirOwner | null> {
  return new Promise((resolve) => {
    let text = '';
    const socket = net.connect({ path: name });
    const done = (v: DataDirOwner | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), 1000);
    socket.on('data', (b) => (text += b.toString()));
    socket.on('end', () => {
      try {
        done(JSON.parse(text) as DataDirOwner);
      } catch {
        done(null);
      }
    });
    socket.on('error', () => done(null));
  });
}
