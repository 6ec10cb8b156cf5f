import {
  AUDIO_TICK_MS,
  BASE_FPS,
  baseFrameAt,
  frameDivisor,
  isCaptureStart,
} from '../../../workers/media/frame-grid';
import {
  AUDIO_SAMPLE_RATE,
  COMPOSITE_VIDEO_DELAY_MS,
  framesDue,
} from '../../../workers/media/recorder/recording-segmenter';

const SAMPLES_PER_TICK = (AUDIO_SAMPLE_RATE * AUDIO_TICK_MS) / 1000;
const DELAY_SAMPLES = (COMPOSITE_VIDEO_DELAY_MS * AUDIO_SAMPLE_RATE) / 1000;

/**
 * The room's feed into a capture, as MediaRoom.onTick and RecordingSegmenter.pushVideo do it:
 * per 10 ms tick the mix first, then the composite when a base frame of the capture's rate
 * begins; the composite takes the slot framesDue() gives it. Returns, per frame written, how far
 * after its base frame's time (f·33.3 ms) its slot lies in the file (the file starts at the
 * capture's first audio sample, media time `startMs`).
 */
function placements(startMs: number, fps: number, seconds = 6): number[] {
  const out: number[] = [];
  let samples = 0;
  let written = 0;
  let lastFrame = baseFrameAt(startMs - AUDIO_TICK_MS);
  for (let t = startMs; t < startMs + seconds * 1000; t += AUDIO_TICK_MS) {
    samples += SAMPLES_PER_TICK;
    const f = baseFrameAt(t);
    if (f === lastFrame) continue;
    lastFrame = f;
    if (f % frameDivisor(fps) !== 0) continue;
    const due = framesDue(samples, fps, DELAY_SAMPLES);
    if (due <= written) continue;
    written = due;
    const slotMs = startMs + ((due - 1) * 1000) / fps;
    out.push(slotMs - (f * 1000) / BASE_FPS);
  }
  return out;
}

describe('capture start on the frame grid', () => {
  it.each([30, 15, 7.5])('puts every %s fps picture exactly the video delay after its frame time', (fps) => {
    let starts = 0;
    for (let startMs = 1000; startMs < 1800; startMs += AUDIO_TICK_MS) {
      if (!isCaptureStart(startMs, fps, COMPOSITE_VIDEO_DELAY_MS)) continue;
      starts++;
      const p = placements(startMs, fps);
      expect(p.length).toBeGreaterThan(fps * 5);
      for (const ms of p) expect(ms).toBeCloseTo(COMPOSITE_VIDEO_DELAY_MS, 6);
    }
    // One aligned tick per 100 ms at 30 fps, 200 ms at 15 fps, 400 ms at 7.5 fps.
    expect(starts).toBe(800 / { 30: 100, 15: 200, 7.5: 400 }[fps]!);
  });

  it('without it the placement depends on when the capture started (why it exists)', () => {
    for (const fps of [30, 15]) {
      const means: number[] = [];
      for (let startMs = 1000; startMs < 1200; startMs += AUDIO_TICK_MS) {
        const p = placements(startMs, fps);
        means.push(p.reduce((a, b) => a + b, 0) / p.length);
      }
      // 26.7 ms at 30 fps, 60 ms at 15 fps between the luckiest and unluckiest start.
      expect(Math.max(...means) - Math.min(...means)).toBeGreaterThan(25);
    }
  });

  it('finds the aligned ticks at any media time, negative remainders included', () => {
    expect(isCaptureStart(40, 30, 40)).toBe(true);
    expect(isCaptureStart(140, 30, 40)).toBe(true);
    expect(isCaptureStart(0, 30, 40)).toBe(false);
    expect(isCaptureStart(10, 30, 0)).toBe(false);
    expect(isCaptureStart(140, 15, 40)).toBe(false);
    expect(isCaptureStart(240, 15, 40)).toBe(true);
    expect(isCaptureStart(20, 15, 40)).toBe(false);
  });
});
