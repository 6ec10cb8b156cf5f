import { EventEmitter } from 'node:events';
import * as ndc from 'node-datachannel';
import { Logger } from './log';
import { systemRtpClock, type RtpClock } from './clock';
import {
  answerDescription,
  declinedDescription,
  newLocalSsrcs,
  offerDescription,
  receives,
  sends,
} from './media-line';
import type { PayloadList } from './payloads';
import { random32 } from './rtp-packet';
import { RtpMediaLine, type MediaLineContext, type ReceivedVideoFrame } from './rtp-media-line';
import {
  answerDirection,
  chooseAudioCodec,
  chooseVideoCodec,
  parseSdp,
  UnsupportedOfferError,
  type ChosenCodec,
  type MediaKind,
  type SdpDirection,
  type SdpMedia,
  type VideoCodecName,
} from './sdp';
import {
  CONNECTION_STATES,
  type RtpConnectionState,
  type RtpPeerEvents,
  type RtpPeerOptions,
  type RtpPeerStats,
} from './rtp-peer-types';
import { registerPeer, unregisterPeer, type Tickable } from './stack';

export type { ReceivedVideoFrame };
export type {
  KeyframeRequest,
  RtpConnectionState,
  RtpPeerEvents,
  RtpPeerOptions,
  RtpPeerStats,
} from './rtp-peer-types';

const RTCP_INTERVAL_MS = 1000;

/**
 * One remote endpoint over an RTP-level WebRTC stack (libdatachannel: ICE, DTLS-SRTP, BUNDLE);
 * RTP, RTCP and the codec payload formats are ours (this folder). One audio and one video m-line
 * at most, each H.264 (constrained baseline, packetization-mode 1) or VP8 / Opus.
 */
export class RtpPeer extends EventEmitter<RtpPeerEvents> implements Tickable {
  private readonly pc: ndc.PeerConnection;
  private readonly log: Logger;
  private readonly clock: RtpClock;
  private readonly cname: string;
  private readonly streamId = `mcu-${random32().toString(16)}`;
  /** SSRC of our RTCP feedback when we do not send on a line. */
  private readonly feedbackSsrc = random32();
  private readonly lines: RtpMediaLine[] = [];
  /** node-datachannel drops a Track's callbacks once its JS object is collected: held here. */
  private readonly tracks: ndc.Track[] = [];
  private readonly context: MediaLineContext;
  private state: RtpConnectionState = 'new';
  private remoteSet = false;
  private readonly pendingRemoteCandidates: Array<[string, string]> = [];
  private localHandedOut = false;
  private readonly pendingLocalCandidates: Array<{ candidate: string; mid: string }> = [];
  private gatheringDone = false;
  private lastRtcpAt = 0;
  private lastKeyframeRequestAt = -Infinity;
  private lastStartRequestAt = -Infinity;
  private videoNeedsKeyframe = true;
  private closed = false;

  constructor(private readonly options: RtpPeerOptions) {
    super();
    this.log = (options.logger ?? new Logger('rtp-peer')).child({ rtpPeer: options.id });
    this.clock = options.clock ?? systemRtpClock;
    this.cname = options.cname ?? `mcu-${options.id}`;
    this.pc = new ndc.PeerConnection(options.id, {
      iceServers: options.iceServers ?? [],
      bindAddress: options.bindAddress,
      portRangeBegin: options.portRange?.min,
      portRangeEnd: options.portRange?.max,
      enableIceUdpMux: options.iceUdpMux ?? false,
      disableAutoNegotiation: true,
    });
    this.pc.onLocalCandidate((candidate, mid) => this.localCandidate(candidate, mid));
    this.pc.onGatheringStateChange((s) => {
      if (s !== 'complete') return;
      this.gatheringDone = true;
      if (this.localHandedOut) this.emit('gathering-complete');
    });
    this.pc.onStateChange((s) => {
      const state = CONNECTION_STATES.find((known) => known === s);
      if (state) this.setState(state);
    });
    this.context = {
      clock: this.clock,
      cname: this.cname,
      feedbackSsrc: this.feedbackSsrc,
      maxIncomingVideoBitrate: options.maxIncomingVideoBitrate ?? 2_000_000,
      log: this.log,
      simulateVideoLoss: options.simulateVideoLoss ?? null,
      simulateIncomingVideoLoss: options.simulateIncomingVideoLoss ?? null,
      onVideoFrame: (f) => this.emit('video-frame', f),
      onAudioPacket: (f) => this.emit('audio-packet', f),
      onKeyframeRequest: (reason) => this.emit('keyframe-request', { reason }),
      needKeyframe: () => this.requestKeyframe(),
    };
    registerPeer(this);
  }

  get connectionState(): RtpConnectionState {
    return this.state;
  }

  /** The negotiated video codec (what we send and what we expect to receive). */
  get videoCodec(): VideoCodecName | null {
    const v = this.line('video');
    return v?.chosen && v.chosen.name !== 'opus' ? v.chosen.name : null;
  }

  /**
   * Answers a remote offer (a browser's, OBS's WHIP offer...). Each audio/video m-line gets the
   * best codec we support, or is declined; throws UnsupportedOfferError if nothing is left.
   * With `waitForCandidates` the answer carries every local candidate (non-trickle peers).
   */
  async acceptOffer(offer: string, opts: { waitForCandidates?: boolean } = {}): Promise<string> {
    const remote = parseSdp(offer);
    const send = this.options.send ?? true;
    const receive = this.options.receive ?? true;
    let usable = 0;
    for (const m of remote) {
      if (m.kind !== 'audio' && m.kind !== 'video') continue;
      const kind: MediaKind = m.kind;
      const chosen = m.port === 0 || this.line(kind) ? null : this.choose(kind, m);
      const direction = chosen ? answerDirection(m.direction, send, receive) : 'inactive';
      if (!chosen || direction === 'inactive') {
        const first = m.codecs.find((c) => c.name !== '') ?? m.codecs[0];
        if (first)
          this.keep(
            this.pc.addTrack(
              declinedDescription(kind, m.mid, first.payloadType, first.name, first.clockRate),
            ),
          );
        continue;
      }
      usable++;
      const ssrcs = newLocalSsrcs();
      const track = this.pc.addTrack(
        answerDescription(kind, m.mid, direction, chosen, ssrcs, this.cname, this.streamId),
      );
      this.addLine(kind, m.mid, direction, ssrcs, track).negotiate(chosen, direction, m.ssrcs);
    }
    if (usable === 0)
      throw new UnsupportedOfferError('no audio or video m-line with a codec the server supports');
    this.setRemote(offer, 'offer');
    this.pc.setLocalDescription('answer');
    return this.handOutLocal(opts.waitForCandidates ?? false);
  }

  /**
   * Writes an offer (the server calls a receive-only or send-only client): `audio`/`video` say
   * what we do on each m-line; video lists `videoCodecs` (default H.264 then VP8).
   */
  async createOffer(opts: {
    audio?: SdpDirection;
    video?: SdpDirection;
    waitForCandidates?: boolean;
  }): Promise<string> {
    const codecs = this.options.videoCodecs ?? ['H264', 'VP8'];
    for (const kind of ['audio', 'video'] as const) {
      const direction = opts[kind];
      if (!direction || direction === 'inactive') continue;
      const ssrcs = newLocalSsrcs();
      const track = this.pc.addTrack(
        offerDescription(kind, kind, direction, codecs, ssrcs, this.cname, this.streamId),
      );
      this.addLine(kind, kind, direction, ssrcs, track);
    }
    this.pc.setLocalDescription('offer');
    return this.handOutLocal(opts.waitForCandidates ?? false);
  }

  /** Takes the remote answer to our offer: the first codec it kept on each m-line is used. */
  acceptAnswer(answer: string): void {
    const remote = parseSdp(answer);
    for (const line of this.lines) {
      const m = remote.find((r) => r.mid === line.mid);
      if (!m || m.port === 0) continue;
      // The answerer's order decides (it sends its first codec; we may send any it kept).
      const chosen = line.kind === 'video' ? chooseVideoCodec(m, null) : chooseAudioCodec(m);
      if (!chosen) continue;
      // Our direction is what we offered, narrowed by what the remote answered.
      line.negotiate(
        chosen,
        answerDirection(m.direction, sends(line.direction), receives(line.direction)),
        m.ssrcs,
      );
    }
    this.setRemote(answer, 'answer');
  }

  /** A remote ICE candidate (`candidate:...` with or without `a=`); queued until the remote SDP. */
  addRemoteCandidate(candidate: string, mid: string): void {
    if (this.closed || candidate.trim() === '') return;
    const c = candidate.startsWith('a=') ? candidate : `a=${candidate}`;
    if (!this.remoteSet) {
      this.pendingRemoteCandidates.push([c, mid]);
      return;
    }
    this.applyCandidate(c, mid, 0);
  }

  /**
   * Sends one encoded video frame (H.264: an Annex-B access unit; VP8: a frame) with its media
   * timestamp (`mediaTimestamp(clockMs, 90000)`). Delta frames are held back until the first
   * keyframe after the connection opens (a 'keyframe-request' with reason 'start' says so).
   */
  sendVideoFrame(frame: Uint8Array, timestamp: number, keyframe: boolean): boolean {
    const line = this.line('video');
    if (!line?.send || !line.packetizer) return false;
    if (!this.readyToSend(line, keyframe)) return false;
    line.send.sendPayloads(line.packetizer.packetize(frame), timestamp, keyframe);
    return true;
  }

  /** As sendVideoFrame, for payloads packetized once for many peers (encode once, fan out). */
  sendVideoPayloads(payloads: PayloadList, timestamp: number, keyframe: boolean): boolean {
    const line = this.line('video');
    if (!line?.send || !this.readyToSend(line, keyframe)) return false;
    line.send.sendPayloads(payloads, timestamp, keyframe);
    return true;
  }

  /** Sends one Opus packet with its media timestamp (`mediaTimestamp(clockMs, 48000)`). */
  sendAudio(packet: Uint8Array, timestamp: number): boolean {
    const line = this.line('audio');
    if (!line?.send || !line.track.isOpen()) return false;
    line.send.sendPayload(packet, timestamp);
    return true;
  }

  /**
   * A bandwidth probe on the video line: padding at `kbps` on top of what is sent, for up to
   * `maxMs`, rising to it over `rampMs` (RtpSendStream.startPadding). False when the line cannot
   * pad (no RTX negotiated).
   */
  startVideoPadding(kbps: number, maxMs: number, rampMs: number): boolean {
    return this.line('video')?.send?.startPadding(kbps, maxMs, rampMs) ?? false;
  }

  stopVideoPadding(): void {
    this.line('video')?.send?.stopPadding();
  }

  /** The video line can carry a padding probe (it sends video with an RTX stream). */
  get canPadVideo(): boolean {
    return this.line('video')?.send?.config.rtx != null;
  }

  /** Asks the remote for a keyframe (PLI), at most once per `keyframeRequestIntervalMs`. */
  requestKeyframe(): boolean {
    const line = this.line('video');
    const now = this.clock.nowMs();
    if (!line || now - this.lastKeyframeRequestAt < (this.options.keyframeRequestIntervalMs ?? 500))
      return false;
    if (!line.sendPli()) return false;
    this.lastKeyframeRequestAt = now;
    return true;
  }

  getStats(): RtpPeerStats {
    const v = this.line('video');
    const a = this.line('audio');
    const pair = this.closed ? null : this.pc.getSelectedCandidatePair();
    const rtt = this.closed ? -1 : this.pc.rtt();
    return {
      connectionState: this.state,
      videoCodec: this.videoCodec,
      video: { send: v?.send?.stats ?? null, receive: v?.receive?.stats ?? null },
      audio: { send: a?.send?.stats ?? null, receive: a?.receive?.stats ?? null },
      roundTripTimeMs: rtt >= 0 ? rtt : null,
      selectedCandidatePair: pair ? { local: pair.local.candidate, remote: pair.remote.candidate } : null,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    unregisterPeer(this);
    for (const l of this.lines) l.track.close();
    this.pc.close();
    this.setState('closed');
    this.removeAllListeners();
  }

  /** Reorder timeouts and NACK retries; RTCP reports once a second. Called by the stack ticker. */
  tick(now: number): void {
    if (this.closed) return;
    for (const l of this.lines) {
      l.receive?.tick();
      if (this.state === 'connected') l.send?.padTick();
    }
    if (this.state !== 'connected' || now - this.lastRtcpAt < RTCP_INTERVAL_MS) return;
    this.lastRtcpAt = now;
    for (const l of this.lines) l.sendReports();
  }

  private choose(kind: MediaKind, m: SdpMedia): ChosenCodec | null {
    return kind === 'video' ? chooseVideoCodec(m, this.options.videoCodecs ?? null) : chooseAudioCodec(m);
  }

  private addLine(
    kind: MediaKind,
    mid: string,
    direction: SdpDirection,
    ssrcs: ReturnType<typeof newLocalSsrcs>,
    track: ndc.Track,
  ): RtpMediaLine {
    const line = new RtpMediaLine(kind, mid, direction, ssrcs, track, this.context);
    this.lines.push(line);
    this.keep(track, line);
    return line;
  }

  private keep(track: ndc.Track, line: RtpMediaLine | null = null): void {
    this.tracks.push(track);
    if (line) track.onMessage((msg) => line.onMessage(msg));
    track.onOpen(() => {
      if (track.type() === 'video') this.videoNeedsKeyframe = true;
    });
  }

  private readyToSend(line: RtpMediaLine, keyframe: boolean): boolean {
    if (!line.track.isOpen()) {
      this.videoNeedsKeyframe = true;
      return false;
    }
    if (this.videoNeedsKeyframe && !keyframe) {
      const now = this.clock.nowMs();
      if (now - this.lastStartRequestAt >= (this.options.keyframeRequestIntervalMs ?? 500)) {
        this.lastStartRequestAt = now;
        this.emit('keyframe-request', { reason: 'start' });
      }
      return false;
    }
    this.videoNeedsKeyframe = false;
    return true;
  }

  private line(kind: MediaKind): RtpMediaLine | undefined {
    return this.lines.find((l) => l.kind === kind);
  }

  /**
   * Sets the remote SDP without its candidates, then adds them one by one. When the DTLS
   * handshake fails at once (seen between libdatachannel peers in the benchmark, see
   * docs/rtp-stack.md), libdatachannel closes the connection while it is still applying the SDP's
   * candidates and throws "Got a remote candidate without ICE transport" from
   * setRemoteDescription; this way the caller sees the connection state 'failed' instead.
   */
  private setRemote(sdp: string, type: 'offer' | 'answer'): void {
    const candidates: Array<[string, string]> = [];
    let mid = '';
    const lines = sdp.split(/\r?\n/).filter((line) => {
      const m = /^a=mid:(\S+)/.exec(line);
      if (m) mid = m[1];
      if (!line.startsWith('a=candidate:')) return true;
      candidates.push([line, mid]);
      return false;
    });
    this.pc.setRemoteDescription(lines.join('\r\n'), type);
    this.remoteSet = true;
    for (const [c, m] of [...candidates, ...this.pendingRemoteCandidates.splice(0)])
      this.applyCandidate(c, m, 0);
  }

  private applyCandidate(candidate: string, mid: string, attempt: number): void {
    if (this.closed || this.state === 'failed' || this.state === 'closed') return;
    try {
      this.pc.addRemoteCandidate(candidate, mid);
    } catch (err) {
      if (attempt < 2) setTimeout(() => this.applyCandidate(candidate, mid, attempt + 1), 50);
      else this.log.warn('remote candidate not added', { candidate, err, state: this.pc.state() });
    }
  }

  private async handOutLocal(waitForCandidates: boolean): Promise<string> {
    if (waitForCandidates && !this.gatheringDone) {
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (this.gatheringDone || this.closed) {
            clearInterval(check);
            resolve();
          }
        }, 10);
      });
    }
    const sdp = this.pc.localDescription()?.sdp ?? '';
    this.localHandedOut = true;
    // Candidates gathered before the caller had the SDP go out now, after it.
    setImmediate(() => {
      for (const c of this.pendingLocalCandidates.splice(0)) this.emit('candidate', c);
      if (this.gatheringDone) this.emit('gathering-complete');
    });
    return this.rewriteAddress(sdp);
  }

  private localCandidate(candidate: string, mid: string): void {
    const c = { candidate: this.rewriteAddress(candidate).replace(/^a=/, ''), mid };
    if (this.localHandedOut) this.emit('candidate', c);
    else this.pendingLocalCandidates.push(c);
  }

  /** Host candidates carry the announced address instead of the bound one. */
  private rewriteAddress(text: string): string {
    const announced = this.options.announcedAddress;
    if (!announced) return text;
    return text.replace(/(candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)/g, `$1${announced}$3`);
  }

  private setState(s: RtpConnectionState): void {
    if (s === this.state) return;
    this.state = s;
    this.log.info('connection state', { state: s });
    this.emit('connection-state', s);
  }
}
