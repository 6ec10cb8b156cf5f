import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import type { JoinedPayload } from '../../workers/protocol/signaling';
import { api, ensureRoom, token } from './api';
import { startRedisProcess, type RedisProcess } from './redis-process';
import { spawnServer, tempDir, type ServerProcess } from './server';
import { call } from './signal';

export interface ClusterNode extends ServerProcess {
  nodeId: string;
}

export interface TestCluster {
  redis: RedisProcess;
  nodes: ClusterNode[];
  /** Secrets every node shares (a cluster refuses to boot without them). */
  env: Record<string, string>;
  /** `nodeEnv`: settings of this node only (its RTMP_PORT, NODE_ROLES…). */
  addNode(nodeId: string, nodeEnv?: Record<string, string>): Promise<ClusterNode>;
  stop(): Promise<void>;
}

/**
 * A cluster on loopback: one private redis-server and `nodeIds.length` compiled servers
 * (`npm start` processes) sharing it, each with its NODE_ID, and the same secrets and shared
 * recordings folder. Resolves when every node sees every other one in GET /api/nodes.
 */
export async function startCluster(
  nodeIds: string[],
  extraEnv: Record<string, string> = {},
  nodeEnv: Record<string, Record<string, string>> = {},
): Promise<TestCluster> {
  const redis = await startRedisProcess();
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    ADMIN_API_KEY: `admin-${randomBytes(12).toString('hex')}`,
    JWT_SECRET: randomBytes(32).toString('hex'),
    WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    RECORDINGS_DIR: path.join(tempDir('cluster'), 'recordings'),
    LOG_LEVEL: 'info',
    ...extraEnv,
  };
  const nodes: ClusterNode[] = [];
  const cluster: TestCluster = {
    redis,
    nodes,
    env,
    async addNode(nodeId, own = {}) {
      const s = await spawnServer({ ...env, ...own, NODE_ID: nodeId });
      const node = Object.assign(s, { nodeId });
      nodes.push(node);
      return node;
    },
    async stop() {
      const results = await Promise.allSettled(nodes.map((n) => n.stop()));
      await redis.stop();
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
  for (const id of nodeIds) await cluster.addNode(id, nodeEnv[id]);
  for (const n of nodes) await waitForNodes(n, nodeIds);
  return cluster;
}

export async function nodeIdsSeenBy(server: { url: string }): Promise<string[]> {
  const res = await api<{ nodes: { id: string }[] }>(server, '/api/nodes');
  return res.status === 200 ? res.body.nodes.map((n) => n.id) : [];
}

export async function waitForNodes(server: { url: string }, ids: string[], timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await nodeIdsSeenBy(server);
    if (ids.every((id) => seen.includes(id)) && seen.length === ids.length) return;
    if (Date.now() > deadline)
      throw new Error(`${server.url} sees nodes ${seen.join(',')}, wanted ${ids.join(',')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The node hosting a room (GET /api/rooms/:id `node`), as seen through `via`. */
export async function hostOf(via: { url: string }, roomId: string): Promise<string | null> {
  const res = await api<{ node: string | null }>(via, `/api/rooms/${roomId}`);
  if (res.status !== 200) throw new Error(`GET room ${roomId}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.node;
}

/**
 * A signaling-only participant: joins over socket.io without a peer connection (its room's
 * worker starts, nothing is encoded for it). Enough for placement and REST checks.
 */
export async function signalingJoin(
  via: { url: string },
  roomId: string,
  identity: string,
): Promise<{ socket: Socket; joined: JoinedPayload; events: { event: string; data: unknown }[] }> {
  await ensureRoom(via, roomId);
  const t = await token(via, roomId, { identity, role: 'viewer' });
  const socket = io(via.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  const events: { event: string; data: unknown }[] = [];
  socket.onAny((event: string, data: unknown) => events.push({ event, data }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const joined = await call<JoinedPayload>(socket, 'join', { roomId, token: t });
  return { socket, joined, events };
}

/**
 * Waits until every node's registry entry shows a CPU load below `maxLoad` (a node just booted
 * is busy for a moment, and placement rightly avoids a busy node): tests of where rooms go
 * start from idle nodes.
 */
export async function waitForIdleNodes(
  server: { url: string },
  maxLoad = 0.1,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api<{ nodes: { id: string; cpuLoad: number }[] }>(server, '/api/nodes');
    if (res.status === 200 && res.body.nodes.every((n) => n.cpuLoad < maxLoad)) return;
    if (Date.now() > deadline) throw new Error(`nodes not idle: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
