/**
 * I420 (YUV 4:2:0 planar) frames as libwebrtc hands them to RTCVideoSink: a Y plane of
 * width*height bytes, then U and V planes of ceil(w/2)*ceil(h/2) bytes each, no padding.
 * Decoded inputs can have odd sizes, so chroma sizes are always rounded up.
 */
export interface I420Frame {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

export interface Yuv {
  y: number;
  u: number;
  v: number;
}

export function chromaWidth(width: number): number {
  return (width + 1) >> 1;
}

export function chromaHeight(height: number): number {
  return (height + 1) >> 1;
}

export function i420Size(width: number, height: number): number {
  return width * height + 2 * chromaWidth(width) * chromaHeight(height);
}

/** Allocates; call on setup or re-plan, never per frame. */
export function createI420(width: number, height: number): I420Frame {
  return { width, height, data: new Uint8Array(i420Size(width, height)) };
}

/** Byte offset of the U plane. */
export function uOffset(frame: I420Frame): number {
  return frame.width * frame.height;
}

/** Byte offset of the V plane. */
export function vOffset(frame: I420Frame): number {
  return frame.width * frame.height + chromaWidth(frame.width) * chromaHeight(frame.height);
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * BT.601 limited ("studio") range, the matrix libwebrtc/libyuv use for I420<->RGB, so a
 * colour we draw looks the same as one a browser would encode.
 */
export function rgbToYuv(c: Rgb): Yuv {
  const y = ((66 * c.r + 129 * c.g + 25 * c.b + 128) >> 8) + 16;
  const u = ((-38 * c.r - 74 * c.g + 112 * c.b + 128) >> 8) + 128;
  const v = ((112 * c.r - 94 * c.g - 18 * c.b + 128) >> 8) + 128;
  return { y: clampByte(y), u: clampByte(u), v: clampByte(v) };
}

export const BLACK: Readonly<Yuv> = { y: 16, u: 128, v: 128 };

export function fillI420(frame: I420Frame, c: Yuv): void {
  const ySize = frame.width * frame.height;
  const cSize = chromaWidth(frame.width) * chromaHeight(frame.height);
  frame.data.fill(c.y, 0, ySize);
  frame.data.fill(c.u, ySize, ySize + cSize);
  frame.data.fill(c.v, ySize + cSize, ySize + 2 * cSize);
}

/**
 * Fills a luma rectangle (clipped to the frame). Chroma covers every chroma sample that the
 * rectangle touches, so an odd-aligned rectangle tints one extra half-pixel rather than
 * leaving a seam of the old colour.
 */
export function fillRect(frame: I420Frame, x: number, y: number, w: number, h: number, c: Yuv): void {
  const x0 = Math.max(0, Math.floor(x));
  const y0 = Math.max(0, Math.floor(y));
  const x1 = Math.min(frame.width, Math.floor(x + w));
  const y1 = Math.min(frame.height, Math.floor(y + h));
  if (x1 <= x0 || y1 <= y0) return;
  const data = frame.data;
  const stride = frame.width;
  for (let row = y0; row < y1; row++) {
    const o = row * stride;
    data.fill(c.y, o + x0, o + x1);
  }
  const cStride = chromaWidth(frame.width);
  const cx0 = x0 >> 1;
  const cx1 = (x1 + 1) >> 1;
  const cy1 = (y1 + 1) >> 1;
  const uo = uOffset(frame);
  const vo = vOffset(frame);
  for (let row = y0 >> 1; row < cy1; row++) {
    const o = row * cStride;
    data.fill(c.u, uo + o + cx0, uo + o + cx1);
    data.fill(c.v, vo + o + cx0, vo + o + cx1);
  }
}

function planeMean(
  data: Uint8Array,
  offset: number,
  stride: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
): number {
  let sum = 0;
  for (let row = y0; row < y1; row++) {
    const o = offset + row * stride;
    for (let col = x0; col < x1; col++) sum += data[o + col];
  }
  const n = (x1 - x0) * (y1 - y0);
  return n > 0 ? sum / n : 0;
}

/** Mean Y, U, V over a luma rectangle (clipped); used by tests and the benchmark to read colours back. */
export function meanYuvInRect(frame: I420Frame, x: number, y: number, w: number, h: number): Yuv {
  const x0 = Math.max(0, Math.floor(x));
  const y0 = Math.max(0, Math.floor(y));
  const x1 = Math.min(frame.width, Math.floor(x + w));
  const y1 = Math.min(frame.height, Math.floor(y + h));
  if (x1 <= x0 || y1 <= y0) return { y: 0, u: 0, v: 0 };
  const cStride = chromaWidth(frame.width);
  const cx1 = Math.max((x0 >> 1) + 1, x1 >> 1);
  const cy1 = Math.max((y0 >> 1) + 1, y1 >> 1);
  return {
    y: planeMean(frame.data, 0, frame.width, x0, y0, x1, y1),
    u: planeMean(frame.data, uOffset(frame), cStride, x0 >> 1, y0 >> 1, cx1, cy1),
    v: planeMean(frame.data, vOffset(frame), cStride, x0 >> 1, y0 >> 1, cx1, cy1),
  };
}
