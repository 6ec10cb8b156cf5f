import type { DownlinkSample } from './downlink-controller';

/**
 * The fields of libwebrtc's stats (as @roamhq/wrtc reports them) the downlink controller reads;
 * everything optional, because which ones a report carries depends on the connection's stage.
 */
export interface RawStat {
  id: string;
  type: string;
  timestamp?: number;
  kind?: string;
  mediaType?: string;
  /** candidate-pair */
  state?: string;
  nominated?: boolean;
  availableOutgoingBitrate?: number;
  /** transport */
  selectedCandidatePairId?: string;
  /** outbound-rtp */
  bytesSent?: number;
  headerBytesSent?: number;
  nackCount?: number;
  framesSent?: number;
  pliCount?: number;
  qualityLimitationReason?: string;
  /** Ours (RTP-level members): padding probes the sender stopped when media sent during them was lost. */
  paddingProbesAborted?: number;
  /** Ours: a padding probe whose own reports have not yet covered its full rate (RtpSendStream). */
  paddingProbePending?: boolean;
  /** inbound-rtp (the participant's uplink, uplink-monitor.ts) */
  bytesReceived?: number;
  headerBytesReceived?: number;
  packetsReceived?: number;
  packetsLost?: number;
  framesDecoded?: number;
  /** inbound-rtp, for lip sync (av-sync.ts) */
  jitterBufferDelay?: number;
  jitterBufferEmittedCount?: number;
  totalDecodeTime?: number;
  frameWidth?: number;
  frameHeight?: number;
  /** remote-inbound-rtp */
  fractionLost?: number;
  /**
   * Ours (RTP-level members), remote-inbound-rtp: the extended highest sequence number of the
   * client's last report; with its cumulative packetsLost, loss over any span of reports.
   */
  extendedHighestSequence?: number;
  roundTripTime?: number;
}

/**
 * Video loss is judged over this many windows of the client's cumulative counts when it reports
 * them (RTP-level members). One report's fraction covers only the packets since the report
 * before, and libwebrtc sends one with every NACK: measured on a link with 5 % random loss,
 * `low`'s reports read 16, 20, 25 and 50 % lost (a handful of packets each), and four such
 * windows in a row stepped a wide link down to `audio`. Over 3 s a `standard` stream counts
 * ~190 packets, `low` ~55.
 */
const LOSS_SPAN_WINDOWS = 3;

interface Counters {
  at: number;
  bytes: number;
  nacks: number;
  plis: number;
  frames: number;
  probesAborted: number;
}

/**
 * Turns successive getStats reports of one peer connection into DownlinkSamples (rates over the
 * time between two reports). The first report only sets the base: it returns null.
 */
export class DownlinkStatsReader {
  private prev: Counters | null = null;
  /** The video report's cumulative lost and highest sequence at each of the last windows (oldest first). */
  private readonly lossSpan: { lost: number; seq: number }[] = [];
  /** Reused: one sample per window, read by the controller before the next one is made. */
  private readonly sample: DownlinkSample = {
    estimateKbps: null,
    sentKbps: 0,
    fractionLost: null,
    videoFractionLost: null,
    rttMs: null,
    nackPerSec: 0,
    pliPerSec: 0,
    bandwidthLimited: false,
    sentFps: 0,
    expectedFps: null,
    probeAborted: false,
    probePending: false,
  };

  /** `stats`: every entry of one report; `now`: when it was taken (ms). */
  read(stats: Iterable<RawStat>, now: number): DownlinkSample | null {
    let selectedId: string | undefined;
    let nominatedEstimate: number | null = null;
    const pairEstimates = new Map<string, number>();
    let bytes = 0;
    let nacks = 0;
    let plis = 0;
    let frames = 0;
    let probesAborted = 0;
    let probePending = false;
    let lost: number | null = null;
    let videoLost: number | null = null;
    let videoCounts: { lost: number; seq: number } | null = null;
    let rtt: number | null = null;
    let limited = false;
    for (const s of stats) {
      switch (s.type) {
        case 'transport':
          selectedId ??= s.selectedCandidatePairId;
          break;
        case 'candidate-pair':
          if (typeof s.availableOutgoingBitrate === 'number') {
            pairEstimates.set(s.id, s.availableOutgoingBitrate);
            if (s.nominated && s.state === 'succeeded') nominatedEstimate = s.availableOutgoingBitrate;
          }
          break;
        case 'outbound-rtp':
          bytes += (s.bytesSent ?? 0) + (s.headerBytesSent ?? 0);
          nacks += s.nackCount ?? 0;
          plis += s.pliCount ?? 0;
          probesAborted += s.paddingProbesAborted ?? 0;
          if (s.paddingProbePending === true) probePending = true;
          if ((s.kind ?? s.mediaType) === 'video') {
            frames += s.framesSent ?? 0;
            if (s.qualityLimitationReason === 'bandwidth') limited = true;
          }
          break;
        case 'remote-inbound-rtp': {
          const video = (s.kind ?? s.mediaType) === 'video';
          if (typeof s.fractionLost === 'number') {
            lost = Math.max(lost ?? 0, s.fractionLost);
            if (video) videoLost = Math.max(videoLost ?? 0, s.fractionLost);
          }
          if (video && typeof s.extendedHighestSequence === 'number' && typeof s.packetsLost === 'number')
            videoCounts = { lost: s.packetsLost, seq: s.extendedHighestSequence };
          if (typeof s.roundTripTime === 'number') rtt = Math.max(rtt ?? 0, s.roundTripTime * 1000);
          break;
        }
      }
    }
    const estimate =
      (selectedId !== undefined ? pairEstimates.get(selectedId) : undefined) ?? nominatedEstimate;
    const videoSpanLost = this.spanLoss(videoCounts);
    const prev = this.prev;
    this.prev = { at: now, bytes, nacks, plis, frames, probesAborted };
    if (!prev || now <= prev.at) return null;
    const seconds = (now - prev.at) / 1000;
    const out = this.sample;
    out.estimateKbps = estimate === null ? null : estimate / 1000;
    // Counters restart when a sender's stream is replaced: a negative difference is no rate.
    out.sentKbps = Math.max(0, (bytes - prev.bytes) * 8) / 1000 / seconds;
    out.nackPerSec = Math.max(0, nacks - prev.nacks) / seconds;
    out.pliPerSec = Math.max(0, plis - prev.plis) / seconds;
    out.sentFps = Math.max(0, frames - prev.frames) / seconds;
    out.expectedFps = null; // the room's to say (DownlinkAdaptation)
    out.fractionLost = lost;
    out.videoFractionLost = videoSpanLost ?? videoLost;
    out.rttMs = rtt;
    out.bandwidthLimited = limited;
    out.probeAborted = probesAborted > prev.probesAborted;
    out.probePending = probePending;
    return out;
  }

  /**
   * Lost over expected across the last LOSS_SPAN_WINDOWS windows of cumulative counts (null: no
   * counts, or no packet reported in the span). Counts that go back (a new stream, a restarted
   * receiver) start the span again.
   */
  private spanLoss(counts: { lost: number; seq: number } | null): number | null {
    const span = this.lossSpan;
    if (counts === null) {
      span.length = 0;
      return null;
    }
    const last = span[span.length - 1];
    if (last !== undefined && counts.seq < last.seq) span.length = 0;
    span.push(counts);
    if (span.length > LOSS_SPAN_WINDOWS + 1) span.shift();
    const first = span[0];
    const expected = counts.seq - first.seq;
    if (expected <= 0) return null;
    return Math.min(1, Math.max(0, (counts.lost - first.lost) / expected));
  }
}
