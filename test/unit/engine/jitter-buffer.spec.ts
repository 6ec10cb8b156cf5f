import { FRAME_SAMPLES, JitterBuffer, SAMPLE_RATE } from '../../../workers/media/engine/audio/jitter-buffer';
import { goertzelPower, sine } from './goertzel';

/** Pushes `seconds` of a tone in 10 ms chunks, reading one frame per chunk like the mixer clock does. */
function stream(
  jb: JitterBuffer,
  rate: number,
  channels: number,
  seconds: number,
  frequency: number,
  startSample = 0,
): { out: Int16Array; nextSample: number } {
  const chunkFrames = rate / 100;
  const mono = new Int16Array(chunkFrames);
  const chunk = new Int16Array(chunkFrames * channels);
  const chunks = Math.round(seconds * 100);
  const out = new Int16Array(chunks * FRAME_SAMPLES);
  const frame = new Int16Array(FRAME_SAMPLES);
  let sample = startSample;
  for (let c = 0; c < chunks; c++) {
    sine(mono, rate, frequency, 10000, sample);
    sample += chunkFrames;
    for (let i = 0; i < chunkFrames; i++)
      for (let ch = 0; ch < channels; ch++) chunk[i * channels + ch] = mono[i];
    jb.push(chunk, rate, channels);
    jb.readInto(frame);
    out.set(frame, c * FRAME_SAMPLES);
  }
  return { out, nextSample: sample };
}

function maxStep(samples: Int16Array): number {
  let max = 0;
  for (let i = 1; i < samples.length; i++) max = Math.max(max, Math.abs(samples[i] - samples[i - 1]));
  return max;
}

describe('JitterBuffer', () => {
  it('resamples a 16 kHz 440 Hz sine to 48 kHz and keeps its frequency', () => {
    const jb = new JitterBuffer();
    const { out } = stream(jb, 16000, 1, 1, 440);
    const steady = out.subarray(4800, 4800 + 9600);
    const at440 = goertzelPower(steady, SAMPLE_RATE, 440);
    expect(at440).toBeGreaterThan(100 * goertzelPower(steady, SAMPLE_RATE, 1320));
    expect(at440).toBeGreaterThan(100 * goertzelPower(steady, SAMPLE_RATE, 880));
    // Continuous across 10 ms chunk boundaries: a 440 Hz sine at 10000 moves < 600 per sample.
    expect(maxStep(steady)).toBeLessThan(600);
  });

  it('follows a rate change from 16 kHz to 48 kHz mid-stream without a gap or a pitch change', () => {
    const jb = new JitterBuffer();
    const first = stream(jb, 16000, 1, 0.3, 440);
    const timeSeconds = first.nextSample / 16000;
    const second = stream(jb, 48000, 1, 0.5, 440, Math.round(timeSeconds * 48000));
    const all = new Int16Array(first.out.length + second.out.length);
    all.set(first.out);
    all.set(second.out, first.out.length);
    const around = all.subarray(first.out.length - 2400, first.out.length + 2400);
    expect(maxStep(around)).toBeLessThan(600);
    const after = second.out.subarray(4800, 4800 + 9600);
    expect(goertzelPower(after, SAMPLE_RATE, 440)).toBeGreaterThan(
      100 * goertzelPower(after, SAMPLE_RATE, 1320),
    );
    expect(jb.underruns).toBe(0);
  });

  it('downmixes stereo 44.1 kHz and 8 kHz mono to the same tone', () => {
    for (const [rate, channels] of [
      [44100, 2],
      [8000, 1],
      [32000, 2],
    ]) {
      const { out } = stream(new JitterBuffer(), rate, channels, 0.5, 500);
      const steady = out.subarray(4800, 4800 + 14400);
      expect(goertzelPower(steady, SAMPLE_RATE, 500)).toBeGreaterThan(
        100 * goertzelPower(steady, SAMPLE_RATE, 1500),
      );
    }
  });

  it('waits for the target depth before playing, then returns false and silence on underrun', () => {
    const jb = new JitterBuffer({ targetFrames: 2 });
    const frame = new Int16Array(FRAME_SAMPLES).fill(123);
    expect(jb.readInto(frame)).toBe(false);
    expect(frame.every((s) => s === 0)).toBe(true);

    const chunk = new Int16Array(FRAME_SAMPLES).fill(1000);
    jb.push(chunk, 48000, 1);
    expect(jb.readInto(frame)).toBe(false);
    jb.push(chunk, 48000, 1);
    expect(jb.depth).toBeGreaterThanOrEqual(1);
    jb.push(chunk, 48000, 1);
    expect(jb.readInto(frame)).toBe(true);
    expect(jb.readInto(frame)).toBe(true);
    expect(frame[FRAME_SAMPLES - 1]).toBe(1000);
    // The stream stalls: the buffer runs dry.
    let sawUnderrun = false;
    for (let i = 0; i < 3; i++) {
      frame.fill(7);
      if (!jb.readInto(frame)) {
        sawUnderrun = true;
        expect(frame.every((s) => s === 0)).toBe(true);
      }
    }
    expect(sawUnderrun).toBe(true);
    expect(jb.underruns).toBe(1);
  });

  it('drops the oldest audio so latency stays within capacity', () => {
    const jb = new JitterBuffer({ targetFrames: 2, capacityFrames: 10 });
    const chunk = new Int16Array(FRAME_SAMPLES);
    for (let f = 0; f < 50; f++) {
      chunk.fill(f);
      jb.push(chunk, 48000, 1);
      expect(jb.depth).toBeLessThanOrEqual(10);
    }
    const frame = new Int16Array(FRAME_SAMPLES);
    expect(jb.readInto(frame)).toBe(true);
    // Only the last 10 frames survive: the oldest left is frame 40 (give or take the resampler's one-sample lag).
    expect(frame[FRAME_SAMPLES - 1]).toBe(40);
  });

  it('accepts one very long push without growing past capacity', () => {
    const jb = new JitterBuffer({ capacityFrames: 5 });
    jb.push(new Int16Array(48000 * 2 * 3), 48000, 2);
    expect(jb.depth).toBe(5);
    jb.reset();
    expect(jb.depth).toBe(0);
  });

  it('a sender whose clock runs 1 % fast keeps the buffer near its target (drift drops), not at capacity', () => {
    const jb = new JitterBuffer({ targetFrames: 4, capacityFrames: 14, driftControl: true });
    const chunk = new Int16Array(FRAME_SAMPLES);
    const frame = new Int16Array(FRAME_SAMPLES);
    // 60 s of reads at the mixer's 100 per second; the sender adds one extra frame per second.
    const depths: number[] = [];
    for (let r = 0; r < 6000; r++) {
      jb.push(chunk, 48000, 1);
      if (r % 100 === 0) jb.push(chunk, 48000, 1);
      jb.readInto(frame);
      depths.push(jb.depth);
    }
    // Without drift control it would sit at capacity (14) after ~10 s: 60 extra frames. With it,
    // the surplus goes every 2 s: at most the target + 1 frame + the 2 s window's 2 extra frames
    // (+ 1 for the depth read right after the extra push).
    expect(Math.max(...depths.slice(3000))).toBeLessThanOrEqual(4 + 1 + 2 + 1);
    expect(jb.driftDrops).toBeGreaterThan(20);
    expect(jb.underruns).toBe(0);
  });

  it('a jittery sender on time loses nothing: no drift drop while the buffer dips to its target', () => {
    const jb = new JitterBuffer({ targetFrames: 4, capacityFrames: 14, driftControl: true });
    const chunk = new Int16Array(FRAME_SAMPLES * 2);
    const frame = new Int16Array(FRAME_SAMPLES);
    // 20 ms packets, every other tick, in bursts of 3 every 60 ms: on average exactly on time.
    for (let r = 0; r < 6000; r++) {
      if (r % 6 === 0) for (let k = 0; k < 3; k++) jb.push(chunk, 48000, 1);
      jb.readInto(frame);
    }
    expect(jb.driftDrops).toBe(0);
  });

  it('without drift control (wrtc members: NetEq follows the sender) a fast sender fills it to capacity', () => {
    const jb = new JitterBuffer({ targetFrames: 4, capacityFrames: 14 });
    const chunk = new Int16Array(FRAME_SAMPLES);
    const frame = new Int16Array(FRAME_SAMPLES);
    for (let r = 0; r < 3000; r++) {
      jb.push(chunk, 48000, 1);
      if (r % 100 === 0) jb.push(chunk, 48000, 1);
      jb.readInto(frame);
    }
    expect(jb.driftDrops).toBe(0);
    expect(jb.depth).toBeGreaterThanOrEqual(13);
  });
});
