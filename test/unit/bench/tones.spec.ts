import { goertzelHann, ownToneSuppressionDb, toneHz, type ToneSet } from '../../../bench/tones';

const RATE = 48000;
const N = 16;
const AMPLITUDE = 0.05 * 32767;

/** Listener `own`'s mix-minus of the N tones, plus its own tone `ownDb` below the others (or none). */
function mix(own: number, seconds: number, tones: ToneSet, ownDb: number | null): Int16Array {
  const out = new Int16Array(RATE * seconds);
  for (let j = 0; j < N; j++) {
    const gain = j !== own ? 1 : ownDb === null ? 0 : 10 ** (-ownDb / 20);
    if (gain === 0) continue;
    const step = (2 * Math.PI * toneHz(j, tones)) / RATE;
    for (let s = 0; s < out.length; s++) out[s] += Math.round(gain * AMPLITUDE * Math.sin(step * s + j));
  }
  return out;
}

/** Deterministic white noise (mulberry32), `rms` of full scale. */
function noise(samples: number, rms: number): Int16Array {
  let state = 0x9e3779b9;
  const uniform = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32 - 0.5;
  };
  // A uniform variable on [-0.5, 0.5] has an RMS of 1/sqrt(12).
  const x = new Int16Array(samples);
  for (let i = 0; i < samples; i++) x[i] = Math.round(uniform() * Math.sqrt(12) * rms * 32767);
  return x;
}

describe('bench test signal (bench/tones.ts)', () => {
  it('the spread set stays in the voice band, far apart, and off the 10 Hz grid the codec noise lines up on', () => {
    const hz = Array.from({ length: N }, (_, i) => toneHz(i, 'spread'));
    expect(Math.min(...hz)).toBeGreaterThanOrEqual(300);
    expect(Math.max(...hz)).toBeLessThan(1520);
    for (let i = 1; i < N; i++) expect(hz[i] - hz[i - 1]).toBeGreaterThanOrEqual(60);
    // Away from every multiple of 10 Hz but the first: no short common period.
    expect(hz.slice(1).every((f) => Math.abs(f / 10 - Math.round(f / 10)) > 0.02)).toBe(true);
    expect(Array.from({ length: N }, (_, i) => toneHz(i, 'grid'))).toEqual(hz.map((_, i) => 300 + 80 * i));
  });

  it('reads an own tone put in at a known level below the others', () => {
    for (const [tones, own] of [
      ['spread', 0],
      ['grid', 15],
    ] as const) {
      const db = ownToneSuppressionDb(mix(own, 0.5, tones, 45), RATE, own, N, tones);
      expect(Math.abs(db - 45)).toBeLessThan(1);
    }
  });

  it('reads the mix-minus alone as far below (nothing but rounding there)', () => {
    expect(ownToneSuppressionDb(mix(5, 0.5, 'spread', null), RATE, 5, N, 'spread')).toBeGreaterThan(70);
  });

  it('a steady tone reads the same over a window 4 times as long, a noise floor 6 dB lower', () => {
    // 0.5 s against 2 s here (the benchmark reads 1 s and 4 s): the same ratio, a quarter of the work.
    const x = mix(3, 2, 'spread', null);
    const tone = (s: number) => goertzelHann(x.subarray(x.length - RATE * s), RATE, toneHz(4, 'spread'));
    expect(Math.abs(20 * Math.log10(tone(2) / tone(0.5)))).toBeLessThan(0.2);
    // One bin's reading of noise scatters widely (its power is exponentially distributed), so
    // the floor is the mean power over 40 bins: a quarter of it in a window 4 times as long,
    // 6 dB, give or take the mean's own scatter (±16 % per window: ±2 dB for the difference).
    const n = noise(RATE * 2, 0.01);
    const floor = (s: number) => {
      let power = 0;
      for (let f = 0; f < 40; f++)
        power += goertzelHann(n.subarray(n.length - RATE * s), RATE, 333.3 + 25.7 * f) ** 2;
      return 10 * Math.log10(power / 40);
    };
    const gain = floor(0.5) - floor(2);
    expect(gain).toBeGreaterThan(4);
    expect(gain).toBeLessThan(8);
  });
});
