import { FrameHold } from '../../../workers/media/frame-hold';

describe('FrameHold (the downlink picture holds)', () => {
  it('hands on each frame, as it was pushed, no earlier than its tick plus the hold, in order', async () => {
    const holdMs = 60;
    const got: { tag: number; keyframe: boolean; at: number }[] = [];
    const hold = new FrameHold(6, holdMs, (data, keyframe) =>
      got.push({ tag: data[0], keyframe, at: performance.now() }),
    );
    // One buffer reused by the producer for every tick, as the compositor and the encoder do.
    const frame = new Uint8Array(384);
    const t0 = performance.now();
    const ticks: number[] = [];
    for (let i = 0; i < 4; i++) {
      frame[0] = i + 1;
      ticks.push(performance.now());
      hold.push(frame, i === 0, ticks[i]);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(performance.now() - t0).toBeLessThan(holdMs);
    expect(got).toEqual([]);
    await new Promise((r) => setTimeout(r, holdMs + 40));
    expect(got.map((g) => g.tag)).toEqual([1, 2, 3, 4]);
    expect(got.map((g) => g.keyframe)).toEqual([true, false, false, false]);
    for (let i = 0; i < 4; i++) expect(got[i].at).toBeGreaterThanOrEqual(ticks[i] + holdMs - 1);
    expect(hold.held).toBe(0);
    hold.close();
  });

  it('hands on its oldest frame early rather than losing one when full, and nothing after close', async () => {
    const got: number[] = [];
    const hold = new FrameHold(6, 10_000, (data) => got.push(data[0]));
    const frame = new Uint8Array(384);
    for (let i = 1; i <= 8; i++) {
      frame[0] = i;
      hold.push(frame, false, performance.now());
    }
    // 6 slots: the two oldest left early, the rest wait.
    expect(got).toEqual([1, 2]);
    expect(hold.held).toBe(6);
    hold.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([1, 2]);
  });

  it('with no headroom hands on a buffer of exactly the picture size (wrtc RTCVideoSource checks it)', async () => {
    const sizes: number[] = [];
    const hold = new FrameHold(6, 1, (data) => sizes.push(data.buffer.byteLength, data.byteLength), 1);
    hold.push(new Uint8Array(345600), false, performance.now());
    await new Promise((r) => setTimeout(r, 20));
    expect(sizes).toEqual([345600, 345600]);
    hold.close();
  });
});
