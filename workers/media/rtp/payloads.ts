import { MAX_RTP_PACKET_BYTES, RTP_HEADER_BYTES } from './rtp-packet';

/**
 * Largest payload a packetizer produces: room for the RTP header and for the 2-byte original
 * sequence number that an RTX retransmission (RFC 4588) puts in front of the payload.
 */
export const MAX_PAYLOAD_BYTES = MAX_RTP_PACKET_BYTES - RTP_HEADER_BYTES - 2;

/**
 * The RTP payloads of one frame, written into one scratch buffer that grows to the largest frame
 * seen and is reused: a frame is packetized once and the views are copied into every receiver's
 * packets, so the views are only valid until the packetizer's next call.
 */
export class PayloadList {
  private scratch: Uint8Array = new Uint8Array(64 * 1024);
  private readonly offsets: number[] = [];
  private readonly lengths: number[] = [];
  private used = 0;
  count = 0;

  reset(expectedBytes: number): void {
    this.count = 0;
    this.used = 0;
    // Headers add a few bytes per packet; a frame never needs more than twice its size.
    const need = expectedBytes * 2 + 1024;
    if (this.scratch.length < need) this.scratch = new Uint8Array(need);
  }

  /** Reserves `length` bytes for a new payload and returns the offset to write them at. */
  begin(length: number): number {
    const at = this.used;
    this.offsets[this.count] = at;
    this.lengths[this.count] = length;
    this.count++;
    this.used += length;
    return at;
  }

  get buffer(): Uint8Array {
    return this.scratch;
  }

  payload(i: number): Uint8Array {
    return this.scratch.subarray(this.offsets[i], this.offsets[i] + this.lengths[i]);
  }
}

/** What a packetizer exposes to an outbound stream. */
export interface RtpPacketizer {
  /** Packetizes one encoded frame; returns the payloads (valid until the next call). */
  packetize(frame: Uint8Array): PayloadList;
}
