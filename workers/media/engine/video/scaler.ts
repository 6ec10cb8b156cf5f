import { BLACK, I420Frame, chromaHeight, chromaWidth, fillRect, i420Size } from './i420';
import {
  NATIVE_GEOMETRY_LENGTH,
  NativeYuvScale,
  loadNativeScaler,
  nativeCanScale,
  scaleNative,
} from './native-scaler';
import { AxisTable, Fit, Rect, ScalePlan, WEIGHT_ONE, fitCode } from './scale-plan';

export type { Fit, Rect } from './scale-plan';

/** A decoded frame as sources hand it over: wrtc's RTCVideoSink gives a Uint8ClampedArray. */
export interface I420Source {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

export interface I420ScalerOptions {
  /**
   * Use the libyuv addon when it is built (default true). Tests and benchmarks pass false
   * to exercise the TypeScript kernel, which is also what runs when the addon is missing.
   */
  native?: boolean;
}

/** Enough for a few layouts at a few output profiles; evicting the least recently used is cheap. */
const MAX_PLANS = 64;

/**
 * Bilinear I420 scaler into a rectangle of a destination canvas.
 *
 * Geometry (clipping, letterbox/crop placement, bars, chroma of odd placements) is decided
 * here for both kernels; the pixels come from libyuv when the native addon is loaded, else
 * from the TypeScript passes below.
 *
 * The TypeScript kernel is separable, vertical pass first: each destination row blends two
 * source rows into a row buffer (four bytes at a time, SIMD-within-a-register), then the
 * horizontal pass picks two samples per destination pixel from that buffer. When a
 * destination row lands exactly on a source row (weight 0 or 256) the vertical pass is
 * skipped and the horizontal pass reads the source directly. All weights are 8-bit fixed
 * point with rounding, so a flat colour stays exactly flat and a monotonic gradient stays
 * monotonic. See docs/engine-kernels.md for the measurements behind these choices.
 */
export class I420Scaler {
  private readonly plans: ScalePlan[] = [];
  private useCounter = 0;
  private row = new Uint8Array(0);
  private row32 = new Uint32Array(0);
  /** Destination bytes just outside the picture that a word store overwrites and we put back. */
  private readonly edge = new Uint8Array(8);
  /** Word views of source buffers; made once per buffer, not per frame composed. */
  private readonly wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();
  private readonly safeRect: Rect = { x: 0, y: 0, w: 0, h: 0 };
  /** Uint8Array views of Uint8ClampedArray sources, so the TypeScript loops see one array type. */
  private readonly byteViews = new WeakMap<Uint8ClampedArray, Uint8Array>();
  private readonly native: NativeYuvScale | null;
  private readonly nativeGeometry = new Int32Array(NATIVE_GEOMETRY_LENGTH);
  /**
   * Tiles the addon refused (it re-checks every plane against its buffer) and the
   * TypeScript kernel drew instead. Stays 0 unless the geometry code has a bug.
   */
  nativeRejects = 0;

  constructor(opts: I420ScalerOptions = {}) {
    this.native = opts.native === false ? null : loadNativeScaler();
  }

  /** Which kernel draws the pixels. */
  get kernel(): 'native' | 'ts' {
    return this.native === null ? 'ts' : 'native';
  }

  scaleInto(src: I420Source, dst: I420Frame, rect: Rect, fit: Fit): void {
    const r = this.clipRect(rect, dst);
    if (r.w <= 0 || r.h <= 0) return;
    if (src.width < 1 || src.height < 1 || src.data.length < src.width * src.height) {
      fillRect(dst, r.x, r.y, r.w, r.h, BLACK);
      return;
    }
    const dstCW = chromaWidth(dst.width);
    const dstU = dst.width * dst.height;
    const dstV = dstU + dstCW * chromaHeight(dst.height);
    const lumaStart = dst.data.byteOffset + r.y * dst.width + r.x;
    const chromaStart = dst.data.byteOffset + dstU + (r.y >> 1) * dstCW + (r.x >> 1);
    const placement = (r.x & 1) | ((r.y & 1) << 1) | ((lumaStart & 3) << 2) | ((chromaStart & 3) << 4);
    const plan = this.planFor(src.width, src.height, r, fit, placement);
    this.fillBars(dst, r, plan);

    // Truncated sources keep the TypeScript kernel's rule (luma only), so the addon only
    // ever sees whole frames.
    if (
      this.native !== null &&
      nativeCanScale(plan) &&
      src.data.length >= i420Size(src.width, src.height) &&
      dst.data.length >= i420Size(dst.width, dst.height)
    ) {
      if (scaleNative(this.native, this.nativeGeometry, src, dst, r, plan)) return;
      this.nativeRejects++;
    }
    this.scaleTs(this.bytesOf(src.data), dst, r, plan, dstU, dstV, dstCW);
  }

  /** The TypeScript kernel: the picture part of `plan`, plane by plane. */
  private scaleTs(
    data: Uint8Array,
    dst: I420Frame,
    r: Rect,
    plan: ScalePlan,
    dstU: number,
    dstV: number,
    dstCW: number,
  ): void {
    const srcCW = chromaWidth(plan.srcW);
    const srcCH = chromaHeight(plan.srcH);
    const srcU = plan.srcW * plan.srcH;
    const srcV = srcU + srcCW * srcCH;
    this.ensureRow(plan.srcW + 8);
    const words = this.wordViewOf(data);
    const dstWords = this.wordViewOf(dst.data);

    const yDst = (r.y + plan.offsetY) * dst.width + r.x + plan.offsetX;
    this.scalePlane(data, words, 0, plan.srcW, plan.lumaX, plan.lumaY, dst.data, dstWords, yDst, dst.width);

    const cDst = ((r.y >> 1) + plan.chromaOffsetY) * dstCW + (r.x >> 1) + plan.chromaOffsetX;
    // A truncated source (shorter than its header says) gets luma only rather than garbage.
    if (data.length < srcV + srcCW * srcCH) return;
    this.scalePlane(
      data,
      words,
      srcU,
      srcCW,
      plan.chromaX,
      plan.chromaY,
      dst.data,
      dstWords,
      dstU + cDst,
      dstCW,
    );
    this.scalePlane(
      data,
      words,
      srcV,
      srcCW,
      plan.chromaX,
      plan.chromaY,
      dst.data,
      dstWords,
      dstV + cDst,
      dstCW,
    );
  }

  private bytesOf(data: Uint8Array | Uint8ClampedArray): Uint8Array {
    if (data instanceof Uint8Array) return data;
    // One view per source buffer, made once: the pixel loops stay monomorphic on Uint8Array.
    let view = this.byteViews.get(data);
    if (view === undefined) {
      view = new Uint8Array(data.buffer, data.byteOffset, data.length);
      this.byteViews.set(data, view);
    }
    return view;
  }

  private clipRect(rect: Rect, dst: I420Frame): Rect {
    const s = this.safeRect;
    const x0 = Math.max(0, Math.floor(rect.x));
    const y0 = Math.max(0, Math.floor(rect.y));
    s.x = x0;
    s.y = y0;
    s.w = Math.min(dst.width, Math.floor(rect.x + rect.w)) - x0;
    s.h = Math.min(dst.height, Math.floor(rect.y + rect.h)) - y0;
    return s;
  }

  private planFor(srcW: number, srcH: number, r: Rect, fit: Fit, placement: number): ScalePlan {
    const code = fitCode(fit);
    const stamp = ++this.useCounter;
    let oldest = 0;
    // A linear scan beats a string-keyed Map here: no key allocation, and a room uses few geometries.
    for (let i = 0; i < this.plans.length; i++) {
      const p = this.plans[i];
      if (p.matches(srcW, srcH, r.w, r.h, code, placement)) {
        p.lastUsed = stamp;
        return p;
      }
      if (p.lastUsed < this.plans[oldest].lastUsed) oldest = i;
    }
    const plan = new ScalePlan(srcW, srcH, r.w, r.h, code, placement);
    plan.lastUsed = stamp;
    if (this.plans.length < MAX_PLANS) this.plans.push(plan);
    else this.plans[oldest] = plan;
    return plan;
  }

  private fillBars(dst: I420Frame, r: Rect, plan: ScalePlan): void {
    if (plan.pictureW === r.w && plan.pictureH === r.h) return;
    const px = r.x + plan.offsetX;
    const py = r.y + plan.offsetY;
    fillRect(dst, r.x, r.y, r.w, plan.offsetY, BLACK);
    fillRect(dst, r.x, py + plan.pictureH, r.w, r.y + r.h - (py + plan.pictureH), BLACK);
    fillRect(dst, r.x, py, plan.offsetX, plan.pictureH, BLACK);
    fillRect(dst, px + plan.pictureW, py, r.x + r.w - (px + plan.pictureW), plan.pictureH, BLACK);
  }

  private ensureRow(bytes: number): void {
    if (this.row.length >= bytes) return;
    const size = (bytes + 3) & ~3;
    this.row = new Uint8Array(size);
    this.row32 = new Uint32Array(this.row.buffer);
  }

  private wordViewOf(data: Uint8Array): Uint32Array | null {
    // Word access needs 4-byte aligned rows; odd-sized or oddly placed frames use the byte path.
    if ((data.byteOffset & 3) !== 0) return null;
    let view = this.wordViews.get(data.buffer);
    if (view === undefined) {
      view = new Uint32Array(data.buffer, 0, data.buffer.byteLength >> 2);
      this.wordViews.set(data.buffer, view);
    }
    return view;
  }

  private scalePlane(
    src: Uint8Array,
    words: Uint32Array | null,
    srcOff: number,
    srcStride: number,
    xt: AxisTable,
    yt: AxisTable,
    dst: Uint8Array,
    dstWords: Uint32Array | null,
    dstOff: number,
    dstStride: number,
  ): void {
    const row = this.row;
    const direct = xt.srcLength >= 2;
    const wordRows = words !== null && ((src.byteOffset + srcOff) & 3) === 0 && (srcStride & 3) === 0;
    // The row buffer holds source columns colStart.. at index 0.., hence base = -colStart.
    const colStart = xt.first & ~3;
    const colCount = xt.last + 1 - colStart;
    const lastRow = yt.srcLength - 1;
    const n = xt.length;
    const pad = xt.pad;
    const wordCount = xt.packedWords.length >> 2;
    const lastOut = dst.byteOffset + dstOff + (yt.length - 1) * dstStride;
    const wordStores =
      dstWords !== null &&
      (dstStride & 3) === 0 &&
      ((dst.byteOffset + dstOff) & 3) === pad &&
      lastOut - pad + 4 * wordCount <= dstWords.length * 4;
    const tailCount = 4 * wordCount - pad - n;
    const edge = this.edge;
    let prevY0 = -1;
    let prevFy = -1;
    for (let j = 0; j < yt.length; j++) {
      const y0 = yt.idx[j];
      const fy = yt.frac[j];
      let line: Uint8Array = row;
      let base = -colStart;
      if (direct && fy === 0) {
        // The destination row sits exactly on a source row: no vertical blend needed.
        line = src;
        base = srcOff + y0 * srcStride;
      } else if (direct && fy === WEIGHT_ONE) {
        line = src;
        base = srcOff + (y0 + 1) * srcStride;
      } else if (y0 !== prevY0 || fy !== prevFy) {
        // Upscaling can map consecutive destination rows to the same blend: reuse the row.
        const a = srcOff + y0 * srcStride + colStart;
        const b = srcOff + Math.min(y0 + 1, lastRow) * srcStride + colStart;
        if (wordRows && words !== null) {
          const wa = (src.byteOffset + a) >> 2;
          verticalPassWords(words, wa, (src.byteOffset + b) >> 2, fy, this.row32, (colCount + 3) >> 2);
        } else {
          verticalPassBytes(src, a, b, fy, row, colCount);
        }
        prevY0 = y0;
        prevFy = fy;
      }
      const out = dstOff + j * dstStride;
      if (wordStores && dstWords !== null) {
        // Whole words cover up to 3 bytes on each side of the picture: keep and restore them.
        const before = out - pad;
        const after = out + n;
        for (let k = 0; k < pad; k++) edge[k] = dst[before + k];
        for (let k = 0; k < tailCount; k++) edge[4 + k] = dst[after + k];
        horizontalPassWords(line, base, xt.packedWords, wordCount, dstWords, (dst.byteOffset + before) >> 2);
        for (let k = 0; k < pad; k++) dst[before + k] = edge[k];
        for (let k = 0; k < tailCount; k++) dst[after + k] = edge[4 + k];
      } else {
        horizontalPassBytes(line, base, xt.packed, n, dst, out);
      }
    }
  }
}

/*
 * The pixel loops below are written for V8's optimiser, which measurably rewards:
 * loops that start at 0 (a loop starting at a variable ran ~1.5x slower), literal
 * constants (an imported constant is re-read from the module object every iteration),
 * no helper calls (the inlining budget runs out and a call per pixel costs more than the
 * pixel). 9 and 511 below are FRAC_BITS and FRAC_MASK.
 */

/** dst[out + i] = lerp(line[base + idx[i]], line[base + idx[i] + 1], frac[i]), one byte at a time. */
function horizontalPassBytes(
  line: Uint8Array,
  base: number,
  packed: Int32Array,
  n: number,
  dst: Uint8Array,
  out: number,
): void {
  for (let i = 0; i < n; i++) {
    const t = packed[i];
    const s = base + (t >> 9);
    const a = line[s];
    dst[out + i] = a + (((line[s + 1] - a) * (t & 511) + 128) >> 8);
  }
}

/** The same, four pixels assembled into one word store (measured ~35% faster than byte stores). */
function horizontalPassWords(
  line: Uint8Array,
  base: number,
  packed: Int32Array,
  wordCount: number,
  dstWords: Uint32Array,
  wordIndex: number,
): void {
  for (let w = 0; w < wordCount; w++) {
    const i = w << 2;
    let t = packed[i];
    let s = base + (t >> 9);
    let a = line[s];
    const p0 = a + (((line[s + 1] - a) * (t & 511) + 128) >> 8);
    t = packed[i + 1];
    s = base + (t >> 9);
    a = line[s];
    const p1 = a + (((line[s + 1] - a) * (t & 511) + 128) >> 8);
    t = packed[i + 2];
    s = base + (t >> 9);
    a = line[s];
    const p2 = a + (((line[s + 1] - a) * (t & 511) + 128) >> 8);
    t = packed[i + 3];
    s = base + (t >> 9);
    a = line[s];
    const p3 = a + (((line[s + 1] - a) * (t & 511) + 128) >> 8);
    dstWords[wordIndex + w] = p0 | (p1 << 8) | (p2 << 16) | (p3 << 24);
  }
}

/** Blends two source rows (byte offsets a, b) into row[0..count), for sources not word-aligned. */
function verticalPassBytes(
  src: Uint8Array,
  a: number,
  b: number,
  fy: number,
  row: Uint8Array,
  count: number,
): void {
  for (let c = 0; c < count; c++) {
    const p = src[a + c];
    row[c] = p + (((src[b + c] - p) * fy + 128) >> 8);
  }
  // The horizontal pass may read one sample past the last column, with weight 0.
  row[count] = row[count - 1];
}

/**
 * The same blend four bytes per step: even and odd bytes are split into two 16-bit lanes
 * each, weighted (255 * 256 + 128 still fits a lane) and recombined. Endianness does not
 * matter because bytes go back to the lanes they came from. 256 is WEIGHT_ONE.
 */
function verticalPassWords(
  words: Uint32Array,
  wa: number,
  wb: number,
  fy: number,
  row32: Uint32Array,
  count: number,
): void {
  const w0 = 256 - fy;
  for (let k = 0; k < count; k++) {
    const p = words[wa + k];
    const q = words[wb + k];
    const even = (Math.imul(p & 0x00ff00ff, w0) + Math.imul(q & 0x00ff00ff, fy) + 0x00800080) | 0;
    const odd =
      (Math.imul((p >>> 8) & 0x00ff00ff, w0) + Math.imul((q >>> 8) & 0x00ff00ff, fy) + 0x00800080) | 0;
    row32[k] = ((even >>> 8) & 0x00ff00ff) | (odd & 0xff00ff00);
  }
}
