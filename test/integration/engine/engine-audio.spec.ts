import { goertzel, rmsOf } from '../../helpers/media-analysis';
import { waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';
import { useLiveServer } from '../../helpers/live-room';

const TONES = [440, 660, 880];

describe('mix-minus audio by content (real worker, real wrtc clients)', () => {
  const live = useLiveServer();
  const { clients } = live;

  it('three participants each hear the two other tones and never their own', async () => {
    const room: TestClient[] = [];
    for (let i = 0; i < 3; i++) {
      room.push(
        await TestClient.connect(live.server.url, {
          roomId: 'tones',
          displayName: `T${i}`,
          toneHz: TONES[i],
          toneAmplitude: 0.25,
        }),
      );
    }
    clients.push(...room);
    const hears = (c: TestClient, hz: number) => goertzel(c.recentAudio(1000), c.audioSampleRate, hz);
    for (let i = 0; i < 3; i++) {
      const c = room[i];
      const others = TONES.filter((_, j) => j !== i);
      await waitFor(
        () => others.every((hz) => hears(c, hz) > 0.2),
        45000,
        `T${i} to hear ${others.join(' and ')} Hz`,
      );
      // Own tone absent: far below either of the others (codec noise spreads a little energy).
      const own = hears(c, TONES[i]);
      expect(own).toBeLessThan(0.02);
      for (const hz of others) expect(hears(c, hz)).toBeGreaterThan(own * 10);
    }
  });

  it('two full-scale inputs are clamped, not wrapped: the listener still hears two clean tones', async () => {
    const loudA = await TestClient.connect(live.server.url, {
      roomId: 'loud',
      displayName: 'LA',
      toneHz: 440,
      toneAmplitude: 1,
    });
    const loudB = await TestClient.connect(live.server.url, {
      roomId: 'loud',
      displayName: 'LB',
      toneHz: 660,
      toneAmplitude: 1,
    });
    const listener = await TestClient.connect(live.server.url, {
      roomId: 'loud',
      displayName: 'L',
      toneHz: 0,
    });
    clients.push(loudA, loudB, listener);
    await waitFor(() => rmsOf(listener.recentAudio(500)) > 0.3, 45000, 'loud audio at the listener');
    // Wrap-around turns overflow into full-scale jumps of opposite sign (broadband clicks);
    // clamping keeps the energy in the two tones and their low harmonics. On a loaded machine the
    // receiver's jitter buffer stretches and conceals audio now and then, which spreads energy
    // too, so the tones are looked for in any clean half second within a while, not in one
    // snapshot; the clicks that wrapping makes would be in every one of them.
    const inTones = (pcm: Int16Array) =>
      goertzel(pcm, listener.audioSampleRate, 440) + goertzel(pcm, listener.audioSampleRate, 660);
    await waitFor(() => inTones(listener.recentAudio(500)) > 0.3, 20000, 'two clean tones');
    const pcm = listener.recentAudio(1000);
    let jumps = 0;
    for (let i = 1; i < pcm.length; i++) if (Math.abs(pcm[i] - pcm[i - 1]) > 40000) jumps++;
    expect(jumps).toBe(0);
  });

  it('the loudest sustained speaker becomes the active speaker, announced to everyone', async () => {
    const quiet = await TestClient.connect(live.server.url, {
      roomId: 'speak',
      displayName: 'Quiet',
      toneHz: 0,
    });
    const talker = await TestClient.connect(live.server.url, {
      roomId: 'speak',
      displayName: 'Talker',
      toneHz: 300,
      toneAmplitude: 0.5,
    });
    clients.push(quiet, talker);
    for (const c of [quiet, talker]) {
      await waitFor(
        () =>
          c
            .eventsNamed('active-speaker')
            .some((e) => (e as { participantId: string }).participantId === talker.participantId),
        30000,
        `${c.opts.displayName} to be told who speaks`,
      );
    }
    // Hysteresis: one sustained speaker gives one announcement, not a stream of flips.
    expect(quiet.eventsNamed('active-speaker').length).toBeLessThanOrEqual(2);
  });
});
