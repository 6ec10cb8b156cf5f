import { createI420, fillI420, meanYuvInRect } from '../../../workers/media/engine/video/i420';
import { drawPlaceholder, placeholderColour } from '../../../workers/media/engine/video/placeholder';

describe('drawPlaceholder', () => {
  it('fills the tile with the participant colour and draws a centred white initial', () => {
    const frame = createI420(640, 360);
    fillI420(frame, { y: 16, u: 128, v: 128 });
    const rect = { x: 320, y: 0, w: 320, h: 180 };
    drawPlaceholder(frame, rect, 'participant-42', 'alice');
    const colour = placeholderColour('participant-42');
    expect(meanYuvInRect(frame, 322, 2, 20, 20)).toEqual({ y: colour.y, u: colour.u, v: colour.v });

    let white = 0;
    let minX = Infinity;
    let maxX = -Infinity;
    let minY = Infinity;
    let maxY = -Infinity;
    for (let y = rect.y; y < rect.y + rect.h; y++) {
      for (let x = rect.x; x < rect.x + rect.w; x++) {
        if (frame.data[y * 640 + x] >= 200) {
          white++;
          minX = Math.min(minX, x);
          maxX = Math.max(maxX, x);
          minY = Math.min(minY, y);
          maxY = Math.max(maxY, y);
        }
      }
    }
    expect(white).toBeGreaterThan(100);
    // Roughly 40% of the tile height, centred.
    expect(maxY - minY + 1).toBeGreaterThan(0.3 * rect.h);
    expect(maxY - minY + 1).toBeLessThan(0.5 * rect.h);
    expect(Math.abs((minX + maxX) / 2 - (rect.x + rect.w / 2))).toBeLessThan(rect.w * 0.05);
    expect(Math.abs((minY + maxY) / 2 - (rect.y + rect.h / 2))).toBeLessThan(rect.h * 0.1);
  });

  it('picks the same non-black colour for the same id every time', () => {
    for (const id of ['a', 'b', 'someone@example.com', '', 'ü-ñ']) {
      const c = placeholderColour(id);
      expect(placeholderColour(id)).toBe(c);
      expect(c.y).toBeGreaterThan(40);
    }
    const distinct = new Set(Array.from({ length: 50 }, (_, i) => placeholderColour(`user-${i}`)));
    expect(distinct.size).toBeGreaterThan(4);
  });

  it('draws a glyph for names that start with a digit, a symbol or nothing at all', () => {
    for (const name of ['7even', '  bob', '', '#hash', 'Émile']) {
      const frame = createI420(160, 90);
      drawPlaceholder(frame, { x: 0, y: 0, w: 160, h: 90 }, 'x', name);
      let white = 0;
      for (let i = 0; i < 160 * 90; i++) if (frame.data[i] >= 200) white++;
      expect(white).toBeGreaterThan(20);
    }
  });

  it('does not throw on tiny tiles', () => {
    const frame = createI420(16, 16);
    expect(() => drawPlaceholder(frame, { x: 0, y: 0, w: 2, h: 2 }, 'x', 'A')).not.toThrow();
    expect(() => drawPlaceholder(frame, { x: 14, y: 14, w: 8, h: 8 }, 'x', 'A')).not.toThrow();
  });
});
