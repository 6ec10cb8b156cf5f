import type { RtpClock } from './clock';
import { FrameAssembler, OpusAssembler, type ReceivedFrame } from './frame-assembler';
import { H264Depacketizer } from './h264-depacketizer';
import { ntpMiddle, unixMsFromNtp, type ReportBlock } from './rtcp';
import { ReorderBuffer, type BufferedPacket, type ReorderSink } from './reorder-buffer';
import { seqDelta, type RtpHeader } from './rtp-packet';
import { Vp8Depacketizer } from './vp8-rtp';

export type ReceiveCodec = 'H264' | 'VP8' | 'opus';

export interface ReceiveStreamConfig {
  codec: ReceiveCodec;
  payloadType: number;
  rtxPayloadType: number | null;
  clockRate: number;
  /** Send NACKs for lost packets (the remote must have negotiated `nack`). */
  nack: boolean;
  /** How long a hole in the sequence is waited for before the packets after it go on. */
  maxWaitMs: number;
}

export interface ReceiveStreamStats {
  packetsReceived: number;
  bytesReceived: number;
  /** Expected minus received, as in RTCP (retransmissions that arrived count as received). */
  packetsLost: number;
  /** Packets that arrived on the RTX stream. */
  packetsRetransmitted: number;
  /** NACKed packets that arrived afterwards (on RTX or resent on the media stream). */
  packetsRecovered: number;
  framesReceived: number;
  keyframesReceived: number;
  /** Frames dropped: incomplete, or undecodable while waiting for a keyframe. */
  framesDiscarded: number;
  nacksSent: number;
  keyframeRequestsSent: number;
  /** Payload bit rate over the last second, bits per second. */
  bitrate: number;
  jitterMs: number;
}

export interface ReceiveStreamHooks {
  onFrame(frame: ReceivedFrame): void;
  sendNack(mediaSsrc: number, sequenceNumbers: readonly number[]): void;
  /** The stream cannot decode on until a keyframe (throttling is the caller's). */
  needKeyframe(): void;
}

const NACK_RETRY_MS = 40;
const NACK_MAX_TRIES = 3;

/**
 * One inbound RTP stream: RTX unwrapping, reorder buffer, loss detection with NACKs, frame
 * rebuilding, "wait for a keyframe" after a loss, and the figures of an RTCP report block.
 */
export class RtpReceiveStream implements ReorderSink {
  ssrc = 0;
  private readonly reorder: ReorderBuffer;
  private readonly assembler: FrameAssembler;
  private waitingForKeyframe: boolean;
  private readonly nackTries = new Map<number, { at: number; tries: number }>();
  private readonly missingScratch: number[] = [];
  private readonly nackScratch: number[] = [];
  private readonly unwrapped: BufferedPacket = {
    data: new Uint8Array(0),
    payloadStart: 0,
    payloadEnd: 0,
    sequenceNumber: 0,
    timestamp: 0,
    marker: false,
  };
  // RFC 3550 A.1/A.3/A.8 receiver statistics.
  private baseSeq = -1;
  private maxSeq = 0;
  private cycles = 0;
  private received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private transit = 0;
  private jitter = 0;
  private lastSr = 0;
  private lastSrAt = 0;
  /** The last sender report's mapping: its RTP timestamp at that wall-clock time (Unix ms). */
  private srRtp = 0;
  private srWallMs = Number.NaN;
  private windowStart = 0;
  private windowBytes = 0;
  readonly stats: ReceiveStreamStats = {
    packetsReceived: 0,
    bytesReceived: 0,
    packetsLost: 0,
    packetsRetransmitted: 0,
    packetsRecovered: 0,
    framesReceived: 0,
    keyframesReceived: 0,
    framesDiscarded: 0,
    nacksSent: 0,
    keyframeRequestsSent: 0,
    bitrate: 0,
    jitterMs: 0,
  };

  constructor(
    readonly config: ReceiveStreamConfig,
    private readonly hooks: ReceiveStreamHooks,
    private readonly clock: RtpClock,
  ) {
    this.reorder = new ReorderBuffer(this, 256, config.maxWaitMs);
    this.assembler =
      config.codec === 'H264'
        ? new H264Depacketizer()
        : config.codec === 'VP8'
          ? new Vp8Depacketizer()
          : new OpusAssembler();
    this.waitingForKeyframe = config.codec !== 'opus';
  }

  /** True if `payloadType` belongs to this stream (media or its RTX). */
  owns(payloadType: number): boolean {
    return payloadType === this.config.payloadType || payloadType === this.config.rtxPayloadType;
  }

  push(packet: Uint8Array, h: RtpHeader): void {
    const now = this.clock.nowMs();
    const p = this.unwrapped;
    p.data = packet;
    p.timestamp = h.timestamp;
    p.marker = h.marker;
    p.payloadEnd = h.payloadOffset + h.payloadLength;
    if (h.payloadType === this.config.rtxPayloadType) {
      if (h.payloadLength < 2) return; // RTX padding probe
      p.sequenceNumber = (packet[h.payloadOffset] << 8) | packet[h.payloadOffset + 1];
      p.payloadStart = h.payloadOffset + 2;
      this.stats.packetsRetransmitted++;
    } else {
      if (this.ssrc === 0) this.ssrc = h.ssrc;
      if (h.ssrc !== this.ssrc) return; // a second sender on one payload type: not ours to mix
      p.sequenceNumber = h.sequenceNumber;
      p.payloadStart = h.payloadOffset;
      this.updateJitter(h.timestamp, now);
    }
    this.countSequence(p.sequenceNumber);
    this.stats.packetsReceived++;
    this.stats.bytesReceived += packet.length;
    this.windowBytes += h.payloadLength;
    if (this.nackTries.delete(p.sequenceNumber)) this.stats.packetsRecovered++;
    this.reorder.push(p, now);
  }

  onPacket(p: BufferedPacket, gap: boolean): void {
    const frame = this.assembler.push(
      p.data.subarray(p.payloadStart, p.payloadEnd),
      p.timestamp,
      p.marker,
      gap,
    );
    if (this.assembler.discarded > 0) {
      this.stats.framesDiscarded += this.assembler.discarded;
      this.assembler.discarded = 0;
      if (this.config.codec !== 'opus') this.startWaitingForKeyframe();
    }
    if (!frame) return;
    if (this.waitingForKeyframe && !frame.keyframe) {
      this.stats.framesDiscarded++;
      this.hooks.needKeyframe();
      return;
    }
    this.waitingForKeyframe = false;
    this.stats.framesReceived++;
    if (frame.keyframe && this.config.codec !== 'opus') this.stats.keyframesReceived++;
    frame.captureMs = this.senderTimeMs(frame.rtpTimestamp);
    this.hooks.onFrame(frame);
  }

  onMissing(sequenceNumbers: readonly number[]): void {
    if (!this.config.nack) return;
    const now = this.clock.nowMs();
    for (const s of sequenceNumbers) this.nackTries.set(s, { at: now, tries: 1 });
    this.stats.nacksSent++;
    this.hooks.sendNack(this.ssrc, sequenceNumbers);
  }

  /** Timeouts of the reorder buffer, NACK retries and the bitrate window; every ~20 ms. */
  tick(): void {
    const now = this.clock.nowMs();
    this.reorder.tick(now);
    if (this.config.nack && this.nackTries.size > 0) {
      const missing = this.reorder.missingNow(this.missingScratch);
      const retry = this.nackScratch;
      retry.length = 0;
      for (const seq of missing) {
        const t = this.nackTries.get(seq);
        if (t && t.tries < NACK_MAX_TRIES && now - t.at >= NACK_RETRY_MS) {
          t.tries++;
          t.at = now;
          retry.push(seq);
        }
      }
      if (this.nackTries.size > missing.length) {
        for (const seq of this.nackTries.keys()) if (!missing.includes(seq)) this.nackTries.delete(seq);
      }
      if (retry.length > 0) {
        this.stats.nacksSent++;
        this.hooks.sendNack(this.ssrc, retry);
      }
    }
    if (now - this.windowStart >= 1000) {
      this.stats.bitrate =
        this.windowStart === 0 ? 0 : (this.windowBytes * 8 * 1000) / (now - this.windowStart);
      this.windowStart = now;
      this.windowBytes = 0;
    }
  }

  onSenderReport(ntpMsw: number, ntpLsw: number, rtpTimestamp: number): void {
    this.lastSr = ntpMiddle(ntpMsw, ntpLsw);
    this.lastSrAt = this.clock.nowMs();
    this.srWallMs = unixMsFromNtp(ntpMsw, ntpLsw);
    this.srRtp = rtpTimestamp >>> 0;
  }

  /**
   * The sender's wall-clock time (Unix ms) of an RTP timestamp of this stream, by its last sender
   * report (a report maps one RTP timestamp to the sender's NTP time, and the stream's timestamps
   * advance at the clock rate); NaN before the first report.
   */
  senderTimeMs(rtpTimestamp: number): number {
    if (Number.isNaN(this.srWallMs)) return Number.NaN;
    // Signed 32-bit difference: a frame just before the report's timestamp, or across a wrap.
    const ticks = ((rtpTimestamp >>> 0) - this.srRtp) | 0;
    return this.srWallMs + (ticks * 1000) / this.config.clockRate;
  }

  /** This stream's report block for our next RR (null before the first packet). */
  reportBlock(): ReportBlock | null {
    if (this.baseSeq < 0) return null;
    const extMax = this.cycles + this.maxSeq;
    const expected = extMax - this.baseSeq + 1;
    const lost = expected - this.received;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    this.stats.packetsLost = Math.max(0, lost);
    const dlsr = this.lastSr === 0 ? 0 : Math.round(((this.clock.nowMs() - this.lastSrAt) / 1000) * 65536);
    return {
      ssrc: this.ssrc,
      fractionLost: expectedInterval <= 0 || lostInterval <= 0 ? 0 : lostInterval / expectedInterval,
      cumulativeLost: lost,
      highestSequence: extMax >>> 0,
      jitter: Math.floor(this.jitter),
      lastSr: this.lastSr,
      delaySinceLastSr: dlsr >>> 0,
    };
  }

  /** Marks the stream as undecodable until the next keyframe and asks for one. */
  startWaitingForKeyframe(): void {
    this.waitingForKeyframe = true;
    this.hooks.needKeyframe();
  }

  private countSequence(seq: number): void {
    if (this.baseSeq < 0) {
      this.baseSeq = seq;
      this.maxSeq = seq;
    } else {
      const d = seqDelta(this.maxSeq, seq);
      if (d > 0) {
        if (seq < this.maxSeq) this.cycles += 0x10000;
        this.maxSeq = seq;
      }
    }
    this.received++;
  }

  private updateJitter(timestamp: number, nowMs: number): void {
    const arrival = (nowMs * this.config.clockRate) / 1000;
    const transit = arrival - timestamp;
    if (this.transit !== 0) {
      let d = transit - this.transit;
      if (d < 0) d = -d;
      // A timestamp wrap shows as a jump of ~2^32: not jitter.
      if (d < 0x7fffffff) this.jitter += (d - this.jitter) / 16;
    }
    this.transit = transit;
    this.stats.jitterMs = (this.jitter / this.config.clockRate) * 1000;
  }
}
