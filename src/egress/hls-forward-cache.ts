/**
 * HLS files fetched from the node that hosts an egress, kept on the node that serves them: a
 * segment never changes once listed (kept until evicted, oldest first: the live window moves on
 * and old segments are not asked for again), a playlist only for `playlistMs` (its Cache-Control
 * max-age). Concurrent reads of one file share one fetch, so N viewers on this node cost one
 * forward per file. A failed fetch is not cached.
 */
export class HlsForwardCache {
  private readonly entries = new Map<string, { data: Buffer; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly opts: {
      maxEntries: number;
      playlistMs: number;
      isPlaylist: (file: string) => boolean;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  get size(): number {
    return this.entries.size;
  }

  get(token: string, file: string, fetch: () => Promise<Buffer>): Promise<Buffer> {
    const key = `${token}/${file}`;
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.now()) return Promise.resolve(hit.data);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const p = fetch()
      .then((data) => {
        this.entries.delete(key);
        this.entries.set(key, {
          data,
          expiresAt: this.opts.isPlaylist(file)
            ? this.now() + this.opts.playlistMs
            : Number.POSITIVE_INFINITY,
        });
        for (const k of this.entries.keys()) {
          if (this.entries.size <= this.opts.maxEntries) break;
          this.entries.delete(k);
        }
        return data;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }
}
