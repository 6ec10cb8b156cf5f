import type { I420Frame, Yuv } from '../../workers/media/engine/video/i420';
import { meanYuvInRect, rgbToYuv } from '../../workers/media/engine/video/i420';

export { meanYuvInRect, rgbToYuv };
export type { I420Frame, Yuv };

/**
 * Share of the signal's energy at one frequency (0..1), by Goertzel over 50 ms blocks averaged:
 * short blocks (20 Hz wide bins) keep the measure stable when the mixer's clock and the
 * sender's differ slightly or a jitter buffer drops a frame (phase jumps).
 */
export function goertzel(samples: Int16Array, sampleRate: number, freq: number): number {
  const block = Math.round(sampleRate / 20);
  if (samples.length <= block) return goertzelBlock(samples, sampleRate, freq);
  let sum = 0;
  let weight = 0;
  for (let off = 0; off + block <= samples.length; off += block) {
    const part = samples.subarray(off, off + block);
    const e = energyOf(part);
    sum += goertzelBlock(part, sampleRate, freq) * e;
    weight += e;
  }
  return weight === 0 ? 0 : sum / weight;
}

function energyOf(samples: Int16Array): number {
  let e = 0;
  for (let i = 0; i < samples.length; i++) e += samples[i] * samples[i];
  return e;
}

function goertzelBlock(samples: Int16Array, sampleRate: number, freq: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const k = Math.round((n * freq) / sampleRate);
  const w = (2 * Math.PI * k) / n;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const x = samples[i] / 32768;
    energy += x * x;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return energy === 0 ? 0 : power / ((energy * n) / 2);
}

export function rmsOf(samples: Int16Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return samples.length ? Math.sqrt(sum / samples.length) / 32768 : 0;
}

/** Distance between two colours in YUV (compression shifts colours by a few steps). */
export function yuvDistance(a: Yuv, b: Yuv): number {
  return Math.max(Math.abs(a.y - b.y), Math.abs(a.u - b.u), Math.abs(a.v - b.v));
}

/** Does some region of the frame (scanned on a coarse grid of cells) hold this colour? */
export function frameContainsColour(frame: I420Frame, colour: Yuv, tolerance = 24, cells = 8): boolean {
  const cw = Math.floor(frame.width / cells) & ~1;
  const ch = Math.floor(frame.height / cells) & ~1;
  for (let cy = 0; cy < cells; cy++) {
    for (let cx = 0; cx < cells; cx++) {
      const m = meanYuvInRect(frame, cx * cw + 2, cy * ch + 2, cw - 4, ch - 4);
      if (yuvDistance(m, colour) <= tolerance) return true;
    }
  }
  return false;
}
