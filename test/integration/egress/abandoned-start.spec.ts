import type { EgressView } from '../../../src/egress/egress.schemas';
import { MediaSupervisor } from '../../../src/media/media-supervisor.service';
import { api } from '../../helpers/api';
import { RED, useLiveServer } from '../../helpers/live-room';
import { ffmpegChildren } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import { waitForEgress } from './egress-fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * An egress start the media worker carries out after the control plane gave up on it
 * (MEDIA_REQUEST_TIMEOUT_MS; the worker frozen with SIGSTOP past it). Before the fix the worker,
 * once it caught up, started the encode and the remux of an egress REST called `failed`: an
 * ffmpeg pair streaming on that nobody could stop (DELETE answers 409 for a failed egress).
 * Now the control plane follows a start it gave up on with a stop of that id, and the worker
 * cancels a start whose encode is still starting when that stop arrives.
 */
describe('an egress start the media worker answers too late', () => {
  const live = useLiveServer({ MEDIA_REQUEST_TIMEOUT_MS: '3000' });

  it('leaves no orphan encode: the abandoned egress stays failed, nothing streams for it, the room egresses again', async () => {
    const roomId = 'late-egress';
    const alice = await live.join(roomId, 'alice', { colour: RED, toneHz: 440 });
    await waitFor(() => alice.framesReceived > 10, 45000, 'media flowing');
    const workerPid = live.server.app.get(MediaSupervisor).get(roomId)?.pid;
    if (!workerPid) throw new Error('no media worker for the room');
    expect(ffmpegChildren(workerPid)).toEqual([]);

    process.kill(workerPid, 'SIGSTOP');
    let first: { status: number };
    try {
      // Answered by the control plane when its 3 s wait for the frozen worker runs out.
      first = await api(live.server, `/api/rooms/${roomId}/egress`, {
        method: 'POST',
        body: { type: 'hls', profile: 'low' },
      });
    } finally {
      process.kill(workerPid, 'SIGCONT');
    }
    expect(first.status).toBe(504);
    const listed = (await api<{ items: EgressView[] }>(live.server, `/api/egress?roomId=${roomId}`)).body
      .items;
    expect(listed).toHaveLength(1);
    const abandoned = listed[0];
    expect(abandoned.state).toBe('failed');
    expect(abandoned.error).toMatch(/egress\.start within 3000 ms/);

    // The worker catches up on the start and then on the control plane's compensating stop,
    // whose answer is logged (without the fix there is no such stop, and this wait fails).
    await waitFor(
      () => live.server.logs.some((l) => l.includes(abandoned.id) && l.includes('given up')),
      30000,
      'the compensating stop to be answered',
    );
    // Whatever the worker had begun for it (the encode ffmpeg, the remux ffmpeg) ends, and
    // nothing comes back once everything queued has been handled.
    await waitFor(() => ffmpegChildren(workerPid).length === 0, 30000, 'no egress ffmpeg left');
    await sleep(2000);
    expect(ffmpegChildren(workerPid)).toEqual([]);
    expect((await api<EgressView>(live.server, `/api/egress/${abandoned.id}`)).body.state).toBe('failed');

    // The room's egress works as before: a new one becomes active and stops cleanly.
    const second = await api<EgressView>(live.server, `/api/rooms/${roomId}/egress`, {
      method: 'POST',
      body: { type: 'hls', profile: 'low' },
    });
    expect(second.status).toBe(201);
    await waitForEgress(live.server, second.body.id, ['active']);
    expect(ffmpegChildren(workerPid).length).toBeGreaterThan(0);
    const stopped = await api<EgressView>(live.server, `/api/egress/${second.body.id}`, { method: 'DELETE' });
    expect(stopped.body.state).toBe('stopped');
    await waitFor(() => ffmpegChildren(workerPid).length === 0, 30000, 'the egress ffmpeg to exit');
  });
});
