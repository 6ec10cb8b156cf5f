/** A complete encoded frame rebuilt from RTP packets. */
export interface ReceivedFrame {
  /** H.264: Annex-B access unit (4-byte start codes); VP8: the frame; Opus: one packet. */
  data: Uint8Array;
  rtpTimestamp: number;
  keyframe: boolean;
  /**
   * When the sender captured it (its first sample), on the sender's wall clock (Unix ms), from
   * the stream's RTCP sender reports; NaN before the first report. Audio and video of one sender
   * share that clock, so the difference of two such times is the sender's own (lip sync).
   */
  captureMs: number;
}

/**
 * Rebuilds frames from payloads fed in sequence order (after the reorder buffer). `gap` says that
 * packets were lost just before this one: a frame is only emitted if nothing was lost between the
 * previous frame's last packet (marker bit) and its own, so a frame with a hole is discarded, never
 * handed to a decoder half-empty.
 */
export abstract class FrameAssembler {
  private buf = new Uint8Array(64 * 1024);
  private length = 0;
  private timestamp = 0;
  private inFrame = false;
  private broken = false;
  protected keyframe = false;
  /** Frames dropped because a packet of theirs was lost. */
  discarded = 0;

  push(payload: Uint8Array, timestamp: number, marker: boolean, gap: boolean): ReceivedFrame | null {
    if (this.inFrame && timestamp !== this.timestamp) {
      // The previous frame never saw its marker packet: it lost its tail.
      this.discarded++;
      this.inFrame = false;
    }
    if (!this.inFrame) {
      this.inFrame = true;
      this.timestamp = timestamp;
      this.length = 0;
      this.keyframe = false;
      this.broken = false;
      this.startFrame();
    }
    if (gap) this.broken = true;
    if (!this.broken && !this.appendPayload(payload)) this.broken = true;
    if (!marker) return null;
    this.inFrame = false;
    if (this.broken || this.length === 0 || !this.finishFrame()) {
      this.discarded++;
      return null;
    }
    return {
      data: this.buf.slice(0, this.length),
      rtpTimestamp: timestamp,
      keyframe: this.keyframe,
      captureMs: Number.NaN,
    };
  }

  /** Called at the first packet of each frame. */
  protected startFrame(): void {}

  /** Called at the marker packet of an unbroken frame; false if the frame is still incomplete. */
  protected finishFrame(): boolean {
    return true;
  }

  /** Adds one packet's payload; false if it is malformed or out of place (frame discarded). */
  protected abstract appendPayload(payload: Uint8Array): boolean;

  protected append(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  protected appendByte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + extra));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}

/** Opus (RFC 7587): one packet is one frame; the marker bit is not used, so every packet ends one. */
export class OpusAssembler extends FrameAssembler {
  override push(
    payload: Uint8Array,
    timestamp: number,
    _marker: boolean,
    gap: boolean,
  ): ReceivedFrame | null {
    // A lost packet does not affect the next one: each packet decodes on its own.
    void gap;
    return super.push(payload, timestamp, true, false);
  }
  protected appendPayload(payload: Uint8Array): boolean {
    this.keyframe = true;
    this.append(payload);
    return true;
  }
}
