/**
 * The audio benchmarks' test signal: one steady tone per participant, and how far a listener's
 * own tone lies below the others' in what it hears (own-voice suppression). Shared by the room
 * benchmark (bench/audio-room.ts, through the server or Janus) and the codec-only micro
 * benchmark (bench/micro/opus-mix.ts), so both read the same signal the same way.
 */

/**
 * `spread` (the default): tones 80 Hz apart on average from 300 Hz up, each moved up by 0–20 Hz
 * (20 × the fractional part of i·φ), so that no two share a short common period. `grid`: exactly
 * 300 + 80·i Hz, the signal of the runs before 2026-12-07. On the grid the mix repeats every
 * 50 ms and Opus's 20 ms frames every 100 ms, so the codec's quantisation noise of the other
 * tones is a comb of lines 10 Hz apart, one of them exactly on the missing tone: the measurement
 * read the codec noise gathered onto the one frequency it looks at (docs/overload.md). Voices
 * do not line up like that; on the spread set the same noise is the continuous floor it is.
 */
export type ToneSet = 'spread' | 'grid';

const GOLDEN = (Math.sqrt(5) - 1) / 2;

export function toneHz(i: number, tones: ToneSet = 'spread'): number {
  const grid = 300 + i * 80;
  return tones === 'grid' ? grid : grid + 20 * ((i * GOLDEN) % 1);
}

/**
 * Amplitude of `freq` in `x` (relative to full scale): Goertzel over the whole buffer with a
 * Hann window, so that the other tones' spectral leakage does not read as the own tone.
 */
export function goertzelHann(x: Int16Array, rate: number, freq: number): number {
  const k = (2 * Math.PI * freq) / rate;
  const c = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    const s = (w * x[i]) / 32768 + c * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return (4 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - c * s1 * s2))) / n;
}

/**
 * Listener `own`'s tone against the mean of the other `speakers` tones in `x`, dB below them.
 * The window's length sets the Goertzel bin (≈ 2 Hz for 1 s with the Hann window, ≈ 0.5 Hz for
 * 4 s): steady tones read the same in either, a noise floor 6 dB lower in the 4 s one.
 */
export function ownToneSuppressionDb(
  x: Int16Array,
  rate: number,
  own: number,
  speakers: number,
  tones: ToneSet,
): number {
  return levelBelowOthersDb(x, rate, toneHz(own, tones), own, speakers, tones);
}

/** How far `freq` in `x` lies below the mean of the tones of the `speakers` other than `own`, dB. */
export function levelBelowOthersDb(
  x: Int16Array,
  rate: number,
  freq: number,
  own: number,
  speakers: number,
  tones: ToneSet,
): number {
  let others = 0;
  for (let j = 0; j < speakers; j++) if (j !== own) others += goertzelHann(x, rate, toneHz(j, tones));
  others /= speakers - 1;
  return 20 * Math.log10(others / Math.max(goertzelHann(x, rate, freq), 1e-9));
}
