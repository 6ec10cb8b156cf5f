/** One held frame: a copy (the producer reuses its buffer), grown as needed and reused. */
interface Slot {
  data: Uint8Array;
  length: number;
  keyframe: boolean;
  tickMs: number;
}

/**
 * Frames held until `holdMs` after their tick, then handed on in order (lip sync at the
 * receivers, docs/lip-sync.md): the shared encoders hold their encoded frames
 * (DOWNLINK_VIDEO_HOLD_MS), the per-peer path its composites before libwebrtc encodes them
 * (PEER_VIDEO_HOLD_MS). A fixed ring of copies whose buffers are reused, one timer at a time; a
 * full ring (a stalled timer) hands on its oldest frame early rather than losing it.
 */
export class FrameHold {
  private readonly slots: Slot[] = [];
  private head = 0;
  private count = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  /**
   * `deliver` gets the held copy (a view when the slot is larger), valid during the call.
   * `headroom`: a slot grows to this many times a frame that does not fit, so that encoded frames
   * of varying size rarely reallocate; 1 for raw pictures, whose size does not vary and whose
   * consumer (wrtc's RTCVideoSource) wants a buffer of exactly the picture's size.
   */
  constructor(
    private readonly size: number,
    readonly holdMs: number,
    private readonly deliver: (data: Uint8Array, keyframe: boolean, tickMs: number) => void,
    private readonly headroom = 1.5,
  ) {
    for (let i = 0; i < size; i++)
      this.slots.push({ data: new Uint8Array(0), length: 0, keyframe: false, tickMs: 0 });
  }

  /** Frames waiting for their time. */
  get held(): number {
    return this.count;
  }

  /** A frame of the tick at `tickMs` (performance.now() based); copied. */
  push(data: Uint8Array, keyframe: boolean, tickMs: number): void {
    if (this.closed) return;
    if (this.count === this.size) this.releaseOldest();
    const slot = this.slots[(this.head + this.count) % this.size];
    if (slot.data.length < data.length) slot.data = new Uint8Array(Math.ceil(data.length * this.headroom));
    slot.data.set(data);
    slot.length = data.length;
    slot.keyframe = keyframe;
    slot.tickMs = tickMs;
    this.count++;
    // A timer armed for an earlier frame fires first (frames are held in tick order); only an
    // idle ring needs one now.
    if (this.timer === null) this.releaseDue();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.count = 0;
  }

  /** Hands on the held frames whose time has come, in order, and waits for the next one. */
  private readonly releaseDue = (): void => {
    this.timer = null;
    if (this.closed) return;
    const now = performance.now();
    while (this.count > 0 && this.slots[this.head].tickMs + this.holdMs <= now) this.releaseOldest();
    if (this.count > 0)
      this.timer = setTimeout(this.releaseDue, this.slots[this.head].tickMs + this.holdMs - now);
  };

  private releaseOldest(): void {
    const slot = this.slots[this.head];
    this.head = (this.head + 1) % this.size;
    this.count--;
    const data = slot.length === slot.data.length ? slot.data : slot.data.subarray(0, slot.length);
    this.deliver(data, slot.keyframe, slot.tickMs);
  }
}
