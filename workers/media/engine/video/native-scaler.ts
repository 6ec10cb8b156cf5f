/**
 * Optional native kernel for I420Scaler: Debian's libyuv behind a small N-API addon
 * (native/yuv-scale, built by scripts/setup.js). libyuv's bilinear scaler is SIMD code, ~3x
 * faster than the TypeScript passes on the compositor's 3x3 grids (docs/engine-kernels.md).
 * The addon is optional: when it is not built or libyuv is missing, loadNativeScaler()
 * returns null and the scaler keeps its TypeScript path with the same geometry. One
 * difference: for shrinks beyond 2x the addon averages the area each sample covers, the
 * TypeScript kernel still reads 2x2 (docs/engine-kernels.md, "Area averaging").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Logger } from '../../../kernel/logger';
import type { I420Frame } from './i420';
import type { Rect, ScalePlan } from './scale-plan';

/** What the addon exports (native/yuv-scale/yuv_scale.cc). */
export interface NativeYuvScale {
  /**
   * Scales three planes; per plane 8 ints in `geometry`: source offset, stride, width,
   * height, destination offset, stride, width, height (offsets relative to the views).
   * Returns false, without touching the destination, when any block lies outside its buffer.
   */
  scaleI420(src: Uint8Array | Uint8ClampedArray, dst: Uint8Array, geometry: Int32Array): boolean;
  readonly libyuvVersion: number;
}

const ADDON = path.join('native', 'yuv-scale', 'build', 'Release', 'yuv_scale.node');
/** From workers/media/engine/video (ts-jest) or dist/workers/media/engine/video (compiled). */
const MAX_LEVELS_UP = 6;

const log = new Logger('video-scaler');
let loaded: NativeYuvScale | null | undefined;

function findAddon(): string | null {
  let dir = __dirname;
  for (let i = 0; i <= MAX_LEVELS_UP; i++) {
    const candidate = path.join(dir, ADDON);
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return null;
}

/** The addon, or null when it cannot be used. Loads once per process and says which path is used. */
export function loadNativeScaler(): NativeYuvScale | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const file = findAddon();
  if (file === null) {
    log.info('video scaler: TypeScript kernel (native addon not built)', { addon: ADDON });
    return loaded;
  }
  try {
    const mod = require(file) as Partial<NativeYuvScale>;
    if (typeof mod.scaleI420 !== 'function') throw new Error('addon exports no scaleI420');
    loaded = mod as NativeYuvScale;
    log.info('video scaler: native libyuv kernel', { addon: file, libyuvVersion: mod.libyuvVersion });
  } catch (err) {
    // Typically libyuv.so.0 missing at run time; the TypeScript kernel does the same job.
    log.warn('video scaler: TypeScript kernel (native addon failed to load)', { addon: file, err });
  }
  return loaded;
}

/** Fields per plane in the geometry array, three planes. */
const PLANE_FIELDS = 8;
export const NATIVE_GEOMETRY_LENGTH = 3 * PLANE_FIELDS;

function setPlane(
  g: Int32Array,
  plane: number,
  srcOffset: number,
  srcStride: number,
  crop: Int32Array,
  dstOffset: number,
  dstStride: number,
  dstW: number,
  dstH: number,
): void {
  const o = plane * PLANE_FIELDS;
  g[o] = srcOffset + crop[2] * srcStride + crop[0];
  g[o + 1] = srcStride;
  g[o + 2] = crop[1];
  g[o + 3] = crop[3];
  g[o + 4] = dstOffset;
  g[o + 5] = dstStride;
  g[o + 6] = dstW;
  g[o + 7] = dstH;
}

/**
 * libyuv sends an exact 3/8 downscale to a special filter whose averages use reciprocal
 * multiplies: a flat 92 comes out as 91 (measured), which breaks "flat stays flat". Those
 * planes are left to the TypeScript kernel. The condition mirrors libyuv's ScalePlane dispatch.
 */
function isLibyuvDown38(srcW: number, srcH: number, dstW: number, dstH: number): boolean {
  return 8 * dstW === 3 * srcW && dstH === (srcH * 3 + 7) >> 3 && dstH !== srcH;
}

/** False when libyuv would not keep this plan's semantics exactly (see isLibyuvDown38). */
export function nativeCanScale(plan: ScalePlan): boolean {
  const l = plan.lumaCrop;
  const c = plan.chromaCrop;
  return (
    !isLibyuvDown38(l[1], l[3], plan.pictureW, plan.pictureH) &&
    !isLibyuvDown38(c[1], c[3], plan.chromaX.length, plan.chromaY.length)
  );
}

/**
 * Scales the picture part of `plan` (bars are the caller's) with the addon. The caller has
 * checked that both frames hold a full I420 image and that `r` lies inside the canvas;
 * `geometry` is the caller's scratch array, so nothing is allocated per tile.
 */
export function scaleNative(
  kernel: NativeYuvScale,
  geometry: Int32Array,
  src: { width: number; height: number; data: Uint8Array | Uint8ClampedArray },
  dst: I420Frame,
  r: Rect,
  plan: ScalePlan,
): boolean {
  const srcCW = (src.width + 1) >> 1;
  const srcU = src.width * src.height;
  const srcV = srcU + srcCW * ((src.height + 1) >> 1);
  const dstCW = (dst.width + 1) >> 1;
  const dstU = dst.width * dst.height;
  const dstV = dstU + dstCW * ((dst.height + 1) >> 1);
  const yDst = (r.y + plan.offsetY) * dst.width + r.x + plan.offsetX;
  const cDst = ((r.y >> 1) + plan.chromaOffsetY) * dstCW + (r.x >> 1) + plan.chromaOffsetX;
  const cw = plan.chromaX.length;
  const ch = plan.chromaY.length;
  setPlane(geometry, 0, 0, src.width, plan.lumaCrop, yDst, dst.width, plan.pictureW, plan.pictureH);
  setPlane(geometry, 1, srcU, srcCW, plan.chromaCrop, dstU + cDst, dstCW, cw, ch);
  setPlane(geometry, 2, srcV, srcCW, plan.chromaCrop, dstV + cDst, dstCW, cw, ch);
  return kernel.scaleI420(src.data, dst.data, geometry);
}
