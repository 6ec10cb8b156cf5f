import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebhooksService } from '../../../src/webhooks/webhooks.service';
import { api } from '../../helpers/api';
import {
  hostOf,
  signalingJoin,
  startCluster,
  waitForIdleNodes,
  type ClusterNode,
  type TestCluster,
} from '../../helpers/cluster';
import { BLUE, joinRoom, RED } from '../../helpers/live-room';
import type { TestClient } from '../../helpers/wrtc-client';
import { killProcessTree, startTestServer } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import { ManifestStore } from '../../../workers/kernel/recordings/manifest-store';
import { loadRecordingWorkerConfig } from '../../../workers/recording/config';
import {
  startRecordingWorker,
  type RecordingWorkerHandle,
} from '../../../workers/recording/recording-worker';
import {
  captureLogs,
  logLines,
  manifestFor,
  newRecordingId,
  tempRecordingsDir,
} from '../recording/media-fixtures';

const logger = captureLogs();

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('retention in a cluster', () => {
  let root: string;
  const workers: RecordingWorkerHandle[] = [];

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close()));
    await fs.rm(root, { recursive: true, force: true });
  });

  it('two recording workers on one Redis and one recordings volume: one sweep per interval, by one of them', async () => {
    root = await tempRecordingsDir();
    const store = new ManifestStore(root, logger);
    const old = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const oldId = newRecordingId();
    const keptId = newRecordingId();
    await store.create({
      ...manifestFor(oldId, { width: 320, height: 180, fps: 15 }),
      state: 'ready',
      createdAt: old,
      finalizedAt: old,
    });
    await store.create({ ...manifestFor(keptId, { width: 320, height: 180, fps: 15 }), state: 'ready' });

    const suffix = randomBytes(4).toString('hex');
    const options = {
      queueName: `retention-test-${suffix}`,
      prefix: `test-${suffix}`,
      retentionSweepIntervalMs: 60_000,
    };
    const config = loadRecordingWorkerConfig({
      REDIS_URL: redisUrl,
      RECORDINGS_DIR: root,
      RECORDING_RETENTION_DAYS: '7',
    });
    const from = logLines.length;
    // Both sweep as they start: the one that takes the interval's key sweeps, the other skips.
    workers.push(
      ...(await Promise.all([
        startRecordingWorker(config, logger, options),
        startRecordingWorker(config, logger, options),
      ])),
    );
    await Promise.all(workers.map((w) => w.close()));
    workers.length = 0;

    const lines = logLines.slice(from);
    expect(lines.filter((l) => l.includes('"retention sweep started"'))).toHaveLength(1);
    expect(
      lines.filter((l) => l.includes('"recording deleted by retention"') && l.includes(oldId)),
    ).toHaveLength(1);
    expect((await store.list()).map((m) => m.id)).toEqual([keptId]);
  });
});

describe('webhooks in a cluster', () => {
  it('an event every node sees (a finalize job ending) is delivered once, whichever nodes announce it', async () => {
    const received: { event: string; recordingId: string }[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          event: string;
          data: { recordingId: string };
        };
        received.push({ event: e.event, recordingId: e.data.recordingId });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const env = {
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `t${randomBytes(4).toString('hex')}:`,
      WEBHOOK_URLS: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      RECORDING_WORKER: 'external',
    };
    const a = await startTestServer({ ...env, NODE_ID: 'hooks-a' });
    const b = await startTestServer({ ...env, NODE_ID: 'hooks-b' });
    try {
      const recordingId = newRecordingId();
      const data = { roomId: 'r', recordingId, state: 'ready' as const };
      const sent = await Promise.all(
        [a, b, a, b].map((s) => s.app.get(WebhooksService).publishOnce(recordingId, 'recording.ready', data)),
      );
      expect(sent.filter(Boolean)).toHaveLength(1);
      await waitFor(() => received.length >= 1, 20000, 'the webhook delivery');
      // Until both nodes' queues are drained, nothing else can be on its way.
      let pending = -1;
      const poll = setInterval(() => {
        void Promise.all([a, b].map((n) => n.app.get(WebhooksService).jobCounts())).then((all) => {
          pending = all.reduce((t, c) => t + (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0), 0);
        });
      }, 100);
      await waitFor(() => pending === 0, 20000, 'the webhook queues to drain').finally(() =>
        clearInterval(poll),
      );
      expect(received).toEqual([{ event: 'recording.ready', recordingId }]);
    } finally {
      await a.close();
      await b.close();
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

/**
 * Webhooks of real rooms in a cluster of three nodes, delivered to a real HTTP receiver: every
 * event once, wherever the room's sockets are and however many nodes see it happen.
 */
describe('webhooks of rooms in a three-node cluster', () => {
  interface Delivery {
    id: string;
    event: string;
    data: { roomId?: string; recordingId?: string; reason?: string; identity?: string };
  }
  const deliveries: Delivery[] = [];
  let receiver: http.Server;
  let cluster: TestCluster;
  const clients: TestClient[] = [];
  const sockets: { disconnect(): void }[] = [];

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        deliveries.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Delivery);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    cluster = await startCluster(['hook-a', 'hook-b', 'hook-c'], {
      WEBHOOK_URLS: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
    });
    await waitForIdleNodes(cluster.nodes[0], 0.1, 60_000);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const s of sockets) s.disconnect();
    await cluster?.stop();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
  }, 60_000);

  const about = (roomId: string) => deliveries.filter((d) => d.data.roomId === roomId);
  const count = (roomId: string) => {
    const c: Record<string, number> = {};
    for (const d of about(roomId)) c[d.event] = (c[d.event] ?? 0) + 1;
    return c;
  };
  /** Waits until no delivery arrived for `quietMs`: whatever was queued has been delivered. */
  async function settle(quietMs = 4000): Promise<void> {
    let n = -1;
    let since = Date.now();
    await waitFor(
      () => {
        if (deliveries.length !== n) [n, since] = [deliveries.length, Date.now()];
        return Date.now() - since >= quietMs;
      },
      60_000,
      'the webhook deliveries to settle',
      200,
    );
  }

  it('a room with sockets on two nodes and a recording: each room, participant and recording event once', async () => {
    const [a, b] = cluster.nodes;
    const roomId = 'hooks-live';
    const red = await joinRoom(a, roomId, 'red', { colour: RED, toneHz: 440 });
    clients.push(red);
    const blue = await joinRoom(b, roomId, 'blue', { colour: BLUE, toneHz: 660 });
    clients.push(blue);
    await waitFor(() => red.framesReceived > 10 && blue.framesReceived > 10, 45_000, 'frames on both');
    const host = await hostOf(a, roomId);
    const rec = await api<{ id: string }>(a, `/api/rooms/${roomId}/recordings`, { method: 'POST', body: {} });
    expect(rec.status).toBe(201);
    const framesAtStart = red.framesReceived;
    await waitFor(() => red.framesReceived > framesAtStart + 45, 30_000, 'frames while recording');
    expect((await api(b, `/api/recordings/${rec.body.id}/stop`, { method: 'POST', body: {} })).status).toBe(
      200,
    );
    for (const client of clients.splice(0)) await client.close();
    await waitFor(
      () => about(roomId).some((d) => d.event === 'recording.ready' || d.event === 'recording.failed'),
      60_000,
      'the recording to be finalized',
      200,
    );
    await waitFor(() => about(roomId).some((d) => d.event === 'room.ended'), 30_000, 'room.ended', 200);
    await settle();
    process.stdout.write(`room on ${host}, sockets on hook-a and hook-b: ${JSON.stringify(count(roomId))}\n`);
    expect(count(roomId)).toEqual({
      'room.started': 1,
      'participant.joined': 2,
      'recording.started': 1,
      'recording.ended': 1,
      'recording.ready': 1,
      'participant.left': 2,
      'room.ended': 1,
    });
    expect(about(roomId).find((d) => d.event === 'room.ended')?.data.reason).toBe('empty');
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(deliveries.length);
  }, 180_000);

  it("a lost node's room: room.ended media-node-lost once, though every surviving node's janitor sees the loss", async () => {
    const [a, b, c] = cluster.nodes;
    let roomId = '';
    const placed: string[] = [];
    for (let i = 0; i < 6 && !roomId; i++) {
      const j = await signalingJoin(a, `hooks-lost-${i}`, 'on-a');
      sockets.push(j.socket);
      const host = await hostOf(a, `hooks-lost-${i}`);
      placed.push(`${i}@${host}`);
      if (host === c.nodeId) roomId = `hooks-lost-${i}`;
      else j.socket.disconnect();
    }
    if (!roomId) throw new Error(`no room went to ${c.nodeId}: ${placed.join(' ')}`);
    sockets.push((await signalingJoin(b, roomId, 'on-b')).socket);
    await settle(2000);
    killProcessTree(c.proc.pid!);
    const sawLoss = (n: ClusterNode) =>
      n.lines.some((l) => l.includes('"cluster node lost"') && l.includes(c.nodeId));
    await waitFor(() => sawLoss(a) && sawLoss(b), 30_000, "both survivors' janitors to see the loss", 200);
    await waitFor(() => about(roomId).some((d) => d.event === 'room.ended'), 30_000, 'room.ended', 200);
    await settle();
    process.stdout.write(`lost room ${roomId} on ${c.nodeId}: ${JSON.stringify(count(roomId))}\n`);
    // Joined before the loss, and left with it (from the members the host kept in Redis): once each.
    expect(count(roomId)).toEqual({
      'room.started': 1,
      'participant.joined': 2,
      'participant.left': 2,
      'room.ended': 1,
    });
    const left = about(roomId).filter((d) => d.event === 'participant.left');
    expect(left.map((d) => d.data.reason)).toEqual(['room-ended', 'room-ended']);
    const ended = about(roomId).filter((d) => d.event === 'room.ended');
    expect(ended).toHaveLength(1);
    expect(ended[0].data.reason).toBe('media-node-lost');
  }, 120_000);
});
