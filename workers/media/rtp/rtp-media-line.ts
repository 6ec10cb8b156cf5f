import type * as ndc from 'node-datachannel';
import type { Logger } from './log';
import type { RtpClock } from './clock';
import type { ReceivedFrame } from './frame-assembler';
import { H264Packetizer } from './h264-packetizer';
import { receives, sends, type LocalSsrcs } from './media-line';
import type { RtpPacketizer } from './payloads';
import { buildNack, buildPli, buildReceiverReport, buildRemb, parseRtcp, type ReportBlock } from './rtcp';
import { RtpReceiveStream } from './receive-stream';
import { emptyRtpHeader, isRtcp, parseRtpHeader } from './rtp-packet';
import { hasFeedback, type ChosenCodec, type MediaKind, type SdpDirection, type VideoCodecName } from './sdp';
import { RtpSendStream } from './send-stream';
import { Vp8Packetizer } from './vp8-rtp';

/** A byte-identical RTCP message this soon after the last is libdatachannel's repeat (isRepeatedRtcp). */
const RTCP_REPEAT_MS = 5;

export interface ReceivedVideoFrame extends ReceivedFrame {
  codec: VideoCodecName;
}

/** What a media line needs from its peer. */
export interface MediaLineContext {
  clock: RtpClock;
  cname: string;
  /** SSRC of our RTCP feedback on lines where we do not send. */
  feedbackSsrc: number;
  maxIncomingVideoBitrate: number;
  log: Logger;
  simulateVideoLoss: ((sequenceNumber: number) => boolean) | null;
  simulateIncomingVideoLoss: ((sequenceNumber: number) => boolean) | null;
  onVideoFrame(frame: ReceivedVideoFrame): void;
  onAudioPacket(frame: ReceivedFrame): void;
  /** The remote asked for a keyframe of what we send. */
  onKeyframeRequest(reason: 'pli' | 'fir'): void;
  /** Our receive stream cannot decode on without a keyframe (the peer throttles PLIs). */
  needKeyframe(): void;
}

/**
 * One negotiated m-line on its libdatachannel track: our send stream and/or receive stream,
 * the RTP/RTCP demultiplexing of what the track delivers, and the RTCP we send on it.
 */
export class RtpMediaLine {
  chosen: ChosenCodec | null = null;
  send: RtpSendStream | null = null;
  receive: RtpReceiveStream | null = null;
  packetizer: RtpPacketizer | null = null;
  private readonly header = emptyRtpHeader();
  /** The last RTCP message handled and when (see isRepeatedRtcp). */
  private lastRtcp: Buffer | null = null;
  private lastRtcpAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly kind: MediaKind,
    readonly mid: string,
    public direction: SdpDirection,
    readonly ssrcs: LocalSsrcs,
    readonly track: ndc.Track,
    private readonly ctx: MediaLineContext,
  ) {}

  /** Creates the send and receive streams for the negotiated codec and direction. */
  negotiate(chosen: ChosenCodec, direction: SdpDirection, remoteSsrcs: number[]): void {
    this.chosen = chosen;
    this.direction = direction;
    const video = this.kind === 'video';
    const rtx = chosen.rtxPayloadType;
    if (sends(direction)) {
      this.send = new RtpSendStream(
        {
          kind: this.kind,
          ssrc: this.ssrcs.media,
          payloadType: chosen.codec.payloadType,
          clockRate: chosen.codec.clockRate,
          cname: this.ctx.cname,
          rtx: video && rtx !== null ? { ssrc: this.ssrcs.rtx, payloadType: rtx } : null,
          // NACKs are answered for 1 s: 512 packets cover that up to ≈ 5 Mbit/s.
          historySize: video ? 512 : 64,
          vp8PictureIds: chosen.name === 'VP8',
        },
        (packet) => this.transmit(packet),
        this.ctx.clock,
        video ? this.ctx.simulateVideoLoss : null,
      );
      if (video) this.packetizer = chosen.name === 'H264' ? new H264Packetizer() : new Vp8Packetizer();
    }
    if (receives(direction)) {
      const codec: VideoCodecName = chosen.name === 'VP8' ? 'VP8' : 'H264';
      this.receive = new RtpReceiveStream(
        {
          codec: chosen.name,
          payloadType: chosen.codec.payloadType,
          rtxPayloadType: video ? rtx : null,
          clockRate: chosen.codec.clockRate,
          nack: video && hasFeedback(chosen.codec, 'nack'),
          maxWaitMs: video ? 150 : 60,
        },
        {
          onFrame: (frame) =>
            video ? this.ctx.onVideoFrame({ ...frame, codec }) : this.ctx.onAudioPacket(frame),
          sendNack: (ssrc, seqs) => this.transmit(buildNack(this.localSsrc, ssrc, seqs)),
          needKeyframe: () => this.ctx.needKeyframe(),
        },
        this.ctx.clock,
      );
    }
    this.ctx.log.debug('media line negotiated', {
      kind: this.kind,
      mid: this.mid,
      direction,
      codec: chosen.name,
      payloadType: chosen.codec.payloadType,
      rtx,
      remoteSsrcs,
    });
  }

  /** RTP or RTCP that libdatachannel delivered (decrypted) on this line's track. */
  onMessage(msg: Buffer): void {
    if (isRtcp(msg)) {
      if (!this.isRepeatedRtcp(msg)) this.onRtcp(msg);
      return;
    }
    const h = this.header;
    if (!this.receive || !parseRtpHeader(msg, h) || !this.receive.owns(h.payloadType)) return;
    const drop = this.ctx.simulateIncomingVideoLoss;
    if (
      drop &&
      this.kind === 'video' &&
      h.payloadType === this.receive.config.payloadType &&
      drop(h.sequenceNumber)
    )
      return;
    this.receive.push(msg, h);
  }

  /** Sends a PLI for the remote's video; false if there is nothing to ask it of yet. */
  sendPli(): boolean {
    const stream = this.receive;
    if (!stream || stream.ssrc === 0 || !this.track.isOpen()) return false;
    stream.stats.keyframeRequestsSent++;
    this.transmit(buildPli(this.localSsrc, stream.ssrc));
    return true;
  }

  /** Our periodic RTCP: SR for what we send; RR (and REMB for video) for what we receive. */
  sendReports(): void {
    if (!this.track.isOpen()) return;
    const sr = this.send?.senderReport();
    if (sr) this.transmit(sr);
    const block = this.receive?.reportBlock();
    if (!block) return;
    this.transmit(buildReceiverReport(this.localSsrc, [block]));
    if (this.kind === 'video')
      this.transmit(buildRemb(this.localSsrc, this.ctx.maxIncomingVideoBitrate, [block.ssrc]));
  }

  transmit(packet: Buffer): void {
    if (!this.track.isOpen()) return;
    try {
      this.track.sendMessageBinary(packet);
    } catch (err) {
      // The track closed between the check and the send (libdatachannel throws then).
      this.ctx.log.debug('RTP send failed', { err });
    }
  }

  private get localSsrc(): number {
    return this.send ? this.ssrcs.media : this.ctx.feedbackSsrc;
  }

  /**
   * libdatachannel hands a compound RTCP packet to a track once for every SSRC in it that maps to
   * the track (PeerConnection::dispatchMedia): on a line the remote also sends on, its NACK or PLI
   * names its own SSRC as sender and ours as media source, and arrives twice within a millisecond
   * (measured: every NACK and PLI of a sendrecv wrtc client, so the NACK rates the downlink
   * controller judged and the NACKs that ended a padding probe were counted double). A copy of
   * the message just handled, within RTCP_REPEAT_MS, is that; the remote's next compound differs
   * (its reports' sequence numbers, jitter and delay since our last SR move).
   */
  private isRepeatedRtcp(msg: Buffer): boolean {
    const now = this.ctx.clock.nowMs();
    const repeated =
      this.lastRtcp !== null && now - this.lastRtcpAt < RTCP_REPEAT_MS && msg.equals(this.lastRtcp);
    this.lastRtcp = msg;
    this.lastRtcpAt = now;
    return repeated;
  }

  /** RTCP from the remote, filtered to the SSRCs of this line (a compound may name several). */
  private onRtcp(msg: Buffer): void {
    const send = this.send;
    const mediaSsrc = this.ssrcs.media;
    const rtxSsrc = send?.config.rtx?.ssrc ?? null;
    const onBlocks = (reports: ReportBlock[]) => {
      for (const r of reports) {
        if (send && r.ssrc === mediaSsrc) send.onReportBlock(r);
        else if (send && r.ssrc === rtxSsrc) send.onRtxReportBlock(r);
      }
    };
    for (const p of parseRtcp(msg)) {
      switch (p.type) {
        case 'sr':
          if (this.receive && p.ssrc === this.receive.ssrc)
            this.receive.onSenderReport(p.ntpMsw, p.ntpLsw, p.rtpTimestamp);
          onBlocks(p.reports);
          break;
        case 'rr':
          onBlocks(p.reports);
          break;
        case 'nack':
          if (send && p.mediaSsrc === mediaSsrc) send.onNack(p.sequenceNumbers);
          break;
        case 'pli':
          if (send && this.kind === 'video' && p.mediaSsrc === mediaSsrc) this.ctx.onKeyframeRequest('pli');
          break;
        case 'fir':
          if (send && this.kind === 'video' && p.mediaSsrcs.includes(mediaSsrc))
            this.ctx.onKeyframeRequest('fir');
          break;
        case 'remb':
          // The remote's estimator names the streams it saw in its last ~2 s: while a downlink
          // is served `audio` and a padding probe runs, that is our RTX stream alone (measured:
          // the REMB of a floor probe was dropped here, the estimate stood still and every probe
          // to `low` "passed" blind on a 150 kbit/s link).
          if (send && (p.ssrcs.includes(mediaSsrc) || (rtxSsrc !== null && p.ssrcs.includes(rtxSsrc))))
            send.onRemb(p.bitrate);
          break;
        default:
          break;
      }
    }
  }
}
