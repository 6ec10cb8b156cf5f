/**
 * Inputs of the codec micro-benchmark, generated up front so that producing them costs nothing
 * during the measurement: camera-like video (a smooth pattern scrolling sideways, a moving
 * bright box and mild sensor noise: every frame has new detail, like a composite of webcams)
 * and voice-like audio (a tone with harmonics, a syllable envelope and a little noise).
 */
import { createI420, type I420Frame } from '../../workers/media/engine/video/i420';

/** Frames per loop; the pattern scrolls one period per loop, so the loop is seamless. */
export const LOOP_FRAMES = 60;

export function cameraFrames(width: number, height: number, count = LOOP_FRAMES): I420Frame[] {
  const period = 240;
  const step = period / count;
  // One period of the luma pattern, precomputed (Math.sin per pixel per frame would dominate).
  const pattern = new Uint8Array(period * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < period; x++) {
      const v =
        128 +
        45 * Math.sin((2 * Math.PI * x) / period) * Math.cos((2 * Math.PI * y) / (height / 3)) +
        25 * Math.sin((2 * Math.PI * (x + 2 * y)) / 60);
      pattern[y * period + x] = Math.max(16, Math.min(235, Math.round(v)));
    }
  }
  let seed = 2463534242;
  const frames: I420Frame[] = [];
  const box = Math.round(height / 4);
  for (let k = 0; k < count; k++) {
    const f = createI420(width, height);
    const d = f.data;
    const shift = Math.round(k * step);
    for (let y = 0; y < height; y++) {
      const row = y * period;
      for (let x = 0; x < width; x++) {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        d[y * width + x] = pattern[row + ((x + shift) % period)] + ((seed >>> 0) & 7);
      }
    }
    const bx = Math.round(((width - box) * k) / count);
    const by = Math.round(((height - box) * (k < count / 2 ? k : count - k) * 2) / count);
    for (let y = by; y < by + box; y++) d.fill(220, y * width + bx, y * width + bx + box);
    const cw = width >> 1;
    const ch = height >> 1;
    const u = width * height;
    const v = u + cw * ch;
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        d[u + y * cw + x] = 110 + ((((x + shift) % 120) * 3) >> 4);
        d[v + y * cw + x] = (150 - (y * 40) / ch) | 0;
      }
    }
    frames.push(f);
  }
  return frames;
}

/** Mono 48 kHz voice-like signal of `seconds`. */
export function voiceLike(seconds: number, sampleRate = 48000): Int16Array {
  const out = new Int16Array(Math.round(seconds * sampleRate));
  let seed = 88172645;
  for (let i = 0; i < out.length; i++) {
    const t = i / sampleRate;
    const f0 = 140 + 30 * Math.sin(2 * Math.PI * 0.7 * t);
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t);
    let s = 0;
    for (let h = 1; h <= 5; h++) s += Math.sin(2 * Math.PI * f0 * h * t) / h;
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const noise = ((seed >>> 0) / 4294967296 - 0.5) * 0.05;
    out[i] = Math.round(9000 * (envelope * s * 0.6 + noise));
  }
  return out;
}
