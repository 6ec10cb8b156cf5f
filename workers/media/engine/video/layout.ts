/**
 * Where each participant goes on the composite canvas. Pure and allocating: it runs on a
 * join, leave or layout change, never per frame. Tiles are even-aligned so each tile owns
 * whole 2x2 chroma blocks and neighbours never bleed into each other.
 */
import type { LayoutKind } from '../../../protocol/media';

export type { LayoutKind };

export interface Tile {
  participantId: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LayoutOptions {
  width: number;
  height: number;
  speakerId?: string | null;
  pinnedId?: string | null;
}

/** Share of the canvas height given to the large tile in speaker and pinned layouts. */
const MAIN_SHARE = 0.75;

function even(v: number): number {
  return 2 * Math.round(v / 2);
}

/** Even-aligned boundary k of `parts` equal parts of `length`; boundaries 0 and parts hit the edges exactly. */
function boundary(length: number, parts: number, k: number): number {
  if (k >= parts) return length & ~1;
  return even((k * length) / parts);
}

export function planLayout(kind: LayoutKind, participantIds: readonly string[], opts: LayoutOptions): Tile[] {
  if (participantIds.length === 0 || opts.width < 2 || opts.height < 2) return [];
  if (kind === 'grid') return gridLayout(participantIds, opts.width, opts.height);
  let mainId = pickSpeaker(participantIds, opts.speakerId);
  if (kind === 'pinned' && opts.pinnedId != null && participantIds.includes(opts.pinnedId)) {
    mainId = opts.pinnedId;
  }
  return mainAndStripLayout(participantIds, mainId, opts.width, opts.height);
}

function pickSpeaker(ids: readonly string[], speakerId: string | null | undefined): string {
  return speakerId != null && ids.includes(speakerId) ? speakerId : ids[0];
}

/** cols = ceil(sqrt(n)), rows = ceil(n / cols), row-major, last partial row centred. */
function gridLayout(ids: readonly string[], width: number, height: number): Tile[] {
  const n = ids.length;
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const tiles: Tile[] = [];
  for (let i = 0; i < n; i++) {
    const row = Math.floor(i / cols);
    const col = i % cols;
    const inRow = row === rows - 1 ? n - row * cols : cols;
    const x0 = boundary(width, cols, col);
    const x1 = boundary(width, cols, col + 1);
    // Centre a partial row by half a cell per missing tile; even so chroma stays aligned.
    const shift = inRow < cols ? even(((cols - inRow) * width) / cols / 2) : 0;
    const y0 = boundary(height, rows, row);
    const y1 = boundary(height, rows, row + 1);
    tiles.push({ participantId: ids[i], x: x0 + shift, y: y0, w: x1 - x0, h: y1 - y0 });
  }
  return tiles;
}

/** One large tile on top (full width), the others as equal tiles in a strip below, in input order. */
function mainAndStripLayout(ids: readonly string[], mainId: string, width: number, height: number): Tile[] {
  const w = width & ~1;
  const h = height & ~1;
  if (ids.length === 1) return [{ participantId: ids[0], x: 0, y: 0, w, h }];
  const mainH = even(h * MAIN_SHARE);
  const tiles: Tile[] = [{ participantId: mainId, x: 0, y: 0, w, h: mainH }];
  const others = ids.filter((id) => id !== mainId);
  for (let k = 0; k < others.length; k++) {
    const x0 = boundary(width, others.length, k);
    const x1 = boundary(width, others.length, k + 1);
    tiles.push({ participantId: others[k], x: x0, y: mainH, w: x1 - x0, h: h - mainH });
  }
  return tiles;
}
