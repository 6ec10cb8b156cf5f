import { Compositor, TileSource } from '../../../workers/media/engine/video/compositor';
import {
  I420Frame,
  Yuv,
  createI420,
  fillI420,
  meanYuvInRect,
  rgbToYuv,
} from '../../../workers/media/engine/video/i420';
import { planLayout } from '../../../workers/media/engine/video/layout';

function flat(width: number, height: number, c: Yuv): I420Frame {
  const f = createI420(width, height);
  fillI420(f, c);
  return f;
}

describe('Compositor', () => {
  const colours: Record<string, Yuv> = {
    red: rgbToYuv({ r: 220, g: 30, b: 30 }),
    green: rgbToYuv({ r: 30, g: 200, b: 60 }),
    blue: rgbToYuv({ r: 40, g: 60, b: 220 }),
    yellow: rgbToYuv({ r: 230, g: 220, b: 40 }),
  };

  it('puts each participant colour in its own grid tile', () => {
    const ids = Object.keys(colours);
    const sources = new Map<string, TileSource>(
      ids.map((id, i) => [id, { frame: flat(320 + i * 17, 240 + i * 5, colours[id]), displayName: id }]),
    );
    const compositor = new Compositor(640, 360);
    const tiles = planLayout('grid', ids, { width: 640, height: 360 });
    for (const fit of ['crop', 'letterbox'] as const) {
      const canvas = compositor.compose(tiles, (id) => sources.get(id) as TileSource, fit);
      expect(canvas).toBe(compositor.canvas);
      for (const tile of tiles) {
        const mean = meanYuvInRect(canvas, tile.x + tile.w / 2 - 8, tile.y + tile.h / 2 - 8, 16, 16);
        const want = colours[tile.participantId];
        expect(mean).toEqual({ y: want.y, u: want.u, v: want.v });
      }
    }
  });

  it('draws a placeholder for a participant without video and repaints the background on re-plan', () => {
    const compositor = new Compositor(640, 360);
    const red = { frame: flat(64, 48, colours.red), displayName: 'Red' };
    const none = { frame: null, displayName: 'zoe' };
    const sourceOf = (id: string): TileSource => (id === 'r' ? red : none);
    compositor.compose(planLayout('grid', ['r', 'z'], { width: 640, height: 360 }), sourceOf, 'crop');
    const placeholder = meanYuvInRect(compositor.canvas, 330, 10, 20, 20);
    expect(placeholder.y).not.toBe(16);
    // One participant left: the old second tile must not linger.
    compositor.compose(planLayout('speaker', ['r'], { width: 640, height: 360 }), sourceOf, 'crop');
    expect(meanYuvInRect(compositor.canvas, 330, 10, 20, 20).y).toBe(colours.red.y);
    const canvas = compositor.compose(
      planLayout('grid', ['r'], { width: 320, height: 180 }),
      sourceOf,
      'crop',
    );
    expect(meanYuvInRect(canvas, 400, 250, 20, 20).y).toBeLessThan(60);
  });

  it('rounds an odd canvas size up to even', () => {
    const c = new Compositor(641, 359);
    expect([c.canvas.width, c.canvas.height]).toEqual([642, 360]);
  });
});
