import { MAX_RTP_PACKET_BYTES } from './rtp-packet';

/**
 * The last `capacity` RTP packets of one outbound stream, for NACK responses. Slots are
 * preallocated and reused (no allocation per packet); a packet is found by its sequence number
 * and is only returned if the slot still holds that very packet.
 */
export class PacketHistory {
  private readonly slots: Buffer[];
  private readonly lengths: Int32Array;
  private readonly seqs: Int32Array;
  private readonly sentAt: Float64Array;
  private readonly resentAt: Float64Array;

  constructor(readonly capacity: number) {
    this.slots = Array.from({ length: capacity }, () => Buffer.alloc(MAX_RTP_PACKET_BYTES));
    this.lengths = new Int32Array(capacity);
    this.seqs = new Int32Array(capacity).fill(-1);
    this.sentAt = new Float64Array(capacity);
    this.resentAt = new Float64Array(capacity);
  }

  /** The slot buffer to build packet `seq` in; call `commit` once it is written. */
  slotFor(seq: number): Buffer {
    return this.slots[seq % this.capacity];
  }

  commit(seq: number, length: number, nowMs: number): Buffer {
    const i = seq % this.capacity;
    this.seqs[i] = seq;
    this.lengths[i] = length;
    this.sentAt[i] = nowMs;
    this.resentAt[i] = 0;
    return this.slots[i].subarray(0, length);
  }

  /** When packet `seq` was first sent (ms), or null if the history no longer holds it. */
  sentAtOf(seq: number): number | null {
    const i = seq % this.capacity;
    return this.seqs[i] === seq ? this.sentAt[i] : null;
  }

  /**
   * The stored packet `seq`, or null if it is gone, older than `maxAgeMs`, first sent before
   * `sentSinceMs`, or was already resent within `minResendIntervalMs` (a receiver repeats its
   * NACK until the packet comes).
   */
  take(
    seq: number,
    nowMs: number,
    maxAgeMs: number,
    minResendIntervalMs: number,
    sentSinceMs = Number.NEGATIVE_INFINITY,
  ): Buffer | null {
    const i = seq % this.capacity;
    if (this.seqs[i] !== seq || nowMs - this.sentAt[i] > maxAgeMs || this.sentAt[i] < sentSinceMs)
      return null;
    if (this.resentAt[i] !== 0 && nowMs - this.resentAt[i] < minResendIntervalMs) return null;
    this.resentAt[i] = nowMs;
    return this.slots[i].subarray(0, this.lengths[i]);
  }
}
