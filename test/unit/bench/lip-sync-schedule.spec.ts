import { gapFrames, SEND_FPS } from '../../../bench/lip-sync/flash-beep';

/** The 25 fps sender, the 30 fps composite and the 15 fps profile share a 200 ms cycle (5 frames). */
const FRAMES_PER_CYCLE = 5;

describe('lip-sync event schedule', () => {
  it('keeps events 1.8-2.2 s apart', () => {
    for (let k = 1; k <= 60; k++) {
      const ms = (gapFrames(k) * 1000) / SEND_FPS;
      expect(ms).toBeGreaterThanOrEqual(1800);
      expect(ms).toBeLessThanOrEqual(2200);
    }
  });

  it('samples every phase of the 200 ms cycle equally often', () => {
    const counts = new Array<number>(FRAMES_PER_CYCLE).fill(0);
    let frame = 0;
    for (let k = 1; k <= 60; k++) {
      frame += gapFrames(k);
      counts[frame % FRAMES_PER_CYCLE]++;
    }
    expect(counts).toEqual([12, 12, 12, 12, 12]);
    // And any 5 consecutive events cover the 5 phases once each.
    const phases = new Set<number>();
    for (let k = 61; k <= 65; k++) {
      frame += gapFrames(k);
      phases.add(frame % FRAMES_PER_CYCLE);
    }
    expect(phases.size).toBe(FRAMES_PER_CYCLE);
  });
});
