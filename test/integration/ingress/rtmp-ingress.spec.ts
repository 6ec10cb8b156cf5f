import { spawn, type ChildProcess } from 'node:child_process';
import type { IngressView } from '../../../src/ingress/ingress.schemas';
import { IngressService } from '../../../src/ingress/ingress.service';
import type { RoomDetail } from '../../../src/rooms/rooms.schemas';
import { api } from '../../helpers/api';
import { joinRoom, type TestServer } from '../../helpers/live-room';
import { startTestServer } from '../../helpers/server';
import type { TestClient, TestClientOptions } from '../../helpers/wrtc-client';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { waitFor } from '../../helpers/signal';
import { RED } from '../../helpers/live-room';
import { freePort } from '../egress/egress-fixtures';

/** ffmpeg pushing a red picture and a 440 Hz tone in real time, as OBS would. */
function push(url: string, seconds: number): { proc: ChildProcess; done: Promise<number | null> } {
  const proc = spawn(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error'],
      ...['-re', '-f', 'lavfi', '-i', `color=c=0xDC1E1E:size=640x360:rate=15`],
      ...['-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
      ...['-t', String(seconds)],
      ...[
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-tune',
        'zerolatency',
        '-g',
        '30',
        '-pix_fmt',
        'yuv420p',
      ],
      ...['-c:a', 'aac', '-b:a', '96k', '-f', 'flv', url],
    ],
    { stdio: 'ignore' },
  );
  return { proc, done: new Promise((resolve) => proc.once('close', (code) => resolve(code))) };
}

describe('RTMP ingest (ffmpeg pushes into a room; a wrtc participant sees and hears it)', () => {
  let portNow = 0;
  let server: TestServer;
  const clients: TestClient[] = [];
  const live = {
    get server(): TestServer {
      return server;
    },
    join: async (roomId: string, identity: string, opts: Partial<TestClientOptions>) => {
      const c = await joinRoom(server, roomId, identity, opts);
      clients.push(c);
      return c;
    },
  };
  beforeAll(async () => {
    portNow = await freePort();
    server = await startTestServer({ RTMP_PORT: String(portNow) });
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
  });
  const pushers: ChildProcess[] = [];
  afterEach(() => {
    for (const p of pushers.splice(0)) p.kill('SIGKILL');
  });

  it('shows the pushed picture and mixes its audio; the ingress is a participant; a wrong key is refused', async () => {
    const viewer = await live.join('ingest-room', 'viewer', { role: 'viewer' });
    const res = await api<IngressView>(live.server, '/api/rooms/ingest-room/ingress', {
      method: 'POST',
      body: { type: 'rtmp', displayName: 'OBS' },
    });
    expect(res.status).toBe(201);
    const ing = res.body;
    expect(ing).toMatchObject({ roomId: 'ingest-room', type: 'rtmp', displayName: 'OBS', state: 'waiting' });
    expect(ing.url).toMatch(new RegExp(`^rtmp://127\\.0\\.0\\.1:${portNow}/live/[A-Za-z0-9_-]{32}$`));

    const room = await api<RoomDetail>(live.server, '/api/rooms/ingest-room');
    expect(room.body.participants.find((p) => p.participantId === ing.participantId)).toMatchObject({
      role: 'ingress',
      displayName: 'OBS',
    });

    // A wrong key: refused, nothing changes.
    const wrong = push(ing.url.replace(/[^/]+$/, 'not-the-key'), 2);
    pushers.push(wrong.proc);
    expect(await wrong.done).not.toBe(0);

    const first = push(ing.url, 5);
    pushers.push(first.proc);
    await waitFor(
      () => !!viewer.latestFrame && frameContainsColour(viewer.latestFrame, rgbToYuv(RED)),
      20000,
      'red',
    );
    expect((await api<IngressView>(live.server, `/api/ingress/${ing.id}`)).body.state).toBe('publishing');
    await waitFor(() => goertzel(viewer.recentAudio(1000), 48000, 440) > 0.2, 15000, 'the tone in the mix');

    // The publisher stops: the participant stays, waiting; a new push with the same key takes over.
    expect(await first.done).toBe(0);
    await waitFor(
      () => live.server.app.get(IngressService).get(ing.id).state === 'waiting',
      10000,
      'waiting again',
    );
    const pub = push(ing.url, 25);
    pushers.push(pub.proc);
    await waitFor(
      () => live.server.app.get(IngressService).get(ing.id).state === 'publishing',
      10000,
      'publishing again',
    );
    await waitFor(() => goertzel(viewer.recentAudio(1000), 48000, 440) > 0.2, 15000, 'the tone again');

    // Server mute works on it like on anyone.
    const muted = await api(live.server, `/api/rooms/ingest-room/participants/${ing.participantId}/mute`, {
      method: 'POST',
      body: { kind: 'audio' },
    });
    expect(muted.status).toBeLessThan(300);
    await waitFor(() => goertzel(viewer.recentAudio(500), 48000, 440) < 0.05, 10000, 'the tone muted');

    // Deleted: its publisher is cut off and it leaves the room.
    const del = await api<IngressView>(live.server, `/api/ingress/${ing.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(del.body.state).toBe('ended');
    expect(await pub.done).not.toBeNull();
    const after = await api<RoomDetail>(live.server, '/api/rooms/ingest-room');
    expect(after.body.participants.map((p) => p.role)).toEqual(['viewer']);
    expect((await api(live.server, `/api/ingress/${ing.id}`, { method: 'DELETE' })).status).toBe(409);

    // Kicked like any participant: the ingress ends with it.
    const second = await api<IngressView>(live.server, '/api/rooms/ingest-room/ingress', {
      method: 'POST',
      body: { type: 'rtmp', displayName: 'Camera 2' },
    });
    expect(second.status).toBe(201);
    const kicked = await api(
      live.server,
      `/api/rooms/ingest-room/participants/${second.body.participantId}`,
      {
        method: 'DELETE',
      },
    );
    expect(kicked.status).toBeLessThan(300);
    expect((await api<IngressView>(live.server, `/api/ingress/${second.body.id}`)).body.state).toBe('ended');
  });

  it('refuses bad requests', async () => {
    const post = (roomId: string, body: unknown) =>
      api(live.server, `/api/rooms/${roomId}/ingress`, { method: 'POST', body });
    expect((await post('nowhere', { type: 'rtmp', displayName: 'x' })).status).toBe(404);
    expect((await post('nowhere', { type: 'srt', displayName: 'x' })).status).toBe(400);
    expect((await post('nowhere', { type: 'url', displayName: 'x' })).status).toBe(400);
    expect((await post('nowhere', { type: 'rtmp' })).status).toBe(400);
    expect((await api(live.server, '/api/ingress/in_AAAAAAAAAAAA')).status).toBe(404);
    expect((await fetch(`${live.server.url}/api/ingress`)).status).toBe(401);
    const doc = (await (await fetch(`${live.server.url}/api/docs-json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/rooms/{roomId}/ingress', '/api/ingress', '/api/ingress/{id}']),
    );
  });
});
