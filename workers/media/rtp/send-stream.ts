import type { RtpClock } from './clock';
import { mediaTimestamp } from './clock';
import { PacketHistory } from './packet-history';
import type { PayloadList } from './payloads';
import { buildSenderReport, ntpFromUnixMs, ntpMiddle, type ReportBlock } from './rtcp';
import { RTP_HEADER_BYTES, random32, writeRtpHeader } from './rtp-packet';

export interface SendStreamConfig {
  kind: 'audio' | 'video';
  ssrc: number;
  payloadType: number;
  clockRate: number;
  cname: string;
  /** RFC 4588 retransmission stream, if the remote negotiated it. */
  rtx: { ssrc: number; payloadType: number } | null;
  /** Packets kept for NACK responses (a power of two). */
  historySize: number;
}

export interface SendStreamStats {
  packetsSent: number;
  bytesSent: number;
  framesSent: number;
  keyframesSent: number;
  nacksReceived: number;
  packetsRetransmitted: number;
  /** Packets withheld by the loss simulation (tests and benchmarks only). */
  packetsDropped: number;
  /** From the remote's last receiver report: loss fraction 0..1, cumulative loss, jitter, RTT. */
  fractionLost: number;
  packetsLost: number;
  jitterMs: number;
  roundTripTimeMs: number;
  /** Last REMB from the remote covering this stream, bits per second (0: none yet). */
  rembBitrate: number;
}

/** How long a packet stays retransmittable, and how soon the same packet may be resent. */
const NACK_MAX_AGE_MS = 1000;
const NACK_MIN_RESEND_MS = 20;

/**
 * One outbound RTP stream: sequence numbers, timestamps offset from the shared clock, the
 * packet history for NACK (answered on the RTX stream when negotiated, else by resending the
 * packet), and RTCP sender reports; fed with packetizer payloads so that a frame packetized
 * once can go to many receivers.
 */
export class RtpSendStream {
  private seq = random32() & 0xffff;
  private rtxSeq = random32() & 0xffff;
  private readonly timestampOffset = random32();
  private readonly history: PacketHistory;
  private readonly rtxBuffer: Buffer;
  private lastMediaTimestamp = 0;
  private payloadOctets = 0;
  readonly stats: SendStreamStats = {
    packetsSent: 0,
    bytesSent: 0,
    framesSent: 0,
    keyframesSent: 0,
    nacksReceived: 0,
    packetsRetransmitted: 0,
    packetsDropped: 0,
    fractionLost: 0,
    packetsLost: 0,
    jitterMs: 0,
    roundTripTimeMs: 0,
    rembBitrate: 0,
  };

  constructor(
    readonly config: SendStreamConfig,
    private readonly transmit: (packet: Buffer) => void,
    private readonly clock: RtpClock,
    /** Loss simulation: true withholds a packet's first transmission (it stays retransmittable). */
    private readonly dropPacket: ((sequenceNumber: number) => boolean) | null = null,
  ) {
    this.history = new PacketHistory(config.historySize);
    this.rtxBuffer = Buffer.alloc(this.history.slotFor(0).length + 2);
  }

  /** Sends the payloads of one frame; `timestamp` is a media timestamp (see mediaTimestamp). */
  sendPayloads(payloads: PayloadList, timestamp: number, keyframe: boolean): void {
    const ts = (timestamp + this.timestampOffset) >>> 0;
    this.lastMediaTimestamp = timestamp;
    const now = this.clock.nowMs();
    for (let i = 0; i < payloads.count; i++) {
      const payload = payloads.payload(i);
      const marker = this.config.kind === 'video' && i === payloads.count - 1;
      this.sendOne(payload, marker, ts, now);
    }
    this.stats.framesSent++;
    if (keyframe) this.stats.keyframesSent++;
  }

  /** Sends one payload as one packet (an Opus packet). */
  sendPayload(payload: Uint8Array, timestamp: number): void {
    this.lastMediaTimestamp = timestamp;
    this.sendOne(payload, false, (timestamp + this.timestampOffset) >>> 0, this.clock.nowMs());
    this.stats.framesSent++;
  }

  private sendOne(payload: Uint8Array, marker: boolean, ts: number, now: number): void {
    if (payload.length + RTP_HEADER_BYTES > this.history.slotFor(0).length)
      throw new RangeError(`RTP payload of ${payload.length} bytes exceeds the packet size`);
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    const slot = this.history.slotFor(seq);
    writeRtpHeader(slot, marker, this.config.payloadType, seq, ts, this.config.ssrc);
    slot.set(payload, RTP_HEADER_BYTES);
    const packet = this.history.commit(seq, RTP_HEADER_BYTES + payload.length, now);
    this.payloadOctets += payload.length;
    this.stats.packetsSent++;
    this.stats.bytesSent += packet.length;
    if (this.dropPacket?.(seq)) {
      this.stats.packetsDropped++;
      return;
    }
    this.transmit(packet);
  }

  /** Answers a NACK from the remote. */
  onNack(sequenceNumbers: readonly number[]): void {
    this.stats.nacksReceived++;
    const now = this.clock.nowMs();
    for (const seq of sequenceNumbers) {
      const packet = this.history.take(seq, now, NACK_MAX_AGE_MS, NACK_MIN_RESEND_MS);
      if (!packet) continue;
      this.stats.packetsRetransmitted++;
      const rtx = this.config.rtx;
      if (!rtx) {
        this.transmit(packet);
        continue;
      }
      // RFC 4588 §4: same timestamp and marker, RTX SSRC and sequence, original seq in front.
      const out = this.rtxBuffer;
      const ts = ((packet[4] << 24) | (packet[5] << 16) | (packet[6] << 8) | packet[7]) >>> 0;
      writeRtpHeader(out, (packet[1] & 0x80) !== 0, rtx.payloadType, this.rtxSeq, ts, rtx.ssrc);
      this.rtxSeq = (this.rtxSeq + 1) & 0xffff;
      out[12] = packet[2];
      out[13] = packet[3];
      out.set(packet.subarray(RTP_HEADER_BYTES), 14);
      this.transmit(out.subarray(0, packet.length + 2));
    }
  }

  /** A sender report for "now" on the shared clock (null before the first packet). */
  senderReport(): Buffer | null {
    if (this.stats.packetsSent === 0) return null;
    const now = this.clock.nowMs();
    const rtp = (mediaTimestamp(now, this.config.clockRate) + this.timestampOffset) >>> 0;
    const ntp = ntpFromUnixMs(this.clock.wallMsAt(now));
    return buildSenderReport(
      this.config.ssrc,
      ntp,
      rtp,
      this.stats.packetsSent,
      this.payloadOctets,
      this.config.cname,
    );
  }

  /** A report block from the remote about this stream (in its RR or SR). */
  onReportBlock(block: ReportBlock): void {
    this.stats.fractionLost = block.fractionLost;
    this.stats.packetsLost = block.cumulativeLost;
    this.stats.jitterMs = (block.jitter / this.config.clockRate) * 1000;
    if (block.lastSr !== 0) {
      const now = ntpFromUnixMs(this.clock.wallMsAt(this.clock.nowMs()));
      const rtt = (ntpMiddle(now.msw, now.lsw) - block.lastSr - block.delaySinceLastSr) >>> 0;
      // Garbage from a clock jump shows as a huge unsigned value: keep the previous figure.
      if (rtt < 0x10000 * 10) this.stats.roundTripTimeMs = (rtt / 65536) * 1000;
    }
  }

  /** The last media timestamp sent (before the stream's offset). */
  get lastTimestamp(): number {
    return this.lastMediaTimestamp;
  }
}
