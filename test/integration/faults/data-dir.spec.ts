import * as fs from 'node:fs';
import * as path from 'node:path';
import { api, createRoom } from '../../helpers/api';
import { spawnServer, type ServerProcess } from '../../helpers/server';

/** Alive and not a zombie (a SIGKILLed server's children are reaped by init, eventually). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The embedded redis-server's pid, from the pid file it keeps in the data folder. */
function redisPid(dataDir: string): number {
  return Number(fs.readFileSync(path.join(dataDir, 'redis', 'redis.pid'), 'utf8').trim());
}

describe('one server per data folder', () => {
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('a second start on the same DATA_DIR refuses at once, naming the running server, and changes nothing', async () => {
    const first = await spawnServer();
    servers.push(first);
    await createRoom(first, { id: 'kept' });
    const redisBefore = redisPid(first.dataDir);

    const refusal = await spawnServer({ DATA_DIR: first.dataDir }).then(
      (s) => {
        servers.push(s);
        return null;
      },
      (err: Error) => err,
    );
    expect(refusal).not.toBeNull();
    expect(refusal?.message).toContain('exited with 75');
    expect(refusal?.message).toContain(`pid ${first.proc.pid}`);
    expect(refusal?.message).toContain(`port ${new URL(first.url).port}`);

    // The first server is untouched: same Redis, ready, its rooms there, still taking requests.
    expect(redisPid(first.dataDir)).toBe(redisBefore);
    expect(isRunning(redisBefore)).toBe(true);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    expect((await api(first, '/api/rooms/kept')).status).toBe(200);
    expect((await api(first, '/api/rooms', { method: 'POST', body: { id: 'after' } })).status).toBe(201);
    expect(await first.stop()).toBe(0);
  });

  it('the data folder of a server that was SIGKILLed is taken over by the next start, rooms included', async () => {
    const first = await spawnServer();
    servers.push(first);
    await createRoom(first, { id: 'survivor' });
    const oldRedis = redisPid(first.dataDir);
    await first.stop('SIGKILL');

    const next = await spawnServer({ DATA_DIR: first.dataDir });
    servers.push(next);
    expect(isRunning(oldRedis)).toBe(false);
    expect((await api(next, '/api/rooms/survivor')).status).toBe(200);
    expect(await next.stop()).toBe(0);
  });
});
