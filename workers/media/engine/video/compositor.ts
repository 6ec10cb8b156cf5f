import { I420Frame, Yuv, createI420, fillI420, rgbToYuv } from './i420';
import type { Tile } from './layout';
import { drawPlaceholder } from './placeholder';
import { Fit, I420Scaler } from './scaler';

export interface TileSource {
  /** The participant's latest decoded frame, or null to draw its placeholder. */
  frame: I420Frame | null;
  displayName: string;
}

const BACKGROUND: Yuv = rgbToYuv({ r: 0x20, g: 0x20, b: 0x22 });

/** Four numbers per tile remembered to notice a re-plan without comparing objects. */
const GEOMETRY_FIELDS = 4;

/**
 * Composes one output profile's canvas. The canvas is reused every frame, so callers must
 * hand it to the encoder (which copies) before the next compose.
 */
export class Compositor {
  readonly canvas: I420Frame;
  private readonly scaler = new I420Scaler();
  private lastGeometry = new Int32Array(0);
  private lastTileCount = -1;

  constructor(width: number, height: number) {
    // Encoders and the recorder expect even sizes; round up rather than lose a pixel row.
    this.canvas = createI420(Math.max(2, (width + 1) & ~1), Math.max(2, (height + 1) & ~1));
    fillI420(this.canvas, BACKGROUND);
  }

  compose(tiles: readonly Tile[], sourceOf: (participantId: string) => TileSource, fit: Fit): I420Frame {
    // Every tile repaints all of its rectangle (picture, bars or placeholder), so the
    // background only needs painting again when the tile geometry changes.
    if (this.geometryChanged(tiles)) fillI420(this.canvas, BACKGROUND);
    for (let i = 0; i < tiles.length; i++) {
      const tile = tiles[i];
      const source = sourceOf(tile.participantId);
      const frame = source.frame;
      if (frame !== null && frame.width >= 1 && frame.height >= 1) {
        this.scaler.scaleInto(frame, this.canvas, tile, fit);
      } else {
        drawPlaceholder(this.canvas, tile, tile.participantId, source.displayName);
      }
    }
    return this.canvas;
  }

  private geometryChanged(tiles: readonly Tile[]): boolean {
    const n = tiles.length;
    let changed = n !== this.lastTileCount;
    if (this.lastGeometry.length < n * GEOMETRY_FIELDS) {
      this.lastGeometry = new Int32Array(n * GEOMETRY_FIELDS * 2);
      changed = true;
    }
    const g = this.lastGeometry;
    for (let i = 0; i < n; i++) {
      const t = tiles[i];
      const o = i * GEOMETRY_FIELDS;
      if (g[o] !== t.x || g[o + 1] !== t.y || g[o + 2] !== t.w || g[o + 3] !== t.h) {
        changed = true;
        g[o] = t.x;
        g[o + 1] = t.y;
        g[o + 2] = t.w;
        g[o + 3] = t.h;
      }
    }
    this.lastTileCount = n;
    return changed;
  }
}
