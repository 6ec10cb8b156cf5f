import {
  I420Frame,
  createI420,
  fillI420,
  fillRect,
  meanYuvInRect,
  rgbToYuv,
} from '../../../workers/media/engine/video/i420';
import { I420Scaler } from '../../../workers/media/engine/video/scaler';

/** These specs pin the TypeScript kernel; native-scaler.spec.ts compares the libyuv one against it. */
const TS_KERNEL = { native: false };
const RED = rgbToYuv({ r: 200, g: 40, b: 40 });
const GREY = rgbToYuv({ r: 90, g: 90, b: 90 });

function flatFrame(width: number, height: number, colour = RED): I420Frame {
  const frame = createI420(width, height);
  fillI420(frame, colour);
  return frame;
}

/** Every byte of the frame that lies in the rectangle's luma and chroma footprint. */
function planeValues(
  frame: I420Frame,
  x: number,
  y: number,
  w: number,
  h: number,
): { y: Set<number>; u: Set<number> } {
  const ys = new Set<number>();
  const us = new Set<number>();
  for (let r = y; r < y + h; r++) for (let c = x; c < x + w; c++) ys.add(frame.data[r * frame.width + c]);
  const cw = (frame.width + 1) >> 1;
  const uOff = frame.width * frame.height;
  for (let r = y >> 1; r < (y + h) >> 1; r++)
    for (let c = x >> 1; c < (x + w) >> 1; c++) us.add(frame.data[uOff + r * cw + c]);
  return { y: ys, u: us };
}

describe('I420Scaler (TypeScript kernel)', () => {
  it('runs the TypeScript kernel when native is switched off', () => {
    expect(new I420Scaler(TS_KERNEL).kernel).toBe('ts');
  });

  it('keeps a flat colour exactly flat when scaling down, up and to odd sizes', () => {
    const scaler = new I420Scaler(TS_KERNEL);
    const cases: [number, number, number, number][] = [
      [640, 480, 212, 120],
      [640, 480, 426, 240],
      [3, 5, 200, 100],
      [1, 1, 64, 36],
      [1921, 1081, 40, 22],
      [321, 241, 640, 360],
    ];
    for (const [sw, sh, dw, dh] of cases) {
      for (const fit of ['crop', 'letterbox'] as const) {
        const dst = flatFrame(640, 360, GREY);
        scaler.scaleInto(flatFrame(sw, sh), dst, { x: 0, y: 0, w: dw, h: dh }, fit);
        const centre = meanYuvInRect(dst, dw / 2 - 1, dh / 2 - 1, 2, 2);
        expect(centre).toEqual({ y: RED.y, u: RED.u, v: RED.v });
        if (fit === 'crop') {
          const values = planeValues(dst, 0, 0, dw, dh);
          expect([...values.y]).toEqual([RED.y]);
          expect([...values.u]).toEqual([RED.u]);
        }
      }
    }
  });

  it('letterboxes a 4:3 source into a wide tile with black bars left and right', () => {
    const dst = flatFrame(640, 360, GREY);
    new I420Scaler(TS_KERNEL).scaleInto(
      flatFrame(640, 480),
      dst,
      { x: 0, y: 0, w: 640, h: 360 },
      'letterbox',
    );
    // 480x360 picture centred: bars of 80 px on each side.
    expect(meanYuvInRect(dst, 0, 0, 80, 360)).toEqual({ y: 16, u: 128, v: 128 });
    expect(meanYuvInRect(dst, 560, 0, 80, 360)).toEqual({ y: 16, u: 128, v: 128 });
    expect(meanYuvInRect(dst, 80, 0, 480, 360)).toEqual({ y: RED.y, u: RED.u, v: RED.v });
  });

  it('letterboxes a wide source into a tall tile with bars top and bottom', () => {
    const dst = flatFrame(640, 360, GREY);
    new I420Scaler(TS_KERNEL).scaleInto(
      flatFrame(1280, 720),
      dst,
      { x: 100, y: 0, w: 200, h: 360 },
      'letterbox',
    );
    // 200x112 picture centred vertically: (360 - 112) / 2 = 124 rows of bars above and below.
    expect(meanYuvInRect(dst, 100, 0, 200, 124).y).toBe(16);
    expect(meanYuvInRect(dst, 100, 236, 200, 124).y).toBe(16);
    expect(meanYuvInRect(dst, 100, 124, 200, 112).y).toBe(RED.y);
    expect(meanYuvInRect(dst, 0, 0, 100, 360).y).toBe(GREY.y);
  });

  it('crop fills the whole rectangle and centres the source', () => {
    // Source: left third blue, middle third red, right third blue; cropping 4:3 into a tall
    // rectangle keeps only the middle.
    const src = flatFrame(600, 480, rgbToYuv({ r: 0, g: 0, b: 255 }));
    fillRect(src, 200, 0, 200, 480, RED);
    const dst = flatFrame(640, 360, GREY);
    new I420Scaler(TS_KERNEL).scaleInto(src, dst, { x: 20, y: 10, w: 100, h: 240 }, 'crop');
    expect(meanYuvInRect(dst, 30, 20, 80, 220)).toEqual({ y: RED.y, u: RED.u, v: RED.v });
    const values = planeValues(dst, 20, 10, 100, 240);
    expect(values.y.has(16)).toBe(false);
  });

  it('keeps a horizontal and a vertical gradient monotonic', () => {
    const src = createI420(256, 256);
    for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) src.data[y * 256 + x] = x;
    const dst = createI420(640, 360);
    new I420Scaler(TS_KERNEL).scaleInto(src, dst, { x: 0, y: 0, w: 602, h: 90 }, 'crop');
    for (let x = 1; x < 602; x++)
      expect(dst.data[45 * 640 + x]).toBeGreaterThanOrEqual(dst.data[45 * 640 + x - 1]);
    for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) src.data[y * 256 + x] = y;
    new I420Scaler(TS_KERNEL).scaleInto(src, dst, { x: 0, y: 0, w: 100, h: 360 }, 'crop');
    for (let y = 1; y < 360; y++)
      expect(dst.data[y * 640 + 50]).toBeGreaterThanOrEqual(dst.data[(y - 1) * 640 + 50]);
  });

  it('never writes outside the destination rectangle', () => {
    const scaler = new I420Scaler(TS_KERNEL);
    for (const rect of [
      { x: 2, y: 2, w: 98, h: 50 },
      { x: 6, y: 4, w: 106, h: 60 },
      { x: 3, y: 1, w: 77, h: 33 },
    ]) {
      const dst = flatFrame(160, 90, GREY);
      scaler.scaleInto(flatFrame(641, 479), dst, rect, 'crop');
      for (let y = 0; y < 90; y++) {
        for (let x = 0; x < 160; x++) {
          const inside = x >= rect.x && x < rect.x + rect.w && y >= rect.y && y < rect.y + rect.h;
          expect(dst.data[y * 160 + x]).toBe(inside ? RED.y : GREY.y);
        }
      }
      // Chroma: samples wholly outside the rectangle keep the background.
      const cw = 80;
      const uOff = 160 * 90;
      for (let y = 0; y < 45; y++) {
        for (let x = 0; x < cw; x++) {
          const touches =
            2 * x + 1 >= rect.x && 2 * x < rect.x + rect.w && 2 * y + 1 >= rect.y && 2 * y < rect.y + rect.h;
          if (!touches) expect(dst.data[uOff + y * cw + x]).toBe(GREY.u);
        }
      }
    }
  });

  it('gives the same picture whether or not the destination buffer is word-aligned', () => {
    const src = createI420(333, 187);
    for (let i = 0; i < src.data.length; i++) src.data[i] = (i * 31 + (i >> 7)) & 255;
    const aligned = createI420(320, 180);
    const backing = new Uint8Array(aligned.data.length + 1);
    const unaligned: I420Frame = { width: 320, height: 180, data: backing.subarray(1) };
    const scaler = new I420Scaler(TS_KERNEL);
    for (const rect of [
      { x: 0, y: 0, w: 320, h: 180 },
      { x: 106, y: 60, w: 106, h: 60 },
    ]) {
      scaler.scaleInto(src, aligned, rect, 'crop');
      scaler.scaleInto(src, unaligned, rect, 'crop');
      expect(Buffer.compare(aligned.data, unaligned.data)).toBe(0);
    }
  });

  it('does not throw on tiny, huge, odd or changing source sizes', () => {
    const scaler = new I420Scaler(TS_KERNEL);
    const dst = createI420(1280, 720);
    const sizes: [number, number][] = [
      [1, 1],
      [3, 5],
      [2, 1],
      [1, 2],
      [1920, 1080],
      [7, 3],
      [640, 480],
      [641, 481],
    ];
    for (const [w, h] of sizes) {
      for (const rect of [
        { x: 0, y: 0, w: 1280, h: 720 },
        { x: 1278, y: 718, w: 2, h: 2 },
        { x: 5, y: 7, w: 1, h: 1 },
        { x: 1200, y: 700, w: 200, h: 200 },
      ]) {
        for (const fit of ['crop', 'letterbox'] as const) {
          expect(() => scaler.scaleInto(flatFrame(w, h), dst, rect, fit)).not.toThrow();
        }
      }
    }
  });

  it('fills a truncated source with black instead of reading past its end', () => {
    const dst = flatFrame(64, 36, GREY);
    const broken: I420Frame = { width: 640, height: 480, data: new Uint8Array(100) };
    expect(() =>
      new I420Scaler(TS_KERNEL).scaleInto(broken, dst, { x: 0, y: 0, w: 64, h: 36 }, 'crop'),
    ).not.toThrow();
    expect(meanYuvInRect(dst, 0, 0, 64, 36).y).toBe(16);
  });
});
