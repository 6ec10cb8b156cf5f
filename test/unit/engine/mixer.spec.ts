import { FRAME_SAMPLES, SAMPLE_RATE } from '../../../workers/media/engine/audio/jitter-buffer';
import { MixMinusMixer, rms } from '../../../workers/media/engine/audio/mixer';
import { goertzelPower, sine } from './goertzel';

// Whole cycles in 480 samples, so each tone falls exactly on a Goertzel bin.
const TONES = [300, 700, 1100];

function frames(n: number): Int16Array[] {
  return Array.from({ length: n }, () => new Int16Array(FRAME_SAMPLES));
}

describe('MixMinusMixer', () => {
  it('gives each listener everyone else but not their own voice', () => {
    const inputs = TONES.map((f) => sine(new Int16Array(FRAME_SAMPLES), SAMPLE_RATE, f, 8000));
    const outputs = frames(3);
    const mixAll = new Int16Array(FRAME_SAMPLES);
    new MixMinusMixer(8).mix(3, inputs, Uint8Array.of(1, 1, 1), outputs, mixAll);
    for (let i = 0; i < 3; i++) {
      const own = goertzelPower(outputs[i], SAMPLE_RATE, TONES[i]);
      for (let j = 0; j < 3; j++) {
        if (j === i) continue;
        const other = goertzelPower(outputs[i], SAMPLE_RATE, TONES[j]);
        expect(other).toBeGreaterThan(1e6);
        expect(own).toBeLessThan(other * 1e-6);
      }
    }
    for (const f of TONES) expect(goertzelPower(mixAll, SAMPLE_RATE, f)).toBeGreaterThan(1e6);
  });

  it('clamps loud sums instead of wrapping around', () => {
    const a = new Int16Array(FRAME_SAMPLES);
    const b = new Int16Array(FRAME_SAMPLES);
    const c = new Int16Array(FRAME_SAMPLES);
    for (let s = 0; s < FRAME_SAMPLES; s++) {
      a[s] = s % 2 === 0 ? 32767 : -32768;
      b[s] = a[s];
      c[s] = a[s] === 32767 ? 20000 : -20000;
    }
    const outputs = frames(3);
    const mixAll = new Int16Array(FRAME_SAMPLES);
    new MixMinusMixer(3).mix(3, [a, b, c], Uint8Array.of(1, 1, 1), outputs, mixAll);
    for (let s = 0; s < FRAME_SAMPLES; s++) {
      const sign = Math.sign(a[s]);
      expect(Math.sign(mixAll[s])).toBe(sign);
      expect(Math.abs(mixAll[s])).toBeGreaterThanOrEqual(32767);
      for (const out of outputs) expect(Math.sign(out[s])).toBe(sign);
    }
  });

  it('leaves non-contributing inputs out of the mix and lets them hear everyone', () => {
    const inputs = TONES.map((f) => sine(new Int16Array(FRAME_SAMPLES), SAMPLE_RATE, f, 8000));
    const outputs = frames(3);
    const mixAll = new Int16Array(FRAME_SAMPLES);
    new MixMinusMixer(3).mix(3, inputs, Uint8Array.of(1, 0, 1), outputs, mixAll);
    const present = goertzelPower(mixAll, SAMPLE_RATE, 300);
    expect(goertzelPower(mixAll, SAMPLE_RATE, 700)).toBeLessThan(present * 1e-6);
    // The muted participant hears both others.
    expect(goertzelPower(outputs[1], SAMPLE_RATE, 300)).toBeGreaterThan(1e6);
    expect(goertzelPower(outputs[1], SAMPLE_RATE, 1100)).toBeGreaterThan(1e6);
    expect(goertzelPower(outputs[0], SAMPLE_RATE, 700)).toBeLessThan(present * 1e-6);
  });

  it('measures rms on a 0..1 scale', () => {
    expect(rms(new Int16Array(FRAME_SAMPLES))).toBe(0);
    expect(rms(new Int16Array(FRAME_SAMPLES).fill(-32768))).toBe(1);
    const tone = sine(new Int16Array(FRAME_SAMPLES), SAMPLE_RATE, 300, 16384);
    expect(rms(tone)).toBeCloseTo(0.5 / Math.SQRT2, 3);
  });
});
