import { MediaSupervisor } from '../../../src/media/media-supervisor.service';
import { createRoom, token } from '../../helpers/api';
import { BLUE, GREEN, RED, useLiveServer } from '../../helpers/live-room';
import { frameContainsColour, rgbToYuv } from '../../helpers/media-analysis';
import { waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';

/**
 * A join whose `participant.join` request the media worker answers after the control plane gave
 * up (MEDIA_REQUEST_TIMEOUT_MS; here the worker is frozen with SIGSTOP past it). The worker still
 * carries the request out when it resumes; the control plane then tells it to drop that
 * participant. Without that, the worker kept a member nobody knew of, holding a publisher place:
 * the soak benchmark on a loaded machine ended with a room of 3 that refused every join with
 * room_full.
 */
describe('a join the media worker answers too late', () => {
  const live = useLiveServer({ MEDIA_REQUEST_TIMEOUT_MS: '1500' });

  it('fails the join and leaves no ghost in the worker: the place is free for the next one', async () => {
    await createRoom(live.server, { id: 'late-1', maxParticipants: 2 });
    const alice = await live.join('late-1', 'alice', { colour: RED, toneHz: 440 });
    const pid = live.server.app.get(MediaSupervisor).get('late-1')?.pid;
    if (!pid) throw new Error('no media worker for the room');

    const t = await token(live.server, 'late-1', { identity: 'bob', displayName: 'bob' });
    const bob = new TestClient(live.server.url, {
      roomId: 'late-1',
      displayName: 'bob',
      token: t,
      colour: BLUE,
    });
    live.clients.push(bob);
    process.kill(pid, 'SIGSTOP');
    let outcome: Promise<unknown>;
    try {
      outcome = bob.start().then(
        () => 'joined',
        (err: unknown) => err,
      );
      // Well past the 1.5 s request timeout.
      await new Promise((r) => setTimeout(r, 4000));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const result = await outcome;
    expect(result).not.toBe('joined');
    expect(result).toMatchObject({ code: expect.any(String) });

    // The second place is free: carol joins and sees alice, alice sees carol.
    const carol = await live.join('late-1', 'carol', { colour: GREEN, toneHz: 660 });
    await waitFor(
      () =>
        carol.latestFrame !== null &&
        frameContainsColour(carol.latestFrame, rgbToYuv(RED)) &&
        alice.latestFrame !== null &&
        frameContainsColour(alice.latestFrame, rgbToYuv(GREEN)),
      45000,
      'alice and carol to see each other',
    );
  });
});
