import { I420Frame, Yuv, fillRect, rgbToYuv } from './i420';
import type { Rect } from './scale-plan';

/**
 * The tile shown for a participant without video: a colour picked from the participant id
 * (stable across reconnects and the same for every viewer) and the display name's initial.
 */

const GLYPH_W = 5;
const GLYPH_H = 7;

/** 5x7 bitmap font, '#' = lit. Only what an initial needs: A-Z, 0-9 and '?'. */
const FONT_ROWS: Readonly<Record<string, string>> = {
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '###.. #..#. #...# #...# #...# #..#. ###..',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '####. ....# ....# .###. ....# ....# ####.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
};

/** Glyph bitmaps decoded once at load: index by char code, 7 rows of 5-bit masks (bit 4 = leftmost). */
const GLYPHS: (Uint8Array | undefined)[] = [];
for (const [ch, art] of Object.entries(FONT_ROWS)) {
  const rows = art.split(' ');
  const bits = new Uint8Array(GLYPH_H);
  for (let r = 0; r < GLYPH_H; r++) {
    for (let c = 0; c < GLYPH_W; c++) if (rows[r][c] === '#') bits[r] |= 1 << (GLYPH_W - 1 - c);
  }
  GLYPHS[ch.charCodeAt(0)] = bits;
}
const UNKNOWN_GLYPH = GLYPHS['?'.charCodeAt(0)] as Uint8Array;

/** Muted, mid-brightness colours: white text stays readable on all of them, none is black. */
const PALETTE: readonly Yuv[] = [
  { r: 0x3f, g: 0x6e, b: 0xb5 }, // blue
  { r: 0x2e, g: 0x8b, b: 0x7a }, // teal
  { r: 0x5b, g: 0x8c, b: 0x3a }, // green
  { r: 0xb0, g: 0x6a, b: 0x2c }, // amber
  { r: 0xb2, g: 0x4a, b: 0x4a }, // brick
  { r: 0x8a, g: 0x4f, b: 0xa8 }, // violet
  { r: 0xa8, g: 0x4f, b: 0x7e }, // plum
  { r: 0x4f, g: 0x5d, b: 0x8a }, // slate
].map(rgbToYuv);

const WHITE: Yuv = { y: 235, u: 128, v: 128 };

/** FNV-1a over UTF-16 code units: stable, cheap, no allocation. */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function placeholderColour(participantId: string): Yuv {
  return PALETTE[hashId(participantId) % PALETTE.length];
}

/** The first letter or digit of the name, upper-cased (ASCII only: the font has no others). */
function initialGlyph(displayName: string): Uint8Array {
  for (let i = 0; i < displayName.length; i++) {
    let code = displayName.charCodeAt(i);
    if (code === 32 || code === 9) continue;
    if (code >= 97 && code <= 122) code -= 32;
    return GLYPHS[code] ?? UNKNOWN_GLYPH;
  }
  return UNKNOWN_GLYPH;
}

export function drawPlaceholder(
  dst: I420Frame,
  rect: Rect,
  participantId: string,
  displayName: string,
): void {
  fillRect(dst, rect.x, rect.y, rect.w, rect.h, placeholderColour(participantId));
  // Each font pixel becomes a square block; even blocks keep the white text free of colour fringes.
  let block = Math.round((rect.h * 0.4) / GLYPH_H);
  block = Math.min(block, Math.floor(rect.w / GLYPH_W));
  if (block >= 2) block &= ~1;
  if (block < 1) return;
  const glyph = initialGlyph(displayName);
  const x0 = rect.x + ((((rect.w - GLYPH_W * block) >> 1) + 1) & ~1);
  const y0 = rect.y + ((((rect.h - GLYPH_H * block) >> 1) + 1) & ~1);
  for (let r = 0; r < GLYPH_H; r++) {
    const bits = glyph[r];
    for (let c = 0; c < GLYPH_W; c++) {
      if ((bits & (1 << (GLYPH_W - 1 - c))) !== 0) {
        fillRect(dst, x0 + c * block, y0 + r * block, block, block, WHITE);
      }
    }
  }
}
