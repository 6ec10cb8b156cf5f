import { I420Frame, chromaHeight, chromaWidth } from '../../workers/media/engine/video/i420';
import type { Rect } from '../../workers/media/engine/video/scale-plan';

/**
 * The untuned baseline the engine scaler is measured against: textbook bilinear (crop fit)
 * with floating-point coordinates and four taps computed per destination pixel. Kept only
 * so the "before" column in docs/engine-kernels.md can be reproduced.
 */
export function naiveScaleCrop(src: I420Frame, dst: I420Frame, rect: Rect): void {
  const scale = Math.max(rect.w / src.width, rect.h / src.height);
  const spanX = rect.w / scale;
  const spanY = rect.h / scale;
  const sx = (src.width - spanX) / 2;
  const sy = (src.height - spanY) / 2;
  naivePlane(
    src.data,
    0,
    src.width,
    src.height,
    sx,
    sy,
    spanX,
    spanY,
    dst.data,
    rect.y * dst.width + rect.x,
    dst.width,
    rect.w,
    rect.h,
  );
  const scw = chromaWidth(src.width);
  const sch = chromaHeight(src.height);
  const dcw = chromaWidth(dst.width);
  const su = src.width * src.height;
  const du = dst.width * dst.height;
  const dOff = (rect.y >> 1) * dcw + (rect.x >> 1);
  for (const [so, d] of [
    [su, du],
    [su + scw * sch, du + dcw * chromaHeight(dst.height)],
  ]) {
    naivePlane(
      src.data,
      so,
      scw,
      sch,
      sx / 2,
      sy / 2,
      spanX / 2,
      spanY / 2,
      dst.data,
      d + dOff,
      dcw,
      rect.w >> 1,
      rect.h >> 1,
    );
  }
}

function naivePlane(
  src: Uint8Array,
  srcOff: number,
  sw: number,
  sh: number,
  sx: number,
  sy: number,
  spanX: number,
  spanY: number,
  dst: Uint8Array,
  dstOff: number,
  dstStride: number,
  dw: number,
  dh: number,
): void {
  for (let j = 0; j < dh; j++) {
    const fy = Math.min(sh - 1, Math.max(0, sy + ((j + 0.5) * spanY) / dh - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(sh - 1, y0 + 1);
    const wy = fy - y0;
    for (let i = 0; i < dw; i++) {
      const fx = Math.min(sw - 1, Math.max(0, sx + ((i + 0.5) * spanX) / dw - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(sw - 1, x0 + 1);
      const wx = fx - x0;
      const top = src[srcOff + y0 * sw + x0] * (1 - wx) + src[srcOff + y0 * sw + x1] * wx;
      const bottom = src[srcOff + y1 * sw + x0] * (1 - wx) + src[srcOff + y1 * sw + x1] * wx;
      dst[dstOff + j * dstStride + i] = Math.round(top * (1 - wy) + bottom * wy);
    }
  }
}
