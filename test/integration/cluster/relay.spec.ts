import type { Socket } from 'socket.io-client';
import { api } from '../../helpers/api';
import {
  hostOf,
  signalingJoin,
  waitForIdleNodes,
  startCluster,
  type ClusterNode,
  type TestCluster,
} from '../../helpers/cluster';
import { BLUE, joinRoom, RED } from '../../helpers/live-room';
import { frameContainsColour, goertzel, rgbToYuv, rmsOf } from '../../helpers/media-analysis';
import { once, waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';

/**
 * Two `npm start` processes on one private Redis form one cluster (docs/scale-out.md): rooms
 * are placed on both, a participant may connect to either node, and REST calls on one node
 * reach sockets held by the other.
 */
describe('a cluster of two nodes', () => {
  let cluster: TestCluster;
  let a: ClusterNode;
  let b: ClusterNode;
  const clients: TestClient[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    cluster = await startCluster(['node-a', 'node-b']);
    [a, b] = cluster.nodes;
  }, 60_000);
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  const other = (id: string | null) => (id === a.nodeId ? b : a);

  it('lists both nodes in GET /api/nodes with their roles, state and load', async () => {
    const res = await api<{ nodes: Record<string, unknown>[] }>(b, '/api/nodes');
    expect(res.status).toBe(200);
    expect(res.body.nodes.map((n) => n.id)).toEqual(['node-a', 'node-b']);
    for (const n of res.body.nodes) {
      // The test servers' NODE_CAPACITY (test/helpers/server.ts) keeps admission control out of the way.
      expect(n).toMatchObject({ roles: ['control', 'media', 'recording'], state: 'active' });
      expect(n.capacity).toBeGreaterThan(0);
      expect(typeof n.bootId).toBe('string');
      expect(typeof n.cpuLoad).toBe('number');
      expect(typeof n.loopDelayMs).toBe('number');
      expect(n.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    expect((await api(a, '/api/nodes', { key: null })).status).toBe(401);
  });

  it('spreads new rooms over both nodes, and either node reports where a room is hosted', async () => {
    await waitForIdleNodes(a);
    const rooms = ['spread-1', 'spread-2', 'spread-3', 'spread-4'];
    for (const [i, roomId] of rooms.entries()) {
      const j = await signalingJoin(a, roomId, `viewer-${i}`);
      sockets.push(j.socket);
    }
    const hosts = await Promise.all(rooms.map((r) => hostOf(b, r)));
    expect(new Set(hosts)).toEqual(new Set(['node-a', 'node-b']));
    for (const [i, roomId] of rooms.entries()) expect(await hostOf(a, roomId)).toBe(hosts[i]);
    const listed = await api<{ rooms: { id: string; active: boolean; participantCount: number }[] }>(
      b,
      '/api/rooms',
    );
    for (const roomId of rooms)
      expect(listed.body.rooms.find((r) => r.id === roomId)).toMatchObject({
        active: true,
        participantCount: 1,
      });
    expect(await hostOf(a, 'never-joined').catch((e: Error) => e.message)).toMatch(/404/);
  });

  it('relays a participant connected to the other node: both see and hear each other; a kick on the host reaches it', async () => {
    const alice = await joinRoom(a, 'relay-1', 'alice', { colour: RED, toneHz: 440 });
    clients.push(alice);
    const host = await hostOf(a, 'relay-1');
    expect([a.nodeId, b.nodeId]).toContain(host);
    const hostNode = host === a.nodeId ? a : b;
    // Bob's socket is on the node that does not host the room: everything he does is relayed.
    const bobNode = other(host);
    const bob = await joinRoom(bobNode, 'relay-1', 'bob', { colour: BLUE, toneHz: 880 });
    clients.push(bob);
    expect(bob.joined.room.participants.map((p) => p.identity).sort()).toEqual(['alice', 'bob']);
    // Bob's session lives on the host (its log says so), not on the node holding his socket.
    const joinedLine = (n: ClusterNode) =>
      n.lines.some((l) => l.includes('"participant joined"') && l.includes(bob.participantId));
    expect(joinedLine(hostNode)).toBe(true);
    expect(joinedLine(bobNode)).toBe(false);

    for (const c of [alice, bob]) {
      await waitFor(
        () =>
          c.latestFrame !== null &&
          frameContainsColour(c.latestFrame, rgbToYuv(RED)) &&
          frameContainsColour(c.latestFrame, rgbToYuv(BLUE)),
        45_000,
        `${c.opts.displayName} to see both colours`,
      );
    }
    await waitFor(
      () => rmsOf(alice.recentAudio(500)) > 0.02 && rmsOf(bob.recentAudio(500)) > 0.02,
      30_000,
      'audio',
    );
    // Each hears the other's tone and not its own. On a loaded machine a receiver's jitter buffer
    // conceals now and then (energy spreads off the tone), so a clean second is waited for rather
    // than one snapshot taken; hearing its own tone would show in every window.
    await waitFor(
      () => {
        const heardByBob = bob.recentAudio(1000);
        const heardByAlice = alice.recentAudio(1000);
        return (
          goertzel(heardByBob, bob.audioSampleRate, 440) > 0.3 &&
          goertzel(heardByAlice, alice.audioSampleRate, 880) > 0.3
        );
      },
      20_000,
      'each to hear the other tone',
    );
    expect(goertzel(bob.recentAudio(1000), bob.audioSampleRate, 880)).toBeLessThan(0.05);
    expect(goertzel(alice.recentAudio(1000), alice.audioSampleRate, 440)).toBeLessThan(0.05);

    // The REST API of the node that does not host the room answers from the host's state.
    const listed = await api<{ participants: { identity: string }[] }>(
      bobNode,
      '/api/rooms/relay-1/participants',
    );
    expect(listed.status).toBe(200);
    expect(listed.body.participants.map((p) => p.identity).sort()).toEqual(['alice', 'bob']);

    // A mute through the non-hosting node and a kick through the host both reach bob's socket.
    const muted = once<{ participantId: string; kind: string; muted: boolean }>(
      bob.socket,
      'muted-by-server',
    );
    const mute = await api(bobNode, `/api/rooms/relay-1/participants/${alice.participantId}/mute`, {
      method: 'POST',
      body: { kind: 'audio' },
    });
    expect(mute.status).toBe(200);
    expect(await muted).toEqual({ participantId: alice.participantId, kind: 'audio', muted: true });

    const kicked = once<{ reason: string }>(bob.socket, 'kicked');
    const gone = once(bob.socket, 'disconnect');
    const leftForAlice = once<{ participantId: string; reason: string }>(alice.socket, 'participant-left');
    const kick = await api(hostNode, `/api/rooms/relay-1/participants/${bob.participantId}`, {
      method: 'DELETE',
    });
    expect(kick.status).toBe(204);
    expect((await kicked).reason).toBe('kicked');
    await gone;
    expect(await leftForAlice).toEqual({ participantId: bob.participantId, reason: 'kicked' });

    // Layout change and room end through the node that does not host the room.
    const layout = once<{ layout: string }>(alice.socket, 'layout-changed');
    expect(
      (await api(bobNode, '/api/rooms/relay-1', { method: 'PATCH', body: { layout: 'speaker' } })).status,
    ).toBe(200);
    expect((await layout).layout).toBe('speaker');
    const ended = once<{ reason: string }>(alice.socket, 'room-ended');
    expect((await api(bobNode, '/api/rooms/relay-1', { method: 'DELETE' })).status).toBe(204);
    expect((await ended).reason).toBe('deleted');
  }, 120_000);

  it('starts a room once when two nodes race to start it', async () => {
    for (const roomId of ['race-1', 'race-2', 'race-3']) {
      // Created first, so that both joins race on the start and not on the creation.
      await api(a, '/api/rooms', { method: 'POST', body: { id: roomId } });
      const [x, y] = await Promise.all([signalingJoin(a, roomId, 'x'), signalingJoin(b, roomId, 'y')]);
      sockets.push(x.socket, y.socket);
      const viaA = await api<{ node: string; participants: { identity: string }[] }>(
        a,
        `/api/rooms/${roomId}`,
      );
      const viaB = await api<{ node: string; participants: { identity: string }[] }>(
        b,
        `/api/rooms/${roomId}`,
      );
      expect(viaA.body.node).toBe(viaB.body.node);
      expect(viaA.body.participants.map((p) => p.identity).sort()).toEqual(['x', 'y']);
      expect(viaB.body.participants.map((p) => p.identity).sort()).toEqual(['x', 'y']);
    }
  }, 60_000);
});
