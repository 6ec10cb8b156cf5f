import type { I420Frame } from './engine/video/i420';

/** Composites held at once: 30 fps with a 100 ms hold needs 4. */
const SLOTS = 6;

/**
 * The per-peer downlink's picture hold (PEER_VIDEO_HOLD_MS, docs/lip-sync.md): each composite is
 * copied into a small ring and handed to the profile's RTCVideoSource, which libwebrtc encodes
 * once per peer, `holdMs` after its tick. The shared encode holds its encoded frames instead
 * (SharedVideoEncoder); this path has no encoded frame of its own to hold. Buffers are allocated
 * once per slot and reused; one timer at a time.
 */
export class PeerFrameHold {
  private readonly data: Uint8Array[] = [];
  private readonly ticks = new Float64Array(SLOTS);
  private head = 0;
  private count = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Handed to `deliver`, its data swapped per frame (the source copies it at once). */
  private readonly out: I420Frame;

  constructor(
    width: number,
    height: number,
    private readonly holdMs: number,
    private readonly deliver: (frame: I420Frame) => void,
  ) {
    this.out = { width, height, data: new Uint8Array(0) };
  }

  /** The composite of the tick at `tickMs` (performance.now() based); copied, the caller reuses it. */
  push(frame: I420Frame, tickMs: number): void {
    if (this.closed) return;
    // A full ring (a stalled timer) delivers its oldest frame early rather than losing it.
    if (this.count === SLOTS) this.releaseOldest();
    const i = (this.head + this.count) % SLOTS;
    if (!this.data[i] || this.data[i].length !== frame.data.length)
      this.data[i] = new Uint8Array(frame.data.length);
    this.data[i].set(frame.data);
    this.ticks[i] = tickMs;
    this.count++;
    if (this.timer === null) this.releaseDue();
  }

  /** Frames waiting for their time. */
  get held(): number {
    return this.count;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.count = 0;
  }

  private readonly releaseDue = (): void => {
    this.timer = null;
    if (this.closed) return;
    const now = performance.now();
    while (this.count > 0 && this.ticks[this.head] + this.holdMs <= now) this.releaseOldest();
    if (this.count > 0) this.timer = setTimeout(this.releaseDue, this.ticks[this.head] + this.holdMs - now);
  };

  private releaseOldest(): void {
    this.out.data = this.data[this.head];
    this.head = (this.head + 1) % SLOTS;
    this.count--;
    this.deliver(this.out);
  }
}
