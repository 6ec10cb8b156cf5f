/**
 * The frame stamp: the send time drawn into the picture as big black and white luma blocks,
 * read back from wherever the picture ends up (full frame, or a scaled tile of a composite).
 *
 * Why blocks and not a QR-like code: the stamp has to survive VP8 at 120-550 kbps and a
 * downscale to a 160x90 (or ~106x60) tile, so each bit is a 64x64 block in the 640x360
 * source (>= 10 px in the smallest tile) and only the centre of a block is read.
 *
 * Layout: 2 rows x 10 columns in the top STAMP_ROWS_FRACTION of the picture.
 *   block 0 and block 10: reference white and black (one per row, for the threshold and
 *   a contrast check); the other 18 blocks: 14 bits of a millisecond clock (wraps every
 *   16.4 s, far above any latency we expect) and a 4-bit check value. A stamp is accepted
 *   only when both references are clearly apart, no block sits near the threshold and the
 *   check matches, so a half-updated or smeared stamp is rejected, not misread.
 */
import { fillRect, type I420Frame } from '../workers/media/engine/video/i420';

export const STAMP_COLS = 10;
export const STAMP_ROWS = 2;
/** Share of the picture height the stamp occupies (2 rows of 64 px in a 360 px picture). */
export const STAMP_HEIGHT_FRACTION = 128 / 360;
export const TIME_BITS = 14;
export const TIME_MODULO = 1 << TIME_BITS;
const CHECK_BITS = 4;
/** Block indexes (row-major) of the two references. */
const REF_WHITE = 0;
const REF_BLACK = STAMP_COLS;
const WHITE = { y: 235, u: 128, v: 128 };
const BLACK = { y: 16, u: 128, v: 128 };
/** Minimum luma gap between the references; below it the picture is not a readable stamp. */
const MIN_CONTRAST = 60;
/** A block within this share of the contrast from the threshold is ambiguous. */
const AMBIGUOUS_SHARE = 0.2;

/** Data block indexes in bit order: every block except the two references. */
const DATA_BLOCKS: number[] = [];
for (let i = 0; i < STAMP_COLS * STAMP_ROWS; i++) if (i !== REF_WHITE && i !== REF_BLACK) DATA_BLOCKS.push(i);

/** XOR of the nibbles, with a constant so an all-black or all-white picture fails the check. */
function checkValue(time: number): number {
  return ((time & 0xf) ^ ((time >> 4) & 0xf) ^ ((time >> 8) & 0xf) ^ ((time >> 12) & 0xf) ^ 0x5) & 0xf;
}

/** The 18 data bits (time then check), most significant first. */
function encodeBits(timeMs: number): number[] {
  const time = ((Math.round(timeMs) % TIME_MODULO) + TIME_MODULO) % TIME_MODULO;
  const word = (time << CHECK_BITS) | checkValue(time);
  const bits: number[] = [];
  for (let b = TIME_BITS + CHECK_BITS - 1; b >= 0; b--) bits.push((word >> b) & 1);
  return bits;
}

/** Draws the stamp for `timeMs` over the top of `frame` (any size; blocks scale with it). */
export function drawStamp(frame: I420Frame, timeMs: number): void {
  const bits = encodeBits(timeMs);
  const bw = frame.width / STAMP_COLS;
  const bh = (frame.height * STAMP_HEIGHT_FRACTION) / STAMP_ROWS;
  for (let i = 0; i < STAMP_COLS * STAMP_ROWS; i++) {
    let white: boolean;
    if (i === REF_WHITE) white = true;
    else if (i === REF_BLACK) white = false;
    else white = bits[DATA_BLOCKS.indexOf(i)] === 1;
    const col = i % STAMP_COLS;
    const row = Math.floor(i / STAMP_COLS);
    const x0 = Math.round(col * bw);
    const y0 = Math.round(row * bh);
    fillRect(
      frame,
      x0,
      y0,
      Math.round((col + 1) * bw) - x0,
      Math.round((row + 1) * bh) - y0,
      white ? WHITE : BLACK,
    );
  }
}

export interface PictureRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Mean luma of a small grid of points around the centre half of one block. */
function blockLuma(frame: I420Frame, rect: PictureRect, index: number): number {
  const col = index % STAMP_COLS;
  const row = Math.floor(index / STAMP_COLS);
  const bw = rect.w / STAMP_COLS;
  const bh = (rect.h * STAMP_HEIGHT_FRACTION) / STAMP_ROWS;
  const cx = rect.x + (col + 0.5) * bw;
  const cy = rect.y + (row + 0.5) * bh;
  // 4x4 points spread over the middle half of the block: edges ring after VP8 and scaling.
  let sum = 0;
  let n = 0;
  for (let j = 0; j < 4; j++) {
    const y = Math.floor(cy + ((j - 1.5) / 4) * bh * 0.5);
    if (y < 0 || y >= frame.height) continue;
    for (let i = 0; i < 4; i++) {
      const x = Math.floor(cx + ((i - 1.5) / 4) * bw * 0.5);
      if (x < 0 || x >= frame.width) continue;
      sum += frame.data[y * frame.width + x];
      n++;
    }
  }
  return n > 0 ? sum / n : -1;
}

/**
 * Reads the stamp out of the picture occupying `rect` of `frame`. Returns the time modulo
 * TIME_MODULO, or -1 when the stamp is unreadable or fails validation.
 */
export function readStamp(frame: I420Frame, rect: PictureRect): number {
  if (rect.w < STAMP_COLS * 2 || rect.h < 8) return -1;
  const white = blockLuma(frame, rect, REF_WHITE);
  const black = blockLuma(frame, rect, REF_BLACK);
  const contrast = white - black;
  if (black < 0 || contrast < MIN_CONTRAST) return -1;
  const threshold = (white + black) / 2;
  const margin = contrast * AMBIGUOUS_SHARE;
  let word = 0;
  for (const index of DATA_BLOCKS) {
    const v = blockLuma(frame, rect, index);
    if (v < 0 || Math.abs(v - threshold) < margin) return -1;
    word = (word << 1) | (v > threshold ? 1 : 0);
  }
  const time = word >> CHECK_BITS;
  return (word & 0xf) === checkValue(time) ? time : -1;
}

/** Milliseconds from a stamp to `nowMs`, both on the same clock, modulo the stamp's range. */
export function stampAge(stamp: number, nowMs: number): number {
  const now = Math.round(nowMs) % TIME_MODULO;
  return (now - stamp + TIME_MODULO) % TIME_MODULO;
}
