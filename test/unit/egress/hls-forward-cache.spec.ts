import { HlsForwardCache } from '../../../src/egress/hls-forward-cache';

/** The cache in front of HLS reads forwarded between cluster nodes (src/egress/egress.service.ts). */
describe('HlsForwardCache', () => {
  let now = 0;
  const cache = () =>
    new HlsForwardCache({
      maxEntries: 3,
      playlistMs: 1000,
      isPlaylist: (f) => f === 'index.m3u8',
      now: () => now,
    });
  /** A fetch that counts its calls and answers with the call number. */
  const counting = () => {
    let calls = 0;
    const fetch = async () => Buffer.from(`v${++calls}`);
    return { fetch, calls: () => calls };
  };

  beforeEach(() => {
    now = 0;
  });

  it('keeps a segment for good and a playlist for its max-age', async () => {
    const c = cache();
    const seg = counting();
    const pl = counting();
    expect((await c.get('t', 'seg-00001.ts', seg.fetch)).toString()).toBe('v1');
    expect((await c.get('t', 'index.m3u8', pl.fetch)).toString()).toBe('v1');
    now = 999;
    expect((await c.get('t', 'seg-00001.ts', seg.fetch)).toString()).toBe('v1');
    expect((await c.get('t', 'index.m3u8', pl.fetch)).toString()).toBe('v1');
    now = 1000;
    expect((await c.get('t', 'seg-00001.ts', seg.fetch)).toString()).toBe('v1');
    expect((await c.get('t', 'index.m3u8', pl.fetch)).toString()).toBe('v2');
    expect([seg.calls(), pl.calls()]).toEqual([1, 2]);
  });

  it('shares one fetch between concurrent reads of a file', async () => {
    const c = cache();
    const f = counting();
    const all = await Promise.all([1, 2, 3].map(() => c.get('t', 'seg-00001.ts', f.fetch)));
    expect(all.map((b) => b.toString())).toEqual(['v1', 'v1', 'v1']);
    expect(f.calls()).toBe(1);
  });

  it('evicts the oldest entries beyond its bound, per token', async () => {
    const c = cache();
    const f = counting();
    for (const n of [1, 2, 3, 4]) await c.get('t', `seg-0000${n}.ts`, f.fetch);
    expect(c.size).toBe(3);
    await c.get('t', 'seg-00004.ts', f.fetch);
    expect(f.calls()).toBe(4);
    await c.get('t', 'seg-00001.ts', f.fetch); // evicted: fetched again
    expect(f.calls()).toBe(5);
    await c.get('other', 'seg-00004.ts', f.fetch); // another egress's file of the same name
    expect(f.calls()).toBe(6);
  });

  it('does not cache a failed fetch', async () => {
    const c = cache();
    let fail = true;
    const fetch = async () => {
      if (fail) throw new Error('not found');
      return Buffer.from('ok');
    };
    await expect(c.get('t', 'seg-00001.ts', fetch)).rejects.toThrow('not found');
    fail = false;
    expect((await c.get('t', 'seg-00001.ts', fetch)).toString()).toBe('ok');
  });
});
