import { io } from 'socket.io-client';
import type { RecordingManifest } from '../../../workers/protocol/recording';
import { unhandledRejectionCount } from '../../../src/common/process-faults';
import { api, createRoom, token } from '../../helpers/api';
import { startRedisProcess, type RedisProcess } from '../../helpers/redis-process';
import { spawnServer, startTestServer } from '../../helpers/server';
import { request, waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GREEN = { r: 40, g: 200, b: 60 };

async function pollUntil<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await fn();
    if (ok(last)) return last;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

describe('an external Redis that goes away', () => {
  let redis: RedisProcess;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedisProcess();
    server = await startTestServer({ REDIS_URL: redis.url });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.close();
    await redis?.stop();
  });

  it('stopped for seconds during a recorded call: media flows, REST answers 503 with Retry-After, then 2xx, and the recording plays', async () => {
    await createRoom(server, { id: 'outage' });
    const a = await TestClient.connect(server.url, {
      roomId: 'outage',
      displayName: 'A',
      colour: GREEN,
      toneHz: 440,
    });
    clients.push(a);
    const lateToken = await token(server, 'outage', { identity: 'late', displayName: 'Late' });
    await waitFor(() => a.framesReceived > 10, 45000, 'media flowing');
    const rec = await api<RecordingManifest>(server, '/api/rooms/outage/recordings', {
      method: 'POST',
      body: {},
    });
    expect(rec.status).toBe(201);
    await sleep(2000);

    await redis.stop();
    const framesAtStop = a.framesReceived;
    const outageStart = Date.now();

    const get = await api(server, '/api/rooms/outage');
    expect(get.status).toBe(503);
    expect(get.body).toMatchObject({ error: 'unavailable' });
    expect(Number(get.headers.get('retry-after'))).toBeGreaterThan(0);
    const create = await api(server, '/api/rooms', { method: 'POST', body: { id: 'during-outage' } });
    expect(create.status).toBe(503);

    // A join needs the room's configuration from Redis: a clear `unavailable`, no hang.
    const s = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    try {
      await new Promise<void>((r) => s.once('connect', () => r()));
      const ack = await request(s, 'join', { roomId: 'outage', token: lateToken });
      expect(ack).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    } finally {
      s.close();
    }

    await sleep(Math.max(0, 5000 - (Date.now() - outageStart)));
    // Live media never needed Redis.
    expect(a.framesReceived).toBeGreaterThan(framesAtStop + 20);

    await redis.start();
    await pollUntil(
      () => api(server, '/api/rooms/outage'),
      (r) => r.status === 200,
      30000,
      'REST back',
    );
    expect((await api(server, '/api/rooms', { method: 'POST', body: { id: 'after-outage' } })).status).toBe(
      201,
    );

    const stop = await api<RecordingManifest>(server, `/api/recordings/${rec.body.id}/stop`, {
      method: 'POST',
    });
    expect(stop.status).toBe(200);
    const done = await pollUntil(
      () => api<RecordingManifest>(server, `/api/recordings/${rec.body.id}`),
      (r) => ['ready', 'failed', 'interrupted'].includes(r.body.state),
      120000,
      'finalize',
    );
    expect(done.body.state).toBe('ready');
    // ffprobe's view of the finalized file (the recording covers the outage: no gap, no cut).
    expect(done.body.media).toMatchObject({ videoCodec: 'h264', audioCodec: 'aac' });
    expect(done.body.media?.durationSec).toBeGreaterThan(6);
    expect(unhandledRejectionCount()).toBe(0);
  });

  it('SIGTERM while Redis is down: the server still exits within its shutdown bound', async () => {
    const r2 = await startRedisProcess();
    const s = await spawnServer({ REDIS_URL: r2.url, SHUTDOWN_TIMEOUT_MS: '10000' });
    try {
      await createRoom(s, { id: 'busy' });
      const c = await TestClient.connect(s.url, {
        roomId: 'busy',
        displayName: 'B',
        colour: GREEN,
        toneHz: 300,
      });
      clients.push(c);
      await waitFor(() => c.framesReceived > 5, 45000, 'media flowing');
      expect((await api(s, '/api/rooms/busy/recordings', { method: 'POST', body: {} })).status).toBe(201);
      await r2.stop();
      const t0 = Date.now();
      const code = await s.stop('SIGTERM');
      expect(Date.now() - t0).toBeLessThan(12000);
      // Everything it had was stopped in time: a clean exit.
      expect(code).toBe(0);
    } finally {
      await s.stop('SIGKILL');
      await r2.stop();
    }
  });
});
