import { io } from 'socket.io-client';
import { MediaSupervisor } from '../../src/media/media-supervisor.service';
import { frameContainsColour, rgbToYuv } from '../helpers/media-analysis';
import { api, createRoom, token } from '../helpers/api';
import { GREEN, joinRoom, useLiveServer } from '../helpers/live-room';
import { childPids, isAlive, spawnServer } from '../helpers/server';
import { request, waitFor } from '../helpers/signal';
import { sample } from '../helpers/metrics';
import { expectWorkerDeaths } from '../helpers/worker-deaths';

describe('room worker lifecycle', () => {
  const live = useLiveServer({ MEDIA_IDLE_TIMEOUT_MS: '1000' });
  const supervisor = () => live.server.app.get(MediaSupervisor);

  it('a SIGKILLed media worker ends only its room; the server keeps serving and the room can be joined again', async () => {
    const a = await live.join('crashy', 'A', { colour: GREEN, toneHz: 440 });
    const other = await live.join('calm', 'O', { colour: GREEN, toneHz: 660 });
    const pid = supervisor().get('crashy')?.pid as number;
    const calmPid = supervisor().get('calm')?.pid as number;
    expect(pid).toBeGreaterThan(0);

    expectWorkerDeaths(live.server, 1);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => a.eventsNamed('room-ended').length === 1, 15000, 'room-ended event');
    expect(a.eventsNamed('room-ended')[0]).toMatchObject({ roomId: 'crashy', reason: 'media-worker-died' });

    // The other room and the control plane are untouched.
    expect(supervisor().get('calm')?.pid).toBe(calmPid);
    expect(other.eventsNamed('room-ended')).toHaveLength(0);
    const health = await fetch(`${live.server.url}/healthz`);
    expect(health.status).toBe(200);
    // The crash is counted, by kind and signal.
    const metrics = await (await fetch(`${live.server.url}/metrics`)).text();
    expect(sample(metrics, 'mcu_worker_deaths_total', { kind: 'media', signal: 'SIGKILL' })).toBe(1);

    // The ended participant's socket can no longer signal in the dead room...
    const ack = await request(a.socket, 'offer', { sdp: 'v=0\r\n' });
    expect(ack).toMatchObject({ ok: false, error: { code: 'conflict' } });

    // ...and the room can be joined again, with media flowing through a new worker.
    const again = await live.join('crashy', 'A2', { colour: GREEN, toneHz: 440 });
    expect(supervisor().get('crashy')?.pid).not.toBe(pid);
    await waitFor(
      () => !!again.latestFrame && frameContainsColour(again.latestFrame, rgbToYuv(GREEN)),
      45000,
      'video after rejoin',
    );
  });

  it("an idle room's worker exits after the idle delay", async () => {
    const c = await joinRoom(live.server, 'idle', 'I', { colour: GREEN });
    const pid = supervisor().get('idle')?.pid as number;
    await c.close();
    await waitFor(
      () => supervisor().get('idle') === undefined && !isAlive(pid),
      20000,
      'idle worker to exit',
    );
  });

  it('a socket that joins with bad input gets a clear error and changes nothing', async () => {
    const s = io(live.server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    await new Promise<void>((r) => s.once('connect', () => r()));
    expect(await request(s, 'join', { roomId: '../etc', displayName: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(await request(s, 'join', { roomId: 'ok', displayName: '' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(await request(s, 'offer', { sdp: 'v=0' })).toMatchObject({
      ok: false,
      error: { code: 'conflict' },
    });
    await createRoom(live.server, { id: 'sdp-room' });
    const joined = await request(s, 'join', {
      roomId: 'sdp-room',
      token: await token(live.server, 'sdp-room', { identity: 'S' }),
    });
    expect(joined.ok).toBe(true);
    expect(await request(s, 'offer', { sdp: 'not an sdp' })).toMatchObject({
      ok: false,
      error: { code: 'invalid_sdp' },
    });
    expect(await request(s, 'offer', { sdp: 'v=0\r\n' + 'a=x\r\n'.repeat(20000) })).toMatchObject({
      ok: false,
      error: { code: 'payload_too_large' },
    });
    s.disconnect();
  });
});

describe('process hygiene of the real server process', () => {
  it('SIGTERM stops the media workers and the embedded redis-server: no orphans', async () => {
    const srv = await spawnServer();
    const c = await joinRoom(srv, 'orphans', 'X', { colour: GREEN, toneHz: 300 });
    await waitFor(() => c.framesReceived > 0, 30000, 'first frame');
    const children = childPids(srv.proc.pid as number);
    expect(children.length).toBeGreaterThanOrEqual(2); // redis-server + one media worker
    await c.close();
    const code = await srv.stop('SIGTERM');
    expect(code).toBe(0);
    await waitFor(() => children.every((p) => !isAlive(p)), 10000, 'children to exit');
  });

  it('a SIGKILLed server leaves no process behind, and the next start finds its rooms again', async () => {
    const srv = await spawnServer();
    const c = await joinRoom(srv, 'orphans2', 'Y', { colour: GREEN });
    await waitFor(() => c.framesReceived > 0, 30000, 'first frame');
    // redis-server, the recording worker and the room's media worker.
    const children = childPids(srv.proc.pid as number);
    expect(children.length).toBeGreaterThanOrEqual(3);
    await c.close();
    await srv.stop('SIGKILL');
    // Workers notice the closed IPC channel; redis gets SIGTERM from the kernel (pdeathsig).
    await waitFor(() => children.every((p) => !isAlive(p)), 15000, 'every child to exit');
    const next = await spawnServer({ DATA_DIR: srv.dataDir });
    try {
      const rooms = await api<{ rooms: { id: string }[] }>(next, '/api/rooms');
      expect(rooms.body.rooms.map((r) => r.id)).toContain('orphans2');
    } finally {
      expect(await next.stop('SIGTERM')).toBe(0);
    }
  });
});
