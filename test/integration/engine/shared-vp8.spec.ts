import { MediaSupervisor } from '../../../src/media/media-supervisor.service';
import type { RoomStats, SharedEncoderStats } from '../../../workers/protocol/media';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { BLUE, GREEN, RED, useLiveServer } from '../../helpers/live-room';
import { waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';

const COLOURS = [RED, GREEN, BLUE];
const TONES = [440, 660, 880];

/**
 * Encode once per profile (issue #17) with VIDEO_ENCODE=shared: wrtc clients offering VP8 are
 * served by the RTP-level member, and every receiver of a profile gets the profile's one VP8
 * encode. Checked by content (every colour in every receiver's picture, mix-minus by tone) and
 * by the room's own counters (one encoder, its receivers, keyframes forced for newcomers).
 */
describe('one VP8 encode per profile for every receiver (VIDEO_ENCODE=shared, real wrtc clients)', () => {
  const live = useLiveServer({ VIDEO_ENCODE: 'shared' });

  async function stats(roomId: string): Promise<RoomStats> {
    const worker = live.server.app.get(MediaSupervisor).get(roomId);
    if (!worker) throw new Error('no worker for the room');
    return (await worker.request('room.stats', {})) as RoomStats;
  }
  const vp8Encoders = async (roomId: string): Promise<SharedEncoderStats[]> =>
    (await stats(roomId)).sharedEncoders.filter((e) => e.codec === 'vp8');
  const seesAll = (c: TestClient, colours = COLOURS) =>
    c.latestFrame !== null && colours.every((col) => frameContainsColour(c.latestFrame!, rgbToYuv(col), 30));

  it('K receivers on one profile all see every colour from one encode; each hears everyone but itself', async () => {
    const room = 'shared-vp8';
    const publishers: TestClient[] = [];
    for (let i = 0; i < COLOURS.length; i++)
      publishers.push(
        await live.join(room, `pub-${i}`, { colour: COLOURS[i], toneHz: TONES[i], toneAmplitude: 0.2 }),
      );
    const viewer = await live.join(room, 'viewer', { role: 'viewer' });
    const everyone = [...publishers, viewer];

    for (const [i, c] of everyone.entries())
      await waitFor(() => seesAll(c), 45000, `receiver ${i} to see all three colours`);

    const hears = (c: TestClient, hz: number) => goertzel(c.recentAudio(1000), c.audioSampleRate, hz);
    for (const [i, c] of publishers.entries()) {
      const others = TONES.filter((_, j) => j !== i);
      await waitFor(
        () => others.every((hz) => hears(c, hz) > 0.15),
        30000,
        `publisher ${i} to hear the others`,
      );
      const own = hears(c, TONES[i]);
      expect(own).toBeLessThan(0.02);
      for (const hz of others) expect(hears(c, hz)).toBeGreaterThan(own * 10);
    }
    await waitFor(() => TONES.every((hz) => hears(viewer, hz) > 0.1), 30000, 'the viewer to hear all three');

    // One encoder for the four receivers, and they decode what it encodes: VP8 on the wire.
    const encoders = await vp8Encoders(room);
    expect(encoders).toHaveLength(1);
    expect(encoders[0]).toMatchObject({ profile: 'standard', codec: 'vp8', receivers: 4 });
    expect(encoders[0].framesEncoded).toBeGreaterThan(0);
    for (const c of everyone) expect((await c.videoInboundStats()).codec).toMatch(/VP8/i);
  });

  it('a newcomer gets a fresh keyframe; a receiver leaving or switching profile leaves the others undisturbed', async () => {
    const room = 'shared-vp8-churn';
    const a = await live.join(room, 'a', { colour: RED, toneHz: 440 });
    const b = await live.join(room, 'b', { colour: BLUE, toneHz: 880 });
    const both = [RED, BLUE];
    await waitFor(() => seesAll(a, both) && seesAll(b, both), 45000, 'both to see both colours');
    const before = (await vp8Encoders(room))[0];

    // A newcomer: its attach asks for a keyframe (forced, or covered by one within the throttle).
    const c = await live.join(room, 'c', { colour: GREEN, toneHz: 660 });
    await waitFor(() => seesAll(c), 45000, 'the newcomer to see all three colours');
    const joined = (await vp8Encoders(room))[0];
    expect(joined.receivers).toBe(3);
    expect(joined.keyframeRequests).toBeGreaterThan(before.keyframeRequests);
    expect(joined.keyframes).toBeGreaterThan(before.keyframes);

    // b switches to `low`: a second encoder opens for it; a and c stay on `standard`.
    const aFrames = a.framesReceived;
    await b.setProfile('low', true);
    await waitFor(() => (b.latestFrame?.width ?? 0) === 320 && seesAll(b), 30000, 'b to see all at 320 wide');
    const twoProfiles = await vp8Encoders(room);
    expect(twoProfiles.map((e) => [e.profile, e.receivers]).sort()).toEqual([
      ['low', 1],
      ['standard', 2],
    ]);
    expect(a.framesReceived).toBeGreaterThan(aFrames);
    expect(a.latestFrame?.width).toBe(640);

    // c leaves: a goes on receiving, the standard encoder has one receiver left.
    await c.close();
    await waitFor(() => !seesAll(a), 20000, 'the composite to drop the leaver');
    const aAfter = a.framesReceived;
    await waitFor(() => a.framesReceived > aAfter + 20 && seesAll(a, both), 20000, 'a to keep receiving');
    const left = await vp8Encoders(room);
    expect(left.find((e) => e.profile === 'standard')?.receivers).toBe(1);
  });
  it('a switch between profiles keeps the picture coming (no gap over 500 ms), also into a stream that just sent its keyframe', async () => {
    const room = 'shared-vp8-switch';
    const a = await live.join(room, 'a', { colour: RED, toneHz: 440 });
    const arrivals: Array<{ at: number; width: number }> = [];
    const b = await live.join(room, 'b', {
      colour: BLUE,
      toneHz: 880,
      onVideoFrame: (f, at) => arrivals.push({ at, width: f.width }),
    });
    const both = [RED, BLUE];
    await waitFor(() => seesAll(a, both) && seesAll(b, both), 45000, 'both to see both colours');
    // a opens the `low` stream: its first keyframe goes out now, so b's switch right after
    // lands inside the keyframe throttle (500 ms) and b's keyframe waits for it. Before the
    // switch was made before it broke, b got nothing meanwhile.
    await a.setProfile('low', true);
    await waitFor(() => (a.latestFrame?.width ?? 0) === 320, 30000, 'a to receive low');
    const from = performance.now();
    await b.setProfile('low', true);
    await waitFor(
      () => (b.latestFrame?.width ?? 0) === 320 && seesAll(b, both),
      30000,
      'b to see both at 320',
    );
    const switchedAt = arrivals.find((f) => f.at >= from && f.width === 320)!.at;
    await new Promise((r) => setTimeout(r, 1000));
    const around = arrivals.filter((f) => f.at >= from - 500 && f.at <= switchedAt + 1000);
    let worst = 0;
    for (let i = 1; i < around.length; i++) worst = Math.max(worst, around[i].at - around[i - 1].at);
    expect(around.some((f) => f.width === 640 && f.at >= from)).toBe(true); // standard went on meanwhile
    expect(worst).toBeLessThan(500);
    const encoders = await vp8Encoders(room);
    expect(encoders.map((e) => [e.profile, e.receivers])).toEqual([['low', 2]]);
  });
});
