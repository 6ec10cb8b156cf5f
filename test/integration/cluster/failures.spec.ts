import { api } from '../../helpers/api';
import {
  hostOf,
  signalingJoin,
  startCluster,
  waitForIdleNodes,
  waitForNodes,
  type ClusterNode,
  type TestCluster,
} from '../../helpers/cluster';
import { BLUE, GREEN, joinRoom, RED } from '../../helpers/live-room';
import { frameContainsColour, rgbToYuv } from '../../helpers/media-analysis';
import { killProcessTree } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';

/**
 * Failures of a two-node cluster (docs/scale-out.md, "Failures"): a Redis restart ends no room;
 * a node killed with its whole process tree ends only its rooms, everywhere their sockets are.
 * Every client connects to node A; one room is hosted on A, the other on B (relayed).
 */
describe('failures in a cluster of two nodes', () => {
  let cluster: TestCluster;
  let a: ClusterNode;
  let b: ClusterNode;
  const clients: TestClient[] = [];
  let onA: TestClient;
  let onB: TestClient;
  let roomOnA = '';
  let roomOnB = '';

  beforeAll(async () => {
    cluster = await startCluster(['node-a', 'node-b']);
    [a, b] = cluster.nodes;
    await waitForIdleNodes(a);
    // Joins through A; placement's penalty for recent placements sends the next room to B.
    const colours = [RED, BLUE, GREEN, RED, BLUE];
    const hosts: string[] = [];
    for (let i = 0; i < colours.length && !(roomOnA && roomOnB); i++) {
      const roomId = `fail-${i}`;
      const c = await joinRoom(a, roomId, `p${i}`, { colour: colours[i], toneHz: 440 + 220 * i });
      clients.push(c);
      const host = await hostOf(a, roomId);
      hosts.push(`${roomId}@${host}`);
      if (host === a.nodeId && !roomOnA) [roomOnA, onA] = [roomId, c];
      if (host === b.nodeId && !roomOnB) [roomOnB, onB] = [roomId, c];
    }
    if (!roomOnA || !roomOnB) throw new Error(`placement put every room on one node: ${hosts.join(' ')}`);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster?.stop();
  }, 60_000);

  const colourOf = (c: TestClient) => rgbToYuv(c.opts.colour ?? RED);
  const roomEnded = (c: TestClient) => c.events.filter((e) => e.event === 'room-ended');

  it('keeps every room live across a Redis restart (nodes register again, claims are kept)', async () => {
    for (const c of [onA, onB])
      await waitFor(
        () => !!c.latestFrame && frameContainsColour(c.latestFrame, colourOf(c)),
        45_000,
        'frames',
      );
    await cluster.redis.stop();
    // Longer than a node's registry entry lives: Redis comes back with every entry expired.
    await new Promise((r) => setTimeout(r, 7000));
    await cluster.redis.start();
    await waitForNodes(a, ['node-a', 'node-b'], 20_000);
    const before = [onA.framesReceived, onB.framesReceived];
    await waitFor(
      () => onA.framesReceived > before[0] + 20 && onB.framesReceived > before[1] + 20,
      30_000,
      'frames after the restart',
    );
    expect(roomEnded(onA)).toEqual([]);
    expect(roomEnded(onB)).toEqual([]);
    expect(await hostOf(a, roomOnA)).toBe('node-a');
    expect(await hostOf(b, roomOnB)).toBe('node-b');
  }, 90_000);

  it('a node killed with its process tree ends only its rooms: media-node-lost, recording interrupted, rejoin lands on the survivor', async () => {
    // A recording of B's room, on the storage both nodes share.
    const rec = await api<{ id: string }>(b, `/api/rooms/${roomOnB}/recordings`, {
      method: 'POST',
      body: {},
    });
    expect(rec.status).toBe(201);
    // The host's recording-state broadcast reaches the participant whose socket is on A.
    await waitFor(
      () =>
        onB.events.some((e) => e.event === 'recording-state' && JSON.stringify(e.data).includes(rec.body.id)),
      10_000,
      'recording-state on the relayed socket',
    );
    // A node that starts meanwhile on the shared storage leaves a capture live elsewhere alone.
    const c = await cluster.addNode('node-c');
    await waitForNodes(c, ['node-a', 'node-b', 'node-c']);
    expect((await api<{ state: string }>(c, `/api/recordings/${rec.body.id}`)).body.state).toBe('recording');
    expect(await c.stop()).toBe(0);
    await waitForNodes(a, ['node-a', 'node-b']);
    // A participant of A's room whose socket is on B: B's death disconnects it from A's room.
    const watcher = await signalingJoin(b, roomOnA, 'watcher-on-b');
    const identitiesOnA = async () =>
      (
        await api<{ participants: { identity: string }[] }>(a, `/api/rooms/${roomOnA}/participants`)
      ).body.participants.map((p) => p.identity);
    expect(await identitiesOnA()).toContain('watcher-on-b');
    await new Promise((r) => setTimeout(r, 5000));

    const killedAt = Date.now();
    killProcessTree(b.proc.pid!);
    const framesAtKill = onA.framesReceived;

    await waitFor(() => roomEnded(onB).length > 0, 30_000, "room-ended for the lost node's room");
    expect(roomEnded(onB)[0].data).toMatchObject({ roomId: roomOnB, reason: 'media-node-lost' });
    process.stdout.write(`room-ended reached the client ${Date.now() - killedAt} ms after the SIGKILL\n`);
    expect(roomEnded(onA)).toEqual([]);

    // The other room keeps flowing.
    await waitFor(() => onA.framesReceived > framesAtKill + 30, 30_000, 'frames in the surviving room');
    expect(frameContainsColour(onA.latestFrame!, colourOf(onA))).toBe(true);

    await waitForNodes(a, ['node-a'], 20_000);
    let identities = ['watcher-on-b'];
    await waitFor(
      () => {
        void identitiesOnA().then((ids) => (identities = ids));
        return !identities.includes('watcher-on-b');
      },
      20_000,
      "B's socket to leave A's room",
      500,
    );
    watcher.socket.disconnect();
    const again = await signalingJoin(a, roomOnB, 'rejoined');
    expect(await hostOf(a, roomOnB)).toBe('node-a');
    again.socket.disconnect();

    // Finalized by the survivor's recording worker from the shared storage.
    let state = '';
    await waitFor(
      () => {
        void api<{ state: string }>(a, `/api/recordings/${rec.body.id}`).then((r) => (state = r.body.state));
        return state === 'interrupted';
      },
      60_000,
      'the recording to become interrupted',
      500,
    );
  }, 150_000);
});
