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
  /**
   * VP8 payloads (our descriptor: X, I, 15-bit picture ID): number their picture IDs per stream,
   * one per frame sent, whatever encoder the frame came from (see sendPayloads).
   */
  vp8PictureIds?: boolean;
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
  /** The extended highest sequence number the remote's last report says it received. */
  highestSequence: number;
  jitterMs: number;
  roundTripTimeMs: number;
  /** Last REMB from the remote covering this stream, bits per second (0: none yet). */
  rembBitrate: number;
  /** Padding (bandwidth probes) sent on the RTX stream: packets and bytes (headers included). */
  paddingPacketsSent: number;
  paddingBytesSent: number;
  /** Probes stopped early because the remote NACKed media sent during them (see startPadding). */
  paddingProbesAborted: number;
  /** The remote's report on our RTX stream (retransmissions and padding): cumulative lost, extended highest sequence. */
  rtxPacketsLost: number;
  rtxHighestSequence: number;
  /**
   * A probe whose padding the remote reports on but has not yet reported past its full rate
   * (onRtxReportBlock): not yet judged by its own loss.
   */
  paddingProbePending: boolean;
  /** NACKed packets not resent because retransmissions were at their share of the rate. */
  retransmissionsLimited: number;
}

/** How long a packet stays retransmittable, and how soon the same packet may be resent. */
const NACK_MAX_AGE_MS = 1000;
const NACK_MIN_RESEND_MS = 20;
/**
 * Retransmissions may use this share of the media bytes sent, with a bucket of this many bytes
 * for a burst (a lost keyframe). Unbounded, they fed the loss that caused them: after a link's
 * queue overflowed (a failed bandwidth probe, a step down from a stream the link could not
 * carry), the client NACKed the same ~10 packets every ~100 ms, each answer was lost in the same
 * queue, and the ~800 kbit/s of answers on a 300 kbit/s link kept it overflowing until the
 * packets aged out of the history (1 s) and the client waited 3 s for a keyframe (measured:
 * 3.2 s freezes). libwebrtc bounds its retransmissions by a rate too (and by a pacer).
 */
const RETRANSMIT_SHARE = 0.5;
const RETRANSMIT_BURST_BYTES = 24_000;
/** A padding-only packet: 12-byte header and 255 octets of padding (RFC 3550 §5.1: at most 255). */
const PADDING_OCTETS = 255;
const PADDING_PACKET_BYTES = RTP_HEADER_BYTES + PADDING_OCTETS;
/**
 * Media packets sent during a probe that the remote NACKs before the probe is stopped: a link
 * that cannot carry the probe's rate drops from its queue within a round trip, and a few lost
 * packets are enough to say so (on the `low` stream at ~25 packets a second, 1 % random loss
 * loses one every few seconds). The probe's cost is then a few hundred ms of loss, recovered by
 * retransmission, instead of a whole stream sent into a link that cannot carry it. (It was 4
 * while every NACK of a sendrecv client arrived twice, RtpMediaLine.isRepeatedRtcp: the same two.)
 */
const PROBE_ABORT_LOST_PACKETS = 2;
/**
 * A REMB this far below the highest the remote sent since a probe started stops the probe: on a
 * link that carries the probe the remote's estimate only rises (more arrives), while its delay
 * detector sees the link's queue grow before the queue overflows and answers at once with 0.85×
 * what arrives. Measured on 300 kbit/s (shared-300, a REMB log): the REMB fell 9-20 % about 1 s
 * into each failed probe, the client's first NACKs of probe-era media came ~0.5 s later (a
 * freeze of ~0.5-0.75 s when the probe ran on to them); in every probe on the freed link it rose
 * in steps of 1-4 % with no fall. libwebrtc sends a fall of 3 % or more at once.
 */
const PROBE_ABORT_REMB_FALL = 0.95;
/**
 * The padding's own loss that stops a probe (onRtxReportBlock): at least this many packets and
 * this share of those the remote's last report covers, or of all it reported on in the probe. A
 * link the probe overfills drops from its tail what exceeds it (measured at 150 kbit/s, probing
 * `low` from `audio`: 27 and 33 % in the last two reports, 7 % over the probe); random loss of a
 * few percent (a lossy but wide link) rarely loses 3 of the 10-30 packets between two reports.
 */
const PROBE_ABORT_RTX_LOST_PACKETS = 3;
const PROBE_ABORT_RTX_LOSS = 0.08;
/**
 * A probe is judged by its padding's reports only once they cover this long at full rate: the
 * ramp's end alone fits in a link's queue (measured at 150 kbit/s, a probe for `low` from `audio`:
 * the first loss was reported ~1 s after the full rate began, 0.5 s before the probe's step).
 */
const PROBE_FULL_RATE_MS = 1000;
/** Budget carried from one padding tick to the next at most (a late tick does not burst). */
const PADDING_MAX_BURST_MS = 40;

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
  /** The picture ID the frame being sent gets (vp8PictureIds); -1 while sending none. */
  private framePictureId = -1;
  private nextPictureId = random32() & 0x7fff;
  /** Padding: target rate (bytes per ms; 0: not padding), end, budget, when it started. */
  private padBytesPerMs = 0;
  private padUntil = 0;
  private padBudget = 0;
  private padLastAt = 0;
  private padStartedAt = 0;
  private padRampMs = 0;
  private probeLostPackets = 0;
  /** The highest REMB since the probe started (bits per second; 0: none yet). */
  private probeRembPeak = 0;
  /** The remote's first report on the RTX stream since the probe started (null: none yet). */
  private probeRtxLostBase: number | null = null;
  private probeRtxSequenceBase = 0;
  /** Its last report on the RTX stream in the probe: cumulative lost and extended highest sequence. */
  private probeRtxLostLast = 0;
  private probeRtxSequenceLast = 0;
  /** Our RTX sequence number once the padding held its full rate PROBE_FULL_RATE_MS (null: not yet). */
  private probeFullRateSequence: number | null = null;
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
    highestSequence: 0,
    jitterMs: 0,
    roundTripTimeMs: 0,
    rembBitrate: 0,
    paddingPacketsSent: 0,
    paddingBytesSent: 0,
    paddingProbesAborted: 0,
    rtxPacketsLost: 0,
    rtxHighestSequence: 0,
    paddingProbePending: false,
    retransmissionsLimited: 0,
  };
  /**
   * When the last keyframe was sent: packets from before it are not retransmitted. The receiver
   * decodes on from the keyframe (and stops asking for older packets once it has it); until then
   * answering for the frames before it only competes with the keyframe's own packets (measured
   * after a step down: the old stream's packets, NACKed oldest first, went ahead of the new
   * stream's keyframe on a link that could carry neither).
   */
  private keyframeSentAt = Number.NEGATIVE_INFINITY;
  /** Bytes retransmissions may still use (RETRANSMIT_SHARE); may go one packet below 0. */
  private retransmitTokens = RETRANSMIT_BURST_BYTES;

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
    if (keyframe) this.keyframeSentAt = now;
    // A receiver switched between the profiles' shared encoders (each numbers its own frames)
    // would see the picture ID jump at the switch, backwards half of the time; libwebrtc takes
    // a keyframe with an older ID only under its legacy jump rule and drops delta frames older
    // than the last it decoded (measured before: a 3.2 s freeze after 2 of 6 switches down,
    // until the client's own keyframe request; none in 6 after). Numbered per stream, as an
    // SFU rewrites them at a simulcast switch, the IDs run on by one per frame.
    if (this.config.vp8PictureIds) {
      this.framePictureId = this.nextPictureId;
      this.nextPictureId = (this.nextPictureId + 1) & 0x7fff;
    }
    for (let i = 0; i < payloads.count; i++) {
      const payload = payloads.payload(i);
      const marker = this.config.kind === 'video' && i === payloads.count - 1;
      this.sendOne(payload, marker, ts, now);
    }
    this.framePictureId = -1;
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
    const pid = this.framePictureId;
    // Our descriptor: X, then I, then M with a 15-bit picture ID (vp8-rtp.ts).
    if (pid >= 0 && payload.length >= 4 && payload[0] & 0x80 && payload[1] & 0x80 && payload[2] & 0x80) {
      slot[RTP_HEADER_BYTES + 2] = 0x80 | (pid >> 8);
      slot[RTP_HEADER_BYTES + 3] = pid & 0xff;
    }
    const packet = this.history.commit(seq, RTP_HEADER_BYTES + payload.length, now);
    this.payloadOctets += payload.length;
    this.retransmitTokens = Math.min(
      RETRANSMIT_BURST_BYTES,
      this.retransmitTokens + RETRANSMIT_SHARE * packet.length,
    );
    this.stats.packetsSent++;
    this.stats.bytesSent += packet.length;
    if (this.dropPacket?.(seq)) {
      this.stats.packetsDropped++;
      return;
    }
    this.transmit(packet);
  }

  /**
   * A bandwidth probe: padding-only packets on the RTX stream at `kbps` on top of the media, for
   * up to `maxMs` (sent by padTick). The remote's bandwidth estimator counts them like media
   * (libwebrtc feeds every arriving packet to it, then drops an RTX packet with no payload), so a
   * link that carries the rate lets its REMB rise, and one that cannot first makes the REMB fall
   * (PROBE_ABORT_REMB_FALL), then drops media from its queue and the NACKs stop the probe at once
   * (PROBE_ABORT_LOST_PACKETS). With `rampMs` the rate rises linearly from 0 to `kbps` over that
   * time: a link with less headroom than the probe
   * then starts to queue, and to drop, a little at a time, and the probe stops at its first
   * losses instead of after a full-rate burst has overflowed the queue (measured on 300 kbit/s:
   * one failed full-rate probe froze the served stream 3.2 s). The remote's reports on the RTX
   * stream tell the padding's own loss (onRtxReportBlock): they stop a probe that overfills the
   * link, and keep it pending until they cover its full rate. Without a negotiated RTX stream
   * there is nowhere to put padding that the remote ignores: returns false.
   */
  startPadding(kbps: number, maxMs: number, rampMs = 0): boolean {
    if (!this.config.rtx || kbps <= 0) return false;
    const now = this.clock.nowMs();
    this.padBytesPerMs = kbps / 8;
    this.padRampMs = rampMs;
    this.padUntil = now + maxMs;
    this.padBudget = 0;
    this.padLastAt = now;
    this.padStartedAt = now;
    this.probeLostPackets = 0;
    this.probeRembPeak = this.stats.rembBitrate;
    this.probeRtxLostBase = null;
    this.probeFullRateSequence = null;
    this.stats.paddingProbePending = false;
    return true;
  }

  stopPadding(): void {
    this.padBytesPerMs = 0;
    this.stats.paddingProbePending = false;
  }

  get padding(): boolean {
    return this.padBytesPerMs > 0;
  }

  /** Sends the padding due since the last call (the RTP stack's 20 ms ticker). */
  padTick(): void {
    const rtx = this.config.rtx;
    if (this.padBytesPerMs === 0 || !rtx) return;
    const now = this.clock.nowMs();
    if (now >= this.padUntil) {
      this.stopPadding();
      return;
    }
    const elapsed = Math.min(now - this.padLastAt, PADDING_MAX_BURST_MS);
    this.padLastAt = now;
    const ramp = this.padRampMs > 0 ? Math.min(1, (now - this.padStartedAt) / this.padRampMs) : 1;
    if (this.probeFullRateSequence === null && now - this.padStartedAt >= this.padRampMs + PROBE_FULL_RATE_MS)
      this.probeFullRateSequence = this.rtxSeq;
    this.padBudget += elapsed * this.padBytesPerMs * ramp;
    if (this.padBudget < PADDING_PACKET_BYTES) return;
    // Send time as the timestamp (as libwebrtc's padding does): the remote's estimator, without
    // an abs-send-time extension, reads the sender's clock from it.
    const ts = (mediaTimestamp(now, this.config.clockRate) + this.timestampOffset) >>> 0;
    const out = this.rtxBuffer;
    out.fill(0, RTP_HEADER_BYTES, PADDING_PACKET_BYTES - 1);
    out[PADDING_PACKET_BYTES - 1] = PADDING_OCTETS;
    while (this.padBudget >= PADDING_PACKET_BYTES) {
      this.padBudget -= PADDING_PACKET_BYTES;
      writeRtpHeader(out, false, rtx.payloadType, this.rtxSeq, ts, rtx.ssrc);
      out[0] |= 0x20; // P: the packet ends in padding, its last octet the count
      this.rtxSeq = (this.rtxSeq + 1) & 0xffff;
      this.stats.paddingPacketsSent++;
      this.stats.paddingBytesSent += PADDING_PACKET_BYTES;
      this.transmit(out.subarray(0, PADDING_PACKET_BYTES));
    }
  }

  /** Answers a NACK from the remote. */
  onNack(sequenceNumbers: readonly number[]): void {
    this.stats.nacksReceived++;
    const now = this.clock.nowMs();
    if (this.padBytesPerMs > 0) this.judgeProbe(sequenceNumbers);
    // The client repeats a NACK about once per round trip until the packet comes: one answer per
    // round trip is enough (as libwebrtc's sender does).
    const minResendMs = Math.max(NACK_MIN_RESEND_MS, this.stats.roundTripTimeMs);
    for (const seq of sequenceNumbers) {
      if (this.retransmitTokens <= 0) {
        this.stats.retransmissionsLimited++;
        continue;
      }
      const packet = this.history.take(seq, now, NACK_MAX_AGE_MS, minResendMs, this.keyframeSentAt);
      if (!packet) continue;
      this.retransmitTokens -= packet.length;
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

  /** A REMB (receiver estimated maximum bitrate, bits per second) from the remote for this stream. */
  onRemb(bitrate: number): void {
    this.stats.rembBitrate = bitrate;
    if (this.padBytesPerMs === 0) return;
    if (bitrate >= this.probeRembPeak) {
      this.probeRembPeak = bitrate;
      return;
    }
    if (bitrate < PROBE_ABORT_REMB_FALL * this.probeRembPeak) this.abortProbe();
  }

  /** Media sent since the probe started and lost on the way stops the probe (see startPadding). */
  private judgeProbe(sequenceNumbers: readonly number[]): void {
    for (const seq of sequenceNumbers) {
      const sentAt = this.history.sentAtOf(seq);
      if (sentAt !== null && sentAt >= this.padStartedAt) this.probeLostPackets++;
    }
    if (this.probeLostPackets >= PROBE_ABORT_LOST_PACKETS) this.abortProbe();
  }

  private abortProbe(): void {
    this.stopPadding();
    this.stats.paddingProbesAborted++;
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
    this.stats.highestSequence = block.highestSequence;
    this.stats.jitterMs = (block.jitter / this.config.clockRate) * 1000;
    if (block.lastSr !== 0) {
      const now = ntpFromUnixMs(this.clock.wallMsAt(this.clock.nowMs()));
      const rtt = (ntpMiddle(now.msw, now.lsw) - block.lastSr - block.delaySinceLastSr) >>> 0;
      // Garbage from a clock jump shows as a huge unsigned value: keep the previous figure.
      if (rtt < 0x10000 * 10) this.stats.roundTripTimeMs = (rtt / 65536) * 1000;
    }
  }

  /**
   * A report block from the remote about our RTX stream. libwebrtc keeps receive statistics for
   * an RTX stream (padding included) and reports on it about once a second like any stream: the
   * padding's own loss. It is the only word on a probe while no media is sent (a downlink served
   * `audio` probing `low`: no media to NACK, and the REMB of a receiver that saw its link
   * collapse stays far below what arrives for tens of seconds).
   */
  onRtxReportBlock(block: ReportBlock): void {
    this.stats.rtxPacketsLost = block.cumulativeLost;
    this.stats.rtxHighestSequence = block.highestSequence;
    if (this.padBytesPerMs === 0) return;
    if (this.probeRtxLostBase === null) {
      // The first report since the probe started covers the ramp's start: the base to count from.
      this.probeRtxLostBase = this.probeRtxLostLast = block.cumulativeLost;
      this.probeRtxSequenceBase = this.probeRtxSequenceLast = block.highestSequence;
      this.stats.paddingProbePending = true;
      return;
    }
    // Over the probe so far, and since the remote's previous report: a link that fills only at
    // the ramp's end loses a third of what the last reports cover and a few percent of the whole.
    const overLast = this.rtxLossFails(block, this.probeRtxLostLast, this.probeRtxSequenceLast);
    const overAll = this.rtxLossFails(block, this.probeRtxLostBase, this.probeRtxSequenceBase);
    this.probeRtxLostLast = block.cumulativeLost;
    this.probeRtxSequenceLast = block.highestSequence;
    if (overLast || overAll) {
      this.abortProbe();
      return;
    }
    // Reported past the padding sent at full rate: the link carried the whole probe.
    const past = this.probeFullRateSequence;
    if (past !== null && (((block.highestSequence & 0xffff) - past) << 16) >> 16 >= 0)
      this.stats.paddingProbePending = false;
  }

  private rtxLossFails(block: ReportBlock, lostBefore: number, sequenceBefore: number): boolean {
    const span = block.highestSequence - sequenceBefore;
    const lost = block.cumulativeLost - lostBefore;
    return span > 0 && lost >= PROBE_ABORT_RTX_LOST_PACKETS && lost >= PROBE_ABORT_RTX_LOSS * span;
  }

  /** The last media timestamp sent (before the stream's offset). */
  get lastTimestamp(): number {
    return this.lastMediaTimestamp;
  }
}
