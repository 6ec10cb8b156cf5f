/**
 * Geometry for one (source size, destination rectangle size, fit) combination, computed once
 * and cached by I420Scaler: where the picture goes inside the rectangle, and for every
 * destination column/row which two source samples it blends and with what 8-bit weight.
 * Building tables costs allocations and divisions; a room re-uses a handful of geometries
 * for thousands of frames, so the per-frame scaler only does table look-ups.
 */
import type { Fit } from '../../../protocol/media';

export type { Fit };

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Weights are 8-bit fixed point: 256 means "all of the second sample". */
export const WEIGHT_ONE = 256;

/** Bits below the source index in `packed`; weights need 9 bits (0..256). */
export const FRAC_BITS = 9;
export const FRAC_MASK = (1 << FRAC_BITS) - 1;

/** One axis: destination index i reads source samples idx[i] and idx[i]+1 with weight frac[i] on the second. */
export class AxisTable {
  readonly idx: Int32Array;
  readonly frac: Int32Array;
  /** idx << FRAC_BITS | frac: one table load per pixel in the horizontal pass instead of two. */
  readonly packed: Int32Array;
  /**
   * `packed` with `pad` copies of the first entry in front and copies of the last entry
   * behind, to a multiple of 4: the word-store pass then starts on a word boundary of the
   * destination and its loop runs from 0 in whole words (see scaler.ts for why).
   */
  readonly packedWords: Int32Array;
  /** First and last source sample read (inclusive), so passes can skip the unused part of a crop. */
  readonly first: number;
  readonly last: number;

  constructor(
    readonly srcLength: number,
    srcStart: number,
    srcSpan: number,
    readonly length: number,
    /** Bytes between the destination word boundary and the first pixel (0..3). */
    readonly pad = 0,
  ) {
    this.idx = new Int32Array(length);
    this.frac = new Int32Array(length);
    this.packed = new Int32Array(length);
    const step = srcSpan / length;
    for (let i = 0; i < length; i++) {
      // Pixel centres map to pixel centres, the convention libyuv and ffmpeg use, so the
      // picture is not shifted by half a pixel when scaled.
      let s = srcStart + (i + 0.5) * step - 0.5;
      if (s < 0) s = 0;
      if (s > srcLength - 1) s = srcLength - 1;
      let i0 = Math.floor(s);
      let f = Math.round((s - i0) * WEIGHT_ONE);
      if (f === WEIGHT_ONE) {
        i0++;
        f = 0;
      }
      // Keep i0+1 inside the source so the inner loops need no bounds checks; a 1-sample
      // source reads a padding sample with weight 0.
      if (i0 > srcLength - 2) {
        if (srcLength >= 2) {
          i0 = srcLength - 2;
          f = WEIGHT_ONE;
        } else {
          i0 = 0;
          f = 0;
        }
      }
      this.idx[i] = i0;
      this.frac[i] = f;
      this.packed[i] = (i0 << FRAC_BITS) | f;
    }
    this.packedWords = new Int32Array((pad + length + 3) & ~3);
    for (let i = 0; i < this.packedWords.length; i++) {
      this.packedWords[i] = length > 0 ? this.packed[Math.min(length - 1, Math.max(0, i - pad))] : 0;
    }
    this.first = length > 0 ? this.idx[0] : 0;
    this.last = length > 0 ? Math.min(srcLength - 1, this.idx[length - 1] + 1) : 0;
  }
}

const FIT_CODE: Record<Fit, number> = { letterbox: 0, crop: 1 };

export function fitCode(fit: Fit): number {
  return FIT_CODE[fit] ?? 0;
}

/**
 * The whole-sample part of a source span, for kernels that crop by pointer offsets (libyuv):
 * writes [start, length] into out at index o. Rounding each end to the nearest sample keeps
 * the crop centred to within half a sample of the fractional span the tables use.
 */
function integerSpan(start: number, span: number, length: number, out: Int32Array, o: number): void {
  const first = Math.min(length - 1, Math.max(0, Math.round(start)));
  const end = Math.min(length, Math.max(first + 1, Math.round(start + span)));
  out[o] = first;
  out[o + 1] = end - first;
}

/** Rounds a picture size to even (chroma-friendly) when the room allows, never to 0 nor past max. */
function evenSize(size: number, max: number): number {
  if (max <= 1) return max;
  const even = 2 * Math.round(size / 2);
  return Math.min(max, Math.max(2, even));
}

export class ScalePlan {
  lastUsed = 0;
  /** Picture placement inside the rectangle, luma pixels. The rest of the rectangle is bars. */
  readonly offsetX: number;
  readonly offsetY: number;
  readonly pictureW: number;
  readonly pictureH: number;
  /** Chroma placement relative to (rect.x >> 1, rect.y >> 1). */
  readonly chromaOffsetX: number;
  readonly chromaOffsetY: number;
  readonly lumaX: AxisTable;
  readonly lumaY: AxisTable;
  readonly chromaX: AxisTable;
  readonly chromaY: AxisTable;
  /**
   * Source sub-rectangles [x, w, y, h] in whole samples, luma and chroma: what a kernel that
   * crops by offsetting into the source planes reads (letterbox: the whole plane).
   */
  readonly lumaCrop = new Int32Array(4);
  readonly chromaCrop = new Int32Array(4);

  constructor(
    readonly srcW: number,
    readonly srcH: number,
    readonly rectW: number,
    readonly rectH: number,
    readonly fit: number,
    /**
     * bit 0: rect.x is odd, bit 1: rect.y is odd (changes which chroma samples the picture
     * covers); bits 2-3 and 4-5: byte offset of the rectangle's first luma and chroma
     * sample within a destination word (selects the table padding for word stores).
     */
    readonly placement: number,
  ) {
    let srcX = 0;
    let srcY = 0;
    let spanX = srcW;
    let spanY = srcH;
    if (fit === FIT_CODE.crop) {
      // Cover the rectangle and cut the overflow equally on both sides.
      const scale = Math.max(rectW / srcW, rectH / srcH);
      spanX = Math.min(srcW, rectW / scale);
      spanY = Math.min(srcH, rectH / scale);
      srcX = (srcW - spanX) / 2;
      srcY = (srcH - spanY) / 2;
      this.pictureW = rectW;
      this.pictureH = rectH;
    } else {
      const scale = Math.min(rectW / srcW, rectH / srcH);
      this.pictureW = evenSize(srcW * scale, rectW);
      this.pictureH = evenSize(srcH * scale, rectH);
    }
    // Even offsets keep luma and chroma of the picture aligned to the same 2x2 blocks.
    this.offsetX = ((rectW - this.pictureW) >> 2) << 1;
    this.offsetY = ((rectH - this.pictureH) >> 2) << 1;

    const px = placement & 1;
    const py = (placement >> 1) & 1;
    const lumaAlign = (placement >> 2) & 3;
    const chromaAlign = (placement >> 4) & 3;
    this.chromaOffsetX = (px + this.offsetX) >> 1;
    this.chromaOffsetY = (py + this.offsetY) >> 1;
    const chromaW = ((px + this.offsetX + this.pictureW + 1) >> 1) - this.chromaOffsetX;
    const chromaH = ((py + this.offsetY + this.pictureH + 1) >> 1) - this.chromaOffsetY;

    this.lumaX = new AxisTable(srcW, srcX, spanX, this.pictureW, (lumaAlign + this.offsetX) & 3);
    this.lumaY = new AxisTable(srcH, srcY, spanY, this.pictureH);
    this.chromaX = new AxisTable(
      (srcW + 1) >> 1,
      srcX / 2,
      spanX / 2,
      chromaW,
      (chromaAlign + this.chromaOffsetX) & 3,
    );
    this.chromaY = new AxisTable((srcH + 1) >> 1, srcY / 2, spanY / 2, chromaH);
    integerSpan(srcX, spanX, srcW, this.lumaCrop, 0);
    integerSpan(srcY, spanY, srcH, this.lumaCrop, 2);
    integerSpan(srcX / 2, spanX / 2, (srcW + 1) >> 1, this.chromaCrop, 0);
    integerSpan(srcY / 2, spanY / 2, (srcH + 1) >> 1, this.chromaCrop, 2);
  }

  matches(srcW: number, srcH: number, rectW: number, rectH: number, fit: number, placement: number): boolean {
    return (
      this.srcW === srcW &&
      this.srcH === srcH &&
      this.rectW === rectW &&
      this.rectH === rectH &&
      this.fit === fit &&
      this.placement === placement
    );
  }
}
