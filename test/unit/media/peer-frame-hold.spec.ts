import { PeerFrameHold } from '../../../workers/media/peer-frame-hold';
import { createI420, type I420Frame } from '../../../workers/media/engine/video/i420';

describe('PeerFrameHold (the per-peer path picture hold)', () => {
  it('hands over each composite, as it was pushed, no earlier than its tick plus the hold, in order', async () => {
    const holdMs = 60;
    const got: { tag: number; at: number }[] = [];
    const hold = new PeerFrameHold(16, 16, holdMs, (f) =>
      got.push({ tag: f.data[0], at: performance.now() }),
    );
    // One buffer reused by the caller for every tick, as the compositor does.
    const frame: I420Frame = createI420(16, 16);
    const t0 = performance.now();
    const ticks: number[] = [];
    for (let i = 0; i < 4; i++) {
      frame.data[0] = i + 1;
      ticks.push(performance.now());
      hold.push(frame, ticks[i]);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(performance.now() - t0).toBeLessThan(holdMs);
    expect(got).toEqual([]);
    await new Promise((r) => setTimeout(r, holdMs + 40));
    expect(got.map((g) => g.tag)).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 4; i++) expect(got[i].at).toBeGreaterThanOrEqual(ticks[i] + holdMs - 1);
    expect(hold.held).toBe(0);
    hold.close();
  });

  it('delivers its oldest frame early rather than losing one when full, and nothing after close', async () => {
    const got: number[] = [];
    const hold = new PeerFrameHold(16, 16, 10_000, (f) => got.push(f.data[0]));
    const frame = createI420(16, 16);
    for (let i = 1; i <= 8; i++) {
      frame.data[0] = i;
      hold.push(frame, performance.now());
    }
    // 6 slots: the two oldest left early, the rest wait.
    expect(got).toEqual([1, 2]);
    expect(hold.held).toBe(6);
    hold.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([1, 2]);
  });
});
