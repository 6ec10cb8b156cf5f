import { frameContainsColour, rgbToYuv } from '../../helpers/media-analysis';
import { waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';
import { BLUE, RED, useLiveServer } from '../../helpers/live-room';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Received video kbit/s over a window, from the client's own getStats. */
async function receivedKbps(c: TestClient, windowMs: number): Promise<number> {
  const a = await c.videoInboundStats();
  await sleep(windowMs);
  const b = await c.videoInboundStats();
  return ((b.bytesReceived - a.bytesReceived) * 8) / (b.at - a.at);
}

/**
 * An upper bound of the largest gap between two decoded frames, from libwebrtc's native
 * inter-frame statistics between two readings: no delay can exceed the mean by more than
 * sqrt(n·variance). Native, so a stall of this (heavily loaded) test process is not counted.
 */
function largestGapBoundMs(
  a: { frames: number; sum: number; sumSq: number },
  b: { frames: number; sum: number; sumSq: number },
): number {
  const n = b.frames - a.frames;
  const sum = b.sum - a.sum;
  const sumSq = b.sumSq - a.sumSq;
  const mean = sum / n;
  return (mean + Math.sqrt(Math.max(0, sumSq - (sum * sum) / n))) * 1000;
}

function largestGapMs(times: number[], from: number): number {
  const t = times.filter((x) => x >= from);
  let gap = 0;
  for (let i = 1; i < t.length; i++) gap = Math.max(gap, t[i] - t[i - 1]);
  return gap;
}

describe('downlink delivery: codecs, profiles, smooth joins and leaves', () => {
  // libwebrtc's own encoder per peer (its ceilings are renegotiated); test/integration/engine/
  // shared-vp8.spec.ts covers the same with the shared encode, the default.
  const live = useLiveServer({ VIDEO_ENCODE: 'per-peer' });
  const { clients } = live;

  it('a VP8-only client and a VP9-only client in one room both receive the mix in their own codec', async () => {
    const vp8 = await TestClient.connect(live.server.url, {
      roomId: 'codecs',
      displayName: 'V8',
      colour: RED,
      videoCodecs: ['VP8'],
    });
    const vp9 = await TestClient.connect(live.server.url, {
      roomId: 'codecs',
      displayName: 'V9',
      colour: BLUE,
      videoCodecs: ['VP9'],
    });
    clients.push(vp8, vp9);
    for (const c of [vp8, vp9]) {
      await waitFor(
        () =>
          !!c.latestFrame &&
          frameContainsColour(c.latestFrame, rgbToYuv(RED)) &&
          frameContainsColour(c.latestFrame, rgbToYuv(BLUE)),
        45000,
        `${c.opts.displayName} to see both colours`,
      );
    }
    expect((await vp8.videoInboundStats()).codec).toMatch(/VP8/i);
    expect((await vp9.videoInboundStats()).codec).toMatch(/VP9/i);
  });

  it('a participant picks a profile at join, switches during the call, and the received size and bitrate follow', async () => {
    const sender = await TestClient.connect(live.server.url, {
      roomId: 'profiles',
      displayName: 'S',
      colour: RED,
      noise: true,
    });
    const low = await TestClient.connect(live.server.url, {
      roomId: 'profiles',
      displayName: 'L',
      colour: BLUE,
      profile: 'low',
    });
    clients.push(sender, low);
    await waitFor(
      () => low.latestFrame?.width === 320 && low.latestFrame?.height === 180,
      30000,
      'low profile frames',
    );
    await waitFor(() => sender.latestFrame?.width === 640, 30000, 'standard profile frames');
    await sleep(3000);
    const standardKbps = await receivedKbps(sender, 4000);
    process.stdout.write(`standard profile received video: ${standardKbps.toFixed(0)} kbps\n`);
    expect(standardKbps).toBeLessThan(550 * 1.3);
    // The ceiling (120 kbps video for low) is enforced toward the client; the sender's noise
    // makes the encoder want far more, so only the ceiling holds it down. Allow overshoot.
    await sleep(2000);
    const lowKbps = await receivedKbps(low, 4000);
    process.stdout.write(`low profile received video: ${lowKbps.toFixed(0)} kbps\n`);
    expect(lowKbps).toBeGreaterThan(30);
    expect(lowKbps).toBeLessThan(120 * 1.3);

    await low.setProfile('high');
    await waitFor(
      () => low.latestFrame?.width === 1280 && low.latestFrame?.height === 720,
      30000,
      'high profile frames',
    );
    await low.setProfile('low');
    await waitFor(() => low.latestFrame?.width === 320, 30000, 'back to low');
    // The renegotiated ceiling applies again after switching back.
    await sleep(3000);
    const again = await receivedKbps(low, 4000);
    process.stdout.write(`low profile after switching back: ${again.toFixed(0)} kbps\n`);
    expect(again).toBeLessThan(120 * 1.3);
  });

  it('joins and leaves cause no long video gap and no audio dropout for the others', async () => {
    const watcher = await TestClient.connect(live.server.url, {
      roomId: 'smooth',
      displayName: 'W',
      colour: RED,
      toneHz: 0,
    });
    const talker = await TestClient.connect(live.server.url, {
      roomId: 'smooth',
      displayName: 'T',
      colour: BLUE,
      toneHz: 500,
    });
    clients.push(watcher, talker);
    await waitFor(
      () => watcher.framesReceived > 30 && watcher.audioSamplesReceived > 48000,
      45000,
      'steady media',
    );
    const from = Date.now();
    const samplesBefore = watcher.audioSamplesReceived;
    const statsBefore = await watcher.videoInterFrameStats();
    for (let i = 0; i < 3; i++) {
      const guest = await TestClient.connect(live.server.url, {
        roomId: 'smooth',
        displayName: `G${i}`,
        colour: RED,
        toneHz: 700,
      });
      await sleep(1000);
      await guest.close();
      await sleep(700);
    }
    const elapsed = Date.now() - from;
    const bound = largestGapBoundMs(statsBefore, await watcher.videoInterFrameStats());
    // Logged for the record: this figure includes stalls of the test process itself (server,
    // clients and jest share it), which is why the assertion uses the native statistics.
    process.stdout.write(
      `largest video gap: ≤ ${bound.toFixed(0)} ms (native), ${largestGapMs(watcher.frameTimes, from)} ms (JS)\n`,
    );
    // 15 fps = 67 ms per frame; a generous bound for a loaded CI machine (the strict figure is
    // the benchmark's). Kurento's composite freezes for 1-2 s on a leave.
    expect(bound).toBeLessThan(700);
    // Audio kept flowing at (nearly) its real rate through every join and leave.
    const received = watcher.audioSamplesReceived - samplesBefore;
    expect(received / 48).toBeGreaterThan(elapsed * 0.8);
  });
});
