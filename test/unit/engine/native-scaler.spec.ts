import { setLogSink } from '../../../workers/kernel/logger';
import {
  I420Frame,
  createI420,
  fillI420,
  i420Size,
  rgbToYuv,
} from '../../../workers/media/engine/video/i420';
import { loadNativeScaler } from '../../../workers/media/engine/video/native-scaler';
import type { Fit, Rect } from '../../../workers/media/engine/video/scale-plan';
import { I420Scaler } from '../../../workers/media/engine/video/scaler';

// The loader logs which kernel it picked; keep the test output to jest's own.
setLogSink(() => undefined);
const native = loadNativeScaler();

const RED = rgbToYuv({ r: 200, g: 40, b: 40 });

/**
 * A smooth picture (at most ~1 level per source sample, well away from black) so that the
 * two kernels' small convention differences -- whole-sample crop offsets, libyuv mapping
 * corners rather than centres when upscaling -- stay within the tolerance, while a tile
 * placed or cropped wrongly (bars vs picture, a shifted edge) would not.
 */
function smoothFrame(width: number, height: number): I420Frame {
  const frame = createI420(width, height);
  const d = frame.data;
  // Slope in 1/256 per sample, at most 0.6. Integer maths only: jest's sandbox makes every
  // `Math.*` call in a loop a slow global look-up.
  const k = Math.min(154, Math.floor(18432 / (width + height)));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) d[y * width + x] = 80 + (((x + 2 * y) * k) >> 8);
  }
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const u = width * height;
  const v = u + cw * ch;
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      d[u + y * cw + x] = 90 + ((2 * x * k) >> 8);
      d[v + y * cw + x] = 160 - ((2 * y * k) >> 8);
    }
  }
  return frame;
}

/** Index of the first byte differing by more than `tolerance`, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array, tolerance: number): number {
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    if (d > tolerance || d < -tolerance) return i;
  }
  return -1;
}

const smoothCache = new Map<string, I420Frame>();
function smoothSource(width: number, height: number): I420Frame {
  const key = `${width}x${height}`;
  let frame = smoothCache.get(key);
  if (frame === undefined) {
    frame = smoothFrame(width, height);
    smoothCache.set(key, frame);
  }
  return frame;
}

const sentinelCache = new Map<string, Uint8Array>();
/** A canvas whose every byte is a recognisable, position-dependent value. */
function sentinelCanvas(width: number, height: number): I420Frame {
  const key = `${width}x${height}`;
  let bytes = sentinelCache.get(key);
  if (bytes === undefined) {
    bytes = createI420(width, height).data;
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) & 255;
    sentinelCache.set(key, bytes);
  }
  return { width, height, data: bytes.slice() };
}

interface Geometry {
  src: [number, number];
  canvas: [number, number];
  rect: Rect;
}

const GEOMETRIES: Geometry[] = [
  { src: [640, 480], canvas: [640, 360], rect: { x: 0, y: 0, w: 212, h: 120 } }, // 3x3 grid tile
  { src: [640, 480], canvas: [1280, 720], rect: { x: 428, y: 240, w: 426, h: 240 } },
  { src: [641, 481], canvas: [640, 360], rect: { x: 1, y: 3, w: 101, h: 57 } }, // odd everything
  { src: [320, 240], canvas: [640, 360], rect: { x: 0, y: 0, w: 640, h: 360 } }, // upscale
  { src: [3, 5], canvas: [320, 180], rect: { x: 10, y: 10, w: 200, h: 100 } },
  { src: [1, 1], canvas: [128, 72], rect: { x: 0, y: 0, w: 64, h: 36 } },
  { src: [1, 1], canvas: [128, 72], rect: { x: 5, y: 5, w: 1, h: 1 } },
  { src: [2, 2], canvas: [64, 36], rect: { x: 3, y: 3, w: 7, h: 9 } },
  { src: [1920, 1080], canvas: [1280, 720], rect: { x: 0, y: 0, w: 426, h: 240 } },
  { src: [640, 480], canvas: [640, 480], rect: { x: 0, y: 0, w: 480, h: 360 } }, // libyuv 3/4 path
  { src: [640, 480], canvas: [640, 480], rect: { x: 2, y: 4, w: 240, h: 180 } }, // 3/8 path
  { src: [640, 480], canvas: [640, 480], rect: { x: 0, y: 0, w: 320, h: 240 } }, // 1/2 path
  { src: [640, 480], canvas: [640, 480], rect: { x: 0, y: 0, w: 160, h: 120 } }, // 1/4 path
  { src: [640, 480], canvas: [640, 480], rect: { x: 0, y: 0, w: 640, h: 480 } }, // copy
  { src: [640, 480], canvas: [640, 360], rect: { x: 20, y: 10, w: 100, h: 240 } }, // crop sides
  { src: [1280, 720], canvas: [640, 360], rect: { x: 300, y: 0, w: 200, h: 200 } }, // crop sides
  { src: [480, 640], canvas: [640, 360], rect: { x: 0, y: 0, w: 320, h: 90 } }, // crop top/bottom
  { src: [640, 480], canvas: [640, 360], rect: { x: 600, y: 300, w: 100, h: 100 } }, // clipped
];
const FITS: Fit[] = ['crop', 'letterbox'];

function label(g: Geometry, fit: Fit): string {
  const r = g.rect;
  return `${g.src.join('x')} -> ${r.w}x${r.h}@${r.x},${r.y} in ${g.canvas.join('x')} (${fit})`;
}

/** 1 for each canvas byte a rectangle's picture may touch (chroma rounded outwards), else 0. */
function footprint(frame: I420Frame, rect: Rect): Uint8Array {
  const mask = new Uint8Array(frame.data.length);
  const x0 = Math.max(0, rect.x);
  const y0 = Math.max(0, rect.y);
  const x1 = Math.min(frame.width, rect.x + rect.w);
  const y1 = Math.min(frame.height, rect.y + rect.h);
  for (let y = y0; y < y1; y++) mask.fill(1, y * frame.width + x0, y * frame.width + x1);
  const cw = (frame.width + 1) >> 1;
  const chromaSize = cw * ((frame.height + 1) >> 1);
  for (const plane of [frame.width * frame.height, frame.width * frame.height + chromaSize]) {
    for (let y = y0 >> 1; y < (y1 + 1) >> 1; y++) {
      mask.fill(1, plane + y * cw + (x0 >> 1), plane + y * cw + ((x1 + 1) >> 1));
    }
  }
  return mask;
}

describe('I420Scaler kernel selection', () => {
  it('uses the native kernel by default exactly when the addon loads, and TypeScript on request', () => {
    expect(new I420Scaler().kernel).toBe(native === null ? 'ts' : 'native');
    expect(new I420Scaler({ native: false }).kernel).toBe('ts');
  });

  it('accepts Uint8ClampedArray sources and views with a byteOffset on the TypeScript kernel', () => {
    const src = smoothFrame(641, 481);
    const backing = new Uint8ClampedArray(src.data.length + 3);
    backing.set(src.data, 3);
    const clamped = { width: src.width, height: src.height, data: backing.subarray(3) };
    const a = createI420(640, 360);
    const b = createI420(640, 360);
    const scaler = new I420Scaler({ native: false });
    scaler.scaleInto(src, a, { x: 1, y: 1, w: 301, h: 171 }, 'crop');
    scaler.scaleInto(clamped, b, { x: 1, y: 1, w: 301, h: 171 }, 'crop');
    expect(Buffer.compare(a.data, b.data)).toBe(0);
  });
});

const describeNative = native !== null ? describe : describe.skip;
const title =
  native !== null
    ? 'I420Scaler (native libyuv kernel)'
    : 'I420Scaler (native libyuv kernel) -- SKIPPED: native/yuv-scale is not built; run `node scripts/setup.js`';

describeNative(title, () => {
  it('matches the TypeScript kernel within +-2 per byte for both fits, odd sizes, up/downscales and crops', () => {
    const fast = new I420Scaler();
    const reference = new I420Scaler({ native: false });
    const failures: string[] = [];
    for (const g of GEOMETRIES) {
      const src = smoothSource(g.src[0], g.src[1]);
      for (const fit of FITS) {
        const a = sentinelCanvas(g.canvas[0], g.canvas[1]);
        const b = sentinelCanvas(g.canvas[0], g.canvas[1]);
        fast.scaleInto(src, a, g.rect, fit);
        reference.scaleInto(src, b, g.rect, fit);
        const at = firstDifference(a.data, b.data, 2);
        if (at >= 0) failures.push(`${label(g, fit)}: byte ${at} is ${a.data[at]}, expected ${b.data[at]}`);
      }
    }
    expect(failures).toEqual([]);
    expect(fast.nativeRejects).toBe(0);
  });

  it('never writes outside the destination rectangle', () => {
    const scaler = new I420Scaler();
    const failures: string[] = [];
    for (const g of GEOMETRIES) {
      const src = smoothSource(g.src[0], g.src[1]);
      for (const fit of FITS) {
        const canvas = sentinelCanvas(g.canvas[0], g.canvas[1]);
        const before = sentinelCanvas(g.canvas[0], g.canvas[1]);
        scaler.scaleInto(src, canvas, g.rect, fit);
        const inside = footprint(canvas, g.rect);
        for (let i = 0; i < canvas.data.length; i++) {
          if (inside[i] === 0 && canvas.data[i] !== before.data[i]) {
            failures.push(`${label(g, fit)}: byte ${i} changed`);
            break;
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('keeps a flat colour exactly flat, with exactly black bars', () => {
    const scaler = new I420Scaler();
    const failures: string[] = [];
    for (const g of GEOMETRIES) {
      const src = createI420(g.src[0], g.src[1]);
      fillI420(src, RED);
      for (const fit of FITS) {
        const canvas = sentinelCanvas(g.canvas[0], g.canvas[1]);
        scaler.scaleInto(src, canvas, g.rect, fit);
        const inside = footprint(canvas, g.rect);
        const lumaSize = canvas.width * canvas.height;
        const chromaSize = ((canvas.width + 1) >> 1) * ((canvas.height + 1) >> 1);
        for (let i = 0; i < canvas.data.length; i++) {
          if (inside[i] === 0) continue;
          const plane = i < lumaSize ? 0 : i < lumaSize + chromaSize ? 1 : 2;
          const colour = [RED.y, RED.u, RED.v][plane];
          const bar = [16, 128, 128][plane];
          // Crop paints only picture; letterbox paints picture or bar.
          const ok = canvas.data[i] === colour || (fit === 'letterbox' && canvas.data[i] === bar);
          if (!ok) {
            failures.push(`${label(g, fit)}: byte ${i} = ${canvas.data[i]}`);
            break;
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('averages the whole area a sample covers when a tile shrinks more than 2x (noise keeps its mean, loses its spread)', () => {
    // Per-pixel noise in the luma, as a camera's sensor or the bench's busy pictures give:
    // a 4x shrink that reads only 2x2 of each 4x4 block keeps half the spread; one that
    // averages all 16 keeps a quarter. Deterministic LCG so a failure reproduces.
    const src = createI420(640, 360);
    fillI420(src, RED);
    let seed = 12345;
    for (let i = 0; i < 640 * 360; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      src.data[i] = 60 + (seed >>> 24) / 2; // 60..187, sd ~37
    }
    const spread = (d: Uint8Array, n: number): { mean: number; sd: number } => {
      let sum = 0;
      let sq = 0;
      for (let i = 0; i < n; i++) {
        sum += d[i];
        sq += d[i] * d[i];
      }
      const mean = sum / n;
      return { mean, sd: Math.sqrt(sq / n - mean * mean) };
    };
    const input = spread(src.data, 640 * 360);
    const canvas = createI420(160, 90);
    const scaler = new I420Scaler();
    scaler.scaleInto(src, canvas, { x: 0, y: 0, w: 160, h: 90 }, 'crop');
    const output = spread(canvas.data, 160 * 90);
    expect(Math.abs(output.mean - input.mean)).toBeLessThan(1);
    // 16-sample averages: sd / 4 (+ rounding); a 2x2 read would leave sd / 2.
    expect(output.sd).toBeLessThan(input.sd * 0.3);
    expect(scaler.nativeRejects).toBe(0);
  });

  it('gives the same picture for Uint8Array and Uint8ClampedArray sources, with or without a byteOffset', () => {
    const src = smoothFrame(641, 481);
    const backing = new Uint8ClampedArray(src.data.length + 5);
    backing.set(src.data, 5);
    const clamped = { width: src.width, height: src.height, data: backing.subarray(5) };
    const scaler = new I420Scaler();
    for (const fit of FITS) {
      const a = createI420(640, 360);
      const b = createI420(640, 360);
      scaler.scaleInto(src, a, { x: 3, y: 1, w: 301, h: 171 }, fit);
      scaler.scaleInto(clamped, b, { x: 3, y: 1, w: 301, h: 171 }, fit);
      expect(Buffer.compare(a.data, b.data)).toBe(0);
    }
    expect(scaler.nativeRejects).toBe(0);
  });

  it('draws truncated sources like the TypeScript kernel, without calling into native code', () => {
    const fast = new I420Scaler();
    const reference = new I420Scaler({ native: false });
    const full = smoothFrame(320, 240);
    for (const length of [0, 100, 320 * 240, i420Size(320, 240) - 1]) {
      const broken = { width: 320, height: 240, data: full.data.subarray(0, length) };
      const a = sentinelCanvas(160, 90);
      const b = sentinelCanvas(160, 90);
      expect(() => fast.scaleInto(broken, a, { x: 0, y: 0, w: 160, h: 90 }, 'crop')).not.toThrow();
      reference.scaleInto(broken, b, { x: 0, y: 0, w: 160, h: 90 }, 'crop');
      expect(Buffer.compare(a.data, b.data)).toBe(0);
    }
    expect(fast.nativeRejects).toBe(0);
  });

  it('refuses, rather than overruns, geometry that does not fit its buffers', () => {
    if (native === null) return;
    const src = new Uint8Array(i420Size(4, 4));
    const dst = new Uint8Array(i420Size(4, 4));
    const ok = new Int32Array([0, 4, 4, 4, 0, 4, 4, 4, 16, 2, 2, 2, 16, 2, 2, 2, 20, 2, 2, 2, 20, 2, 2, 2]);
    expect(native.scaleI420(src, dst, ok)).toBe(true);
    const tooFar = Int32Array.from(ok);
    tooFar[20] = 21; // V plane source one byte past the end
    expect(native.scaleI420(src, dst, tooFar)).toBe(false);
    const negative = Int32Array.from(ok);
    negative[4] = -1;
    expect(native.scaleI420(src, dst, negative)).toBe(false);
    expect(native.scaleI420(src, dst, new Int32Array(3))).toBe(false);
  });
});
