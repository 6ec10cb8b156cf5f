import { Tile, planLayout } from '../../../workers/media/engine/video/layout';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `p${i + 1}`);

function overlaps(a: Tile, b: Tile): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function expectWellFormed(tiles: Tile[], width: number, height: number): void {
  for (const t of tiles) {
    for (const v of [t.x, t.y, t.w, t.h]) expect(v % 2).toBe(0);
    expect(t.w).toBeGreaterThan(0);
    expect(t.h).toBeGreaterThan(0);
    expect(t.x).toBeGreaterThanOrEqual(0);
    expect(t.y).toBeGreaterThanOrEqual(0);
    expect(t.x + t.w).toBeLessThanOrEqual(width);
    expect(t.y + t.h).toBeLessThanOrEqual(height);
  }
  for (let i = 0; i < tiles.length; i++) {
    for (let j = i + 1; j < tiles.length; j++) expect(overlaps(tiles[i], tiles[j])).toBe(false);
  }
}

describe('planLayout grid', () => {
  it.each([
    [1, 1, 1],
    [2, 2, 1],
    [4, 2, 2],
    [6, 3, 2],
    [9, 3, 3],
    [16, 4, 4],
  ])(
    'places %i participants in %i columns and %i rows, row-major, inside and non-overlapping',
    (n, cols, rows) => {
      const tiles = planLayout('grid', ids(n), { width: 1280, height: 720 });
      expect(tiles.map((t) => t.participantId)).toEqual(ids(n));
      expectWellFormed(tiles, 1280, 720);
      expect(new Set(tiles.map((t) => t.x)).size).toBe(cols);
      expect(new Set(tiles.map((t) => t.y)).size).toBe(rows);
      for (let i = 1; i < n; i++) {
        const prev = tiles[i - 1];
        const cur = tiles[i];
        // Row-major: either to the right on the same row, or on a lower row.
        expect(cur.y > prev.y || (cur.y === prev.y && cur.x > prev.x)).toBe(true);
      }
    },
  );

  it('gives one participant the whole canvas', () => {
    expect(planLayout('grid', ['a'], { width: 640, height: 360 })).toEqual([
      { participantId: 'a', x: 0, y: 0, w: 640, h: 360 },
    ]);
  });

  it('puts two participants side by side', () => {
    const [a, b] = planLayout('grid', ['a', 'b'], { width: 640, height: 360 });
    expect(a).toEqual({ participantId: 'a', x: 0, y: 0, w: 320, h: 360 });
    expect(b).toEqual({ participantId: 'b', x: 320, y: 0, w: 320, h: 360 });
  });

  it('centres a partial last row horizontally', () => {
    const tiles = planLayout('grid', ids(3), { width: 640, height: 360 });
    expect(tiles[2]).toEqual({ participantId: 'p3', x: 160, y: 180, w: 320, h: 180 });
    const seven = planLayout('grid', ids(7), { width: 1280, height: 720 });
    const last = seven[6];
    expect(last.x + last.w / 2).toBeCloseTo(640, -1);
    expectWellFormed(seven, 1280, 720);
  });

  it('covers the canvas exactly when the grid is full', () => {
    const tiles = planLayout('grid', ids(9), { width: 640, height: 360 });
    expect(tiles.reduce((sum, t) => sum + t.w * t.h, 0)).toBe(640 * 360);
  });

  it('returns no tiles for an empty room', () => {
    expect(planLayout('grid', [], { width: 640, height: 360 })).toEqual([]);
  });
});

describe('planLayout speaker and pinned', () => {
  it('gives the speaker the top three quarters and the others a strip below, in order', () => {
    const tiles = planLayout('speaker', ['a', 'b', 'c', 'd'], { width: 1280, height: 720, speakerId: 'c' });
    expect(tiles[0]).toEqual({ participantId: 'c', x: 0, y: 0, w: 1280, h: 540 });
    expect(tiles.slice(1).map((t) => t.participantId)).toEqual(['a', 'b', 'd']);
    for (const t of tiles.slice(1)) {
      expect(t.y).toBe(540);
      expect(t.h).toBe(180);
    }
    expectWellFormed(tiles, 1280, 720);
  });

  it('falls back to the first participant when the speaker is unknown or null', () => {
    expect(
      planLayout('speaker', ['a', 'b'], { width: 640, height: 360, speakerId: 'zz' })[0].participantId,
    ).toBe('a');
    expect(
      planLayout('speaker', ['a', 'b'], { width: 640, height: 360, speakerId: null })[0].participantId,
    ).toBe('a');
  });

  it('gives a lone participant one full tile', () => {
    expect(planLayout('speaker', ['a'], { width: 640, height: 360 })).toEqual([
      { participantId: 'a', x: 0, y: 0, w: 640, h: 360 },
    ]);
  });

  it('puts the pinned participant in the large tile', () => {
    const tiles = planLayout('pinned', ['a', 'b', 'c'], {
      width: 640,
      height: 360,
      speakerId: 'b',
      pinnedId: 'c',
    });
    expect(tiles[0]).toMatchObject({ participantId: 'c', x: 0, y: 0, w: 640 });
    expect(tiles.slice(1).map((t) => t.participantId)).toEqual(['a', 'b']);
    expectWellFormed(tiles, 640, 360);
  });

  it('falls back to the speaker when the pinned participant is absent', () => {
    const tiles = planLayout('pinned', ['a', 'b', 'c'], {
      width: 640,
      height: 360,
      speakerId: 'b',
      pinnedId: 'gone',
    });
    expect(tiles[0].participantId).toBe('b');
  });
});
