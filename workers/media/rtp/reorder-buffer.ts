import { seqDelta } from './rtp-packet';

/** One received packet as the depacketizer wants it (an RTX packet is already unwrapped). */
export interface BufferedPacket {
  data: Uint8Array;
  payloadStart: number;
  payloadEnd: number;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
}

export interface ReorderSink {
  /** Packets in sequence order; `gap` is true when packets before this one were given up. */
  onPacket(p: BufferedPacket, gap: boolean): void;
  /** Newly missing sequence numbers (a NACK candidate). */
  onMissing(sequenceNumbers: readonly number[]): void;
}

/**
 * A small reorder buffer: packets are released in sequence order; a hole is waited for (a
 * reordered or retransmitted packet may fill it) until the packet after it has waited
 * `maxWaitMs`, or until the buffer is full, then given up. Slots are preallocated.
 */
export class ReorderBuffer {
  private readonly slots: Array<BufferedPacket & { present: boolean; arrivedAt: number }>;
  private expected = -1;
  /** Newest sequence number seen, and how many slots hold a packet. */
  private newest = -1;
  private buffered = 0;
  private gapPending = false;
  private readonly missing: number[] = [];
  /** Packets given up (never arrived in time). */
  lost = 0;
  /** Packets that came after they had been given up, or twice. */
  late = 0;

  constructor(
    private readonly sink: ReorderSink,
    private readonly capacity = 256,
    private readonly maxWaitMs = 150,
  ) {
    // Slots are indexed by sequence number modulo capacity, which must divide 2^16.
    if (capacity & (capacity - 1) || capacity > 0x8000)
      throw new Error('reorder capacity: a power of two ≤ 32768');
    this.slots = Array.from({ length: capacity }, () => ({
      data: new Uint8Array(0),
      payloadStart: 0,
      payloadEnd: 0,
      sequenceNumber: 0,
      timestamp: 0,
      marker: false,
      present: false,
      arrivedAt: 0,
    }));
  }

  push(p: BufferedPacket, nowMs: number): void {
    if (this.expected < 0) this.expected = this.newest = p.sequenceNumber;
    let d = seqDelta(this.expected, p.sequenceNumber);
    if (d < 0) {
      this.late++;
      return;
    }
    if (d >= this.capacity) {
      // Far ahead (a long outage or a sender restart): give up everything before it.
      const target = (p.sequenceNumber - this.capacity + 1) & 0xffff;
      while (seqDelta(this.expected, target) > 0) {
        this.skipTo(target);
        this.drain();
      }
      d = seqDelta(this.expected, p.sequenceNumber);
    }
    const slot = this.slots[p.sequenceNumber % this.capacity];
    if (slot.present) {
      this.late++;
      return;
    }
    slot.present = true;
    slot.arrivedAt = nowMs;
    slot.data = p.data;
    slot.payloadStart = p.payloadStart;
    slot.payloadEnd = p.payloadEnd;
    slot.sequenceNumber = p.sequenceNumber;
    slot.timestamp = p.timestamp;
    slot.marker = p.marker;
    this.buffered++;
    if (seqDelta(this.newest, p.sequenceNumber) > 0) {
      this.reportMissing(this.newest, p.sequenceNumber);
      this.newest = p.sequenceNumber;
    }
    this.drain();
  }

  /** Gives up holes whose successors waited too long; call every few tens of ms. */
  tick(nowMs: number): void {
    while (this.hasBuffered()) {
      const next = this.firstBuffered();
      if (nowMs - next.arrivedAt < this.maxWaitMs && this.bufferedSpan() < this.capacity / 2) return;
      this.skipTo(next.sequenceNumber);
      this.drain();
    }
  }

  /** Sequence numbers still missing before the newest buffered packet. */
  missingNow(out: number[]): number[] {
    out.length = 0;
    if (!this.hasBuffered()) return out;
    const span = this.bufferedSpan();
    for (let i = 0; i < span; i++) {
      const seq = (this.expected + i) & 0xffff;
      if (!this.slots[seq % this.capacity].present) out.push(seq);
    }
    return out;
  }

  /** Reports the holes between the previous newest packet and the new newest one. */
  private reportMissing(previous: number, newest: number): void {
    this.missing.length = 0;
    for (
      let s = (previous + 1) & 0xffff;
      s !== newest && this.missing.length < this.capacity;
      s = (s + 1) & 0xffff
    ) {
      if (seqDelta(this.expected, s) >= 0) this.missing.push(s);
    }
    if (this.missing.length > 0) this.sink.onMissing(this.missing);
  }

  private drain(): void {
    for (;;) {
      const slot = this.slots[this.expected % this.capacity];
      if (!slot.present || slot.sequenceNumber !== this.expected) return;
      slot.present = false;
      this.buffered--;
      const gap = this.gapPending;
      this.gapPending = false;
      this.expected = (this.expected + 1) & 0xffff;
      this.sink.onPacket(slot, gap);
    }
  }

  private skipTo(seq: number): void {
    while (this.expected !== seq) {
      const slot = this.slots[this.expected % this.capacity];
      if (slot.present && slot.sequenceNumber === this.expected) return;
      this.lost++;
      this.gapPending = true;
      this.expected = (this.expected + 1) & 0xffff;
    }
  }

  private hasBuffered(): boolean {
    return this.buffered > 0;
  }

  /** Distance from the next expected packet to just past the newest buffered one. */
  private bufferedSpan(): number {
    return this.buffered > 0 ? seqDelta(this.expected, this.newest) + 1 : 0;
  }

  private firstBuffered(): BufferedPacket & { arrivedAt: number } {
    for (let i = 0; i < this.capacity; i++) {
      const seq = (this.expected + i) & 0xffff;
      const slot = this.slots[seq % this.capacity];
      if (slot.present && slot.sequenceNumber === seq) return slot;
    }
    throw new Error('reorder buffer: firstBuffered on an empty buffer');
  }
}
