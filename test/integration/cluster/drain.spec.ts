import { randomBytes } from 'node:crypto';
import { io } from 'socket.io-client';
import type { JoinedPayload } from '../../../workers/protocol/signaling';
import { adminFetch, api, ensureRoom, token } from '../../helpers/api';
import { BLUE, joinRoom, RED } from '../../helpers/live-room';
import { frameContainsColour, rgbToYuv } from '../../helpers/media-analysis';
import { sample } from '../../helpers/metrics';
import { startRedisProcess, type RedisProcess } from '../../helpers/redis-process';
import { childPids, spawnServer, type ServerProcess } from '../../helpers/server';
import { request, waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the exit code once the process has left by itself. */
function exitOf(node: ServerProcess, timeoutMs: number): Promise<number | null> {
  if (node.proc.exitCode !== null) return Promise.resolve(node.proc.exitCode);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`node did not exit within ${timeoutMs} ms`)), timeoutMs);
    node.proc.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

interface Readyz {
  status: string;
  checks: Record<string, string>;
}

async function readyz(node: ServerProcess): Promise<{ status: number; body: Readyz }> {
  const res = await fetch(`${node.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Readyz };
}

async function pollReadyz(node: ServerProcess, status: number): Promise<Readyz> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const r = await readyz(node);
    if (r.status === status) return r.body;
    if (Date.now() > deadline) throw new Error(`readyz stayed ${r.status}: ${JSON.stringify(r.body)}`);
    await sleep(200);
  }
}

/** A join over a fresh socket; the ack as is (ok or the typed error). */
async function tryJoin(node: ServerProcess, roomId: string): Promise<{ ok: boolean; code?: string }> {
  await ensureRoom(node, roomId);
  const t = await token(node, roomId, { identity: `late-${randomBytes(3).toString('hex')}` });
  const socket = io(node.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    const ack = await request<JoinedPayload>(socket, 'join', { roomId, token: t });
    return ack.ok ? { ok: true } : { ok: false, code: ack.error.code };
  } finally {
    socket.disconnect();
  }
}

async function seesColour(c: TestClient, colour: typeof RED, what: string): Promise<void> {
  const yuv = rgbToYuv(colour);
  await waitFor(() => !!c.latestFrame && frameContainsColour(c.latestFrame, yuv), 30000, what);
}

describe('a node in cluster mode needs the shared secrets', () => {
  it('refuses to boot with exit code 78 and names the missing variables', async () => {
    const refused = spawnServer({
      REDIS_URL: 'redis://127.0.0.1:1',
      ADMIN_API_KEY: '',
      JWT_SECRET: '',
      WEBHOOK_SECRET: 'w'.repeat(20),
    });
    await expect(refused).rejects.toThrow(/exited with 78 before listening/);
    await expect(refused).rejects.toThrow(/ADMIN_API_KEY, JWT_SECRET: required when REDIS_URL is set/);
  });
});

describe('draining a node', () => {
  const clients: TestClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('POST /api/nodes/:id/drain: live rooms go on, no new room starts, readiness fails, the node exits 0 when empty', async () => {
    const node = await spawnServer({ NODE_ID: 'drain-a' });
    try {
      const alice = await joinRoom(node, 'live', 'alice', { colour: RED, toneHz: 440 });
      const bob = await joinRoom(node, 'live', 'bob', { colour: BLUE });
      clients.push(alice, bob);
      await seesColour(bob, RED, "alice's red tile at bob");

      const res = await api(node, '/api/nodes/drain-a/drain', { method: 'POST' });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ nodeId: 'drain-a', state: 'draining' });

      const ready = await readyz(node);
      expect(ready.status).toBe(503);
      expect(ready.body.checks.node).toBe('draining');
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
      const metrics = await (await adminFetch(node, '/metrics')).text();
      expect(sample(metrics, 'mcu_node_state', { state: 'draining' })).toBe(1);
      expect(sample(metrics, 'mcu_node_state', { state: 'active' })).toBe(0);

      // A room that is not live here is refused with the typed code; the live one still joins.
      expect(await tryJoin(node, 'new-room')).toEqual({ ok: false, code: 'node_draining' });
      const carol = await joinRoom(node, 'live', 'carol', { colour: BLUE, role: 'viewer' });
      clients.push(carol);
      const before = bob.framesReceived;
      await waitFor(() => bob.framesReceived > before + 20, 20000, 'frames still flowing after the drain');
      await seesColour(carol, RED, 'the live room still composes while draining');
      expect(node.proc.exitCode).toBeNull();

      await Promise.all(clients.splice(0).map((c) => c.close()));
      expect(await exitOf(node, 30000)).toBe(0);
      expect(node.lines.some((l) => l.includes('"drained: no room left on this node"'))).toBe(true);
    } finally {
      await node.stop();
    }
  });

  it('SIGTERM with DRAIN_TIMEOUT_S drains first and ends the rooms still live at the deadline, exit 0', async () => {
    const node = await spawnServer({ NODE_ID: 'drain-b', DRAIN_TIMEOUT_S: '6' });
    try {
      const alice = await joinRoom(node, 'sig', 'alice', { colour: RED });
      const bob = await joinRoom(node, 'sig', 'bob', { colour: BLUE });
      clients.push(alice, bob);
      await seesColour(bob, RED, "alice's red tile at bob");

      node.proc.kill('SIGTERM');
      const body = await pollReadyz(node, 503);
      expect(body.checks.node).toBe('draining');
      expect(body.checks.mediaWorker).toBe('not-probed');
      const before = bob.framesReceived;
      await waitFor(() => bob.framesReceived > before + 10, 20000, 'frames still flowing after SIGTERM');

      expect(await exitOf(node, 30000)).toBe(0);
      expect(bob.eventsNamed('room-ended')).toEqual([expect.objectContaining({ reason: 'server-shutdown' })]);
      expect(
        node.lines.some((l) => l.includes('"drain deadline reached; ending the rooms still live"')),
      ).toBe(true);
    } finally {
      await node.stop();
    }
  });
});

describe('roles and remote drain on one Redis', () => {
  let redis: RedisProcess;
  let media: ServerProcess;
  let control: ServerProcess;

  beforeAll(async () => {
    redis = await startRedisProcess();
    const shared = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `t${randomBytes(3).toString('hex')}:` };
    media = await spawnServer({ ...shared, NODE_ID: 'media-1', NODE_ROLES: 'media' });
    control = await spawnServer({ ...shared, NODE_ID: 'control-1', NODE_ROLES: 'control' });
  });

  afterAll(async () => {
    await media?.stop();
    await control?.stop();
    await redis?.stop();
  });

  it('a node without control serves only the probes, metrics and drain; no socket.io', async () => {
    const rooms = await api(media, '/api/rooms');
    expect(rooms.status).toBe(404);
    expect(rooms.body.message).toMatch(/serves no public API/);
    expect((await fetch(`${media.url}/`)).status).toBe(404);
    expect((await fetch(`${media.url}/healthz`)).status).toBe(200);
    expect((await adminFetch(media, '/metrics')).status).toBe(200);
    const ready = await readyz(media);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.mediaWorker).toBe('ok');
    const socket = io(media.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    const refused = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(false));
      socket.once('connect_error', () => resolve(true));
    });
    socket.disconnect();
    expect(refused).toBe(true);
  });

  it('a node without media never starts a media worker; without recording no recording worker', async () => {
    const ready = await readyz(control);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.mediaWorker).toBe('not-applicable');
    expect((await api(control, '/api/rooms')).status).toBe(200);
    expect(childPids(control.proc.pid as number)).toEqual([]);
    expect(childPids(media.proc.pid as number)).toEqual([]);
    expect([...media.lines, ...control.lines].some((l) => l.includes('"recording worker started"'))).toBe(
      false,
    );
  });

  it('drains another node through Redis: 202 and it exits 0 (it has no room); an unknown node is 404, a bad id 400', async () => {
    expect((await api(control, '/api/nodes/nobody/drain', { method: 'POST' })).status).toBe(404);
    expect((await api(control, '/api/nodes/bad%20id/drain', { method: 'POST' })).status).toBe(400);
    const res = await api(control, '/api/nodes/media-1/drain', { method: 'POST' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ nodeId: 'media-1', state: 'drain-requested' });
    expect(await exitOf(media, 30000)).toBe(0);
    expect(media.lines.some((l) => l.includes('"node draining"') && l.includes('media-1'))).toBe(true);
    expect((await readyz(control)).status).toBe(200);
  });
});
