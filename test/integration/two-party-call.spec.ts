import { frameContainsColour, goertzel, rgbToYuv, rmsOf } from '../helpers/media-analysis';
import { waitFor } from '../helpers/signal';
import { BLUE, RED, useLiveServer } from '../helpers/live-room';

describe('a two-party call through the MCU', () => {
  const live = useLiveServer();

  it('gives each participant one picture holding both colours and a mix that carries the other tone only', async () => {
    const alice = await live.join('call-1', 'alice', { displayName: 'Alice', colour: RED, toneHz: 440 });
    const bob = await live.join('call-1', 'bob', { displayName: 'Bob', colour: BLUE, toneHz: 880 });

    expect(alice.pc.getReceivers().filter((r) => r.track.kind === 'video')).toHaveLength(1);
    expect(alice.pc.getReceivers().filter((r) => r.track.kind === 'audio')).toHaveLength(1);

    for (const c of [alice, bob]) {
      await waitFor(
        () =>
          c.latestFrame !== null &&
          frameContainsColour(c.latestFrame, rgbToYuv(RED)) &&
          frameContainsColour(c.latestFrame, rgbToYuv(BLUE)),
        45000,
        `${c.opts.displayName} to see both colours`,
      );
      expect(c.latestFrame?.width).toBe(640);
      expect(c.latestFrame?.height).toBe(360);
    }

    // Let audio settle, then check that each one hears the other and not itself.
    await waitFor(
      () => alice.audioSamplesReceived > 48000 && bob.audioSamplesReceived > 48000,
      30000,
      'audio',
    );
    await waitFor(
      () => rmsOf(alice.recentAudio(500)) > 0.02 && rmsOf(bob.recentAudio(500)) > 0.02,
      30000,
      'non-silent audio',
    );
    const a = alice.recentAudio(1000);
    const b = bob.recentAudio(1000);
    expect(goertzel(a, alice.audioSampleRate, 880)).toBeGreaterThan(0.3);
    expect(goertzel(a, alice.audioSampleRate, 440)).toBeLessThan(0.05);
    expect(goertzel(b, bob.audioSampleRate, 440)).toBeGreaterThan(0.3);
    expect(goertzel(b, bob.audioSampleRate, 880)).toBeLessThan(0.05);
  });
});
