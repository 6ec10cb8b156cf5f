import type { ProfileChangedEvent } from '../../../workers/protocol/signaling';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { waitFor } from '../../helpers/signal';
import { BLUE, RED, useLiveServer } from '../../helpers/live-room';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The `audio` downlink (data saver, issue #15 item 2) and the pin, with real wrtc peers: a
 * receiver that asks for audio keeps hearing the room but gets no more video, and gets the
 * picture back when it asks for a profile again, on the same video track (no renegotiation:
 * no server offer). A pinned profile is said so in profile-changed.
 */
describe('data saver: the audio downlink', () => {
  const live = useLiveServer({ DOWNLINK_RECOVER_MS: '15000' });

  it('audio stops the video and keeps the sound; asking for a profile again resumes the picture on the same track', async () => {
    await live.join('saver', 'red', { colour: RED, toneHz: 440, toneAmplitude: 0.25 });
    const bob = await live.join('saver', 'bob', { colour: BLUE, toneHz: 0, profile: 'standard' });
    const hears440 = () => goertzel(bob.recentAudio(1000), bob.audioSampleRate, 440);
    await waitFor(
      () => !!bob.latestFrame && frameContainsColour(bob.latestFrame, rgbToYuv(RED)) && hears440() > 0.2,
      45000,
      "red's picture and tone at bob",
    );
    const changes = () => bob.eventsNamed('profile-changed') as ProfileChangedEvent[];
    const offers = bob.eventsNamed('offer').length;

    await bob.setProfile('audio');
    await waitFor(() => changes().some((e) => e.profile === 'audio'), 10000, 'profile-changed to audio');
    expect(changes()[changes().length - 1]).toMatchObject({
      profile: 'audio',
      requested: 'audio',
      reason: 'client',
    });
    // Frames already on the way may still land; after a moment none come.
    await sleep(1500);
    const frozen = bob.framesReceived;
    const bytes = (await bob.videoInboundStats()).bytesReceived;
    await sleep(3000);
    expect(bob.framesReceived - frozen).toBeLessThanOrEqual(1);
    expect((await bob.videoInboundStats()).bytesReceived - bytes).toBeLessThan(2000);
    // The sound goes on.
    await waitFor(() => hears440() > 0.2, 10000, "red's tone at bob while on the data saver");

    // Back to a picture, pinned: no adaptation, the same track, no server offer.
    await bob.setProfile('standard', true);
    await waitFor(
      () => changes().some((e) => e.profile === 'standard' && e.pinned),
      10000,
      'profile-changed back to standard, pinned',
    );
    const resumedFrom = bob.framesReceived;
    await waitFor(
      () =>
        bob.framesReceived > resumedFrom + 10 &&
        !!bob.latestFrame &&
        bob.latestFrame.width === 640 &&
        frameContainsColour(bob.latestFrame, rgbToYuv(RED)),
      20000,
      "red's picture again at 640x360",
    );
    // The ceiling stayed standard's: resuming needed no renegotiation.
    expect(bob.eventsNamed('offer').length).toBe(offers);
    expect(changes()[changes().length - 1]).toMatchObject({
      profile: 'standard',
      requested: 'standard',
      pinned: true,
      reason: 'client',
    });
  }, 120_000);
});
