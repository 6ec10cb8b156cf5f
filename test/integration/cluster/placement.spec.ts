import { randomBytes } from 'node:crypto';
import { io } from 'socket.io-client';
import { api, ensureRoom, token } from '../../helpers/api';
import {
  hostOf,
  signalingJoin,
  startCluster,
  waitForIdleNodes,
  type TestCluster,
} from '../../helpers/cluster';
import { startRedisProcess, type RedisProcess } from '../../helpers/redis-process';
import { startTestServer } from '../../helpers/server';
import { request } from '../../helpers/signal';

describe('a single node (no REDIS_URL)', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer({ NODE_ID: 'solo' });
  }, 30_000);
  afterAll(async () => {
    await server?.close();
  });

  it('lists itself in GET /api/nodes and reports itself as the host of its live rooms', async () => {
    const nodes = await api<{ nodes: { id: string; state: string }[] }>(server, '/api/nodes');
    expect(nodes.body.nodes).toEqual([expect.objectContaining({ id: 'solo', state: 'active' })]);
    await ensureRoom(server, 'solo-1');
    expect((await api<{ node: string | null }>(server, '/api/rooms/solo-1')).body.node).toBeNull();
    const t = await token(server, 'solo-1', { identity: 'x', role: 'viewer' });
    const socket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      expect(await request(socket, 'join', { roomId: 'solo-1', token: t })).toMatchObject({ ok: true });
      expect((await api<{ node: string | null }>(server, '/api/rooms/solo-1')).body.node).toBe('solo');
    } finally {
      socket.disconnect();
    }
  });
});

/** A cluster whose only node may not host rooms (NODE_ROLES=control): joins get server_busy. */
describe('placement with no media node', () => {
  let redis: RedisProcess;
  let server: Awaited<ReturnType<typeof startTestServer>>;

  beforeAll(async () => {
    redis = await startRedisProcess();
    server = await startTestServer({
      REDIS_URL: redis.url,
      NODE_ID: 'control-only',
      NODE_ROLES: 'control',
      ADMIN_API_KEY: `admin-${randomBytes(12).toString('hex')}`,
      JWT_SECRET: randomBytes(32).toString('hex'),
      WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    });
  }, 30_000);
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  it('answers a join with server_busy and starts nothing; the room stays idle', async () => {
    const nodes = await api<{ nodes: { id: string; roles: string[] }[] }>(server, '/api/nodes');
    expect(nodes.body.nodes).toEqual([expect.objectContaining({ id: 'control-only', roles: ['control'] })]);

    await ensureRoom(server, 'busy-1');
    const t = await token(server, 'busy-1', { identity: 'x' });
    const socket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      const ack = await request(socket, 'join', { roomId: 'busy-1', token: t });
      expect(ack).toEqual({ ok: false, error: { code: 'server_busy', message: expect.any(String) } });
    } finally {
      socket.disconnect();
    }
    const room = await api<{ node: string | null; active: boolean }>(server, '/api/rooms/busy-1');
    expect(room.body).toMatchObject({ node: null, active: false });
  });
});

/**
 * A burst of first joins through two control nodes at once: the penalty for recent placements
 * lives in Redis and placements are serialised, so each control node sees the other's rooms and
 * four rooms spread 2/2 over two media nodes (kept per control node, both control nodes would
 * put their first room on the same emptiest node).
 */
describe('a burst of new rooms through two control nodes', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster(['burst-a', 'burst-b']);
    // The spread rests on the penalty (0.05 per room): start from nodes whose idle CPU differs
    // by less than that.
    await waitForIdleNodes(cluster.nodes[0], 0.04, 60_000);
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('spreads four rooms started at the same instant 2/2', async () => {
    const [a, b] = cluster.nodes;
    const rooms = ['burst-1', 'burst-2', 'burst-3', 'burst-4'];
    for (const roomId of rooms) await api(a, '/api/rooms', { method: 'POST', body: { id: roomId } });
    const joins = await Promise.all(rooms.map((roomId, i) => signalingJoin(i % 2 ? b : a, roomId, `p${i}`)));
    try {
      const hosts = await Promise.all(rooms.map((roomId) => hostOf(a, roomId)));
      process.stdout.write(`burst placement: ${rooms.map((r, i) => `${r}→${hosts[i]}`).join(' ')}\n`);
      for (const n of [a, b])
        for (const l of n.lines.filter((x) => x.includes('"room placed"'))) process.stdout.write(`${l}\n`);
      expect(hosts.filter((h) => h === 'burst-a')).toHaveLength(2);
      expect(hosts.filter((h) => h === 'burst-b')).toHaveLength(2);
    } finally {
      for (const j of joins) j.socket.disconnect();
    }
  }, 60_000);
});
