import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { api, createRoom } from '../../helpers/api';
import { spawnServer, type ServerProcess } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function redisPid(dataDir: string): number {
  return Number(fs.readFileSync(path.join(dataDir, 'redis', 'redis.pid'), 'utf8').trim());
}

async function readyStatus(url: string): Promise<number> {
  return fetch(`${url}/readyz`).then(
    (r) => r.status,
    () => 0,
  );
}

describe('the embedded redis-server is supervised', () => {
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('a SIGKILLed embedded Redis is restarted on the same data: readiness recovers and earlier rooms are still there', async () => {
    const s = await spawnServer();
    servers.push(s);
    await createRoom(s, { id: 'configured-before' });
    const killed = redisPid(s.dataDir);
    process.kill(killed, 'SIGKILL');

    await waitFor(() => s.lines.some((l) => l.includes('embedded redis-server restarted')), 20000, 'restart');
    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = await readyStatus(s.url);
      if (ready !== 200) await sleep(200);
    }
    expect(ready).toBe(200);
    expect(redisPid(s.dataDir)).not.toBe(killed);
    expect((await api(s, '/api/rooms/configured-before')).status).toBe(200);
    expect((await api(s, '/api/rooms', { method: 'POST', body: { id: 'configured-after' } })).status).toBe(
      201,
    );
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/^mcu_embedded_redis_restarts_total 1$/m);
    expect(await s.stop()).toBe(0);
  });

  it('when the embedded Redis cannot be brought back, the server exits non-zero for its supervisor', async () => {
    const s = await spawnServer();
    servers.push(s);
    const port = Number(
      /"port":(\d+)/.exec(s.lines.find((l) => l.includes('embedded redis-server started')) ?? '')?.[1],
    );
    expect(port).toBeGreaterThan(0);
    // Something else takes the port the moment Redis dies (the first restart waits 100 ms),
    // so every restart attempt fails.
    const exited = new Promise<number | null>((resolve) => s.proc.once('exit', (code) => resolve(code)));
    process.kill(redisPid(s.dataDir), 'SIGKILL');
    const blocker = await takePort(port, 2000);
    try {
      expect(await exited).toBe(1);
      expect(s.lines.some((l) => l.includes('embedded redis-server is gone for good'))).toBe(true);
    } finally {
      blocker.close();
    }
  });
});

/** Binds the port as soon as it is free (polling every few ms). */
async function takePort(port: number, timeoutMs: number): Promise<net.Server> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const srv = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) return srv;
    if (Date.now() > deadline) throw new Error(`port ${port} did not come free`);
    await sleep(5);
  }
}
