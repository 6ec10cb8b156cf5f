import type {
  IceCandidateInit,
  IceServerInit,
  ParticipantRole,
  ParticipantSnapshot,
  PeerConnectionState,
  Profile,
  SharedVideoCodec,
} from '../protocol/media';
import {
  ConflictError,
  InvalidCandidateError,
  InvalidSdpError,
  PayloadTooLargeError,
} from '../kernel/errors';
import type { Logger } from '../kernel/logger';
import { FRAME_SAMPLES, JitterBuffer, SAMPLE_RATE } from './engine/audio/jitter-buffer';
import {
  OPUS_MAX_PACKET_BYTES,
  OpusDecoder,
  OpusEncoder,
  VideoDecoder,
  type DecodedVideoFrame,
} from './engine/codec';
import type { I420Frame } from './engine/video/i420';
import { CandidateAnnouncer } from './announced-ip';
import { AvSync } from './av-sync';
import type { AdaptiveMember } from './downlink-adaptation';
import type { RawStat } from './downlink-stats';
import type { PeerEvents, PeerInit } from './participant-peer';
import type { ProfileOutput } from './profile-output';
import { memberSnapshot, type PeerMember } from './room-member';
import { mediaTimestamp, RtpPeer, UnsupportedOfferError, type ReceivedFrame } from './rtp';
import { isUsableH264, parseSdp, type VideoCodecName } from './rtp/sdp';
import type { SharedVideoEncoder } from './shared-video-encoder';
import {
  DOWNLINK_OPUS,
  OPUS_FRAME_TICKS,
  QUIET_FRAMES_TO_SHARE,
  type SharedMixEncoder,
} from './shared-mix-encoder';

/** Opus frames sent to the client: 20 ms (two mixer ticks), libwebrtc's default. */
const OPUS_FRAME_MS = 10 * OPUS_FRAME_TICKS;
const OPUS_FRAME_SAMPLES = FRAME_SAMPLES * OPUS_FRAME_TICKS;
/** Frames between the decoder's input and output whose capture times are kept (it holds ~1-2). */
const CAPTURE_RING = 16;
/** Longest Opus frame a client may send (120 ms at 48 kHz). */
const OPUS_MAX_DECODED_SAMPLES = 5760;
/** The audio timeline is re-anchored to the clock when it drifts this far (after a stall). */
const AUDIO_REANCHOR_MS = 100;
/**
 * An Opus packet is stamped with its first sample's time (RFC 7587), and a frame is sent at its
 * last tick: its first 10 ms were mixed this much earlier. The video's timestamps are the tick
 * its composite was made at, so both stay on one timeline for a receiver's A/V sync.
 */
const FIRST_TICK_LEAD_MS = OPUS_FRAME_MS - 10;

/**
 * A participant on the RTP-level stack (node-datachannel): chosen for a client whose offer has
 * H.264 and none of VP8/VP9/AV1, which @roamhq/wrtc cannot serve, for an audio-only offer
 * (cheaper than a libwebrtc peer connection; its silent frames share one encode, see
 * shared-mix-encoder.ts), and with VIDEO_ENCODE=shared for a VP8 offer (issue #17: the
 * composite encoded once per profile instead of once per peer). Its video uplink (H.264 or
 * VP8, one codec per participant) is decoded
 * by our decoder (PLI, throttled by RtpPeer, whenever a frame cannot be decoded), its Opus
 * uplink by our Opus decoder into the same jitter buffer as anyone's; its downlink video is
 * the profile's shared encoder of its codec (one encode for every receiver of the profile) and
 * its audio its own mix-minus, Opus-encoded here and stamped from the same clock as the video
 * (one RTCP SR clock per peer: the browser can lip-sync them).
 */
export class RtpParticipant implements PeerMember, AdaptiveMember {
  readonly id: string;
  readonly displayName: string;
  readonly role: ParticipantRole;
  profile: Profile;
  audioMuted = false;
  videoMuted = false;
  connectionState: PeerConnectionState = 'new';
  lastFrameAt = 0;
  /**
   * Lip sync (docs/lip-sync.md): the video is held back by the audio path's extra wait, from
   * our own figures (room jitter buffer, decode time). Decoded frames are copies from a small
   * pool of buffers the ring hands back once it no longer shows them: no allocation per frame.
   */
  readonly avSync: AvSync;
  private readonly freeFrames: I420Frame[] = [];
  private decodeMsSum = 0;
  private decodeCount = 0;
  /** Pictures decoded of its uplink since it joined, and the last one's size (its uplink figures). */
  private framesDecoded = 0;
  private decodedWidth = 0;
  private decodedHeight = 0;
  hasAudio = false;
  hasVideo = false;
  /**
   * Raw RTP arrives in 20 ms packets with the network's jitter (wrtc's sink delivers 10 ms
   * chunks already smoothed by libwebrtc's NetEq), so playback starts at 40 ms, not 20: with
   * 20 ms, 16 audio-only uplinks underran 7.6 % of the ticks (bench:audio).
   */
  readonly jitter = new JitterBuffer({ targetFrames: 4, capacityFrames: 14, driftControl: true });
  readonly audioOutput = new Int16Array(FRAME_SAMPLES);

  private readonly peer: RtpPeer;
  private readonly decoder: VideoDecoder;
  private readonly opusDecoder: OpusDecoder;
  private readonly opusEncoder: OpusEncoder;
  private readonly decodedPcm = new Int16Array(OPUS_MAX_DECODED_SAMPLES);
  private readonly pcm20 = new Int16Array(OPUS_FRAME_SAMPLES);
  /** Whether this listener's own voice was in the mix in a tick of the current 20 ms frame. */
  private spokeInFrame = false;
  /** 20 ms frames in a row without this listener's voice in the mix. */
  private quietFrames = 0;
  /** Frame parity for sendAudio() (a room that frames calls sendAudioTick itself). */
  private ownHalf = 0;
  private readonly packet = new Uint8Array(OPUS_MAX_PACKET_BYTES);
  private audioAnchorMs = -1;
  private audioFrames = 0;
  /**
   * Lip sync on the sender's clock (AvSync.updateSenderClock): Σ and count, since the last
   * update, of audio arrival − capture (per packet, at its middle sample) and of video decoded −
   * capture (per frame), capture times from the sender's RTCP reports.
   */
  private audioTransitSum = 0;
  private audioTransitCount = 0;
  private videoTransitSum = 0;
  private videoTransitCount = 0;
  /** Capture times of the frames handed to the decoder, by RTP timestamp (its pts), newest last. */
  private readonly pendingRtp = new Float64Array(CAPTURE_RING);
  private readonly pendingCapture = new Float64Array(CAPTURE_RING);
  private pendingNext = 0;
  private output: ProfileOutput | null = null;
  private encoder: SharedVideoEncoder | null = null;
  /** The stream a profile switch goes to, until its first keyframe reaches us (attach()). */
  private next: { output: ProfileOutput; encoder: SharedVideoEncoder; from: ProfileOutput } | null = null;
  private mids: string[] = [];
  private negotiated = false;
  private sendsVideo = false;
  private iceCount = 0;
  private closed = false;

  /** Null when the codec addon is not available (the room keeps the wrtc path). */
  static create(
    init: PeerInit,
    events: PeerEvents,
    log: Logger,
    videoCodec: VideoCodecName = 'H264',
  ): RtpParticipant | null {
    const decoderSink = {
      onFrame: (f: DecodedVideoFrame) => member?.onDecoded(f),
      onKeyframeNeeded: () => member?.peer.requestKeyframe(),
    };
    const codec = sharedCodecOf(videoCodec);
    const decoder = VideoDecoder.create(
      { codec, logFields: { participantId: init.participantId } },
      decoderSink,
    );
    const opusDecoder = OpusDecoder.create();
    const opusEncoder = OpusEncoder.create(DOWNLINK_OPUS);
    if (!decoder || !opusDecoder || !opusEncoder) {
      decoder?.close();
      opusDecoder?.close();
      opusEncoder?.close();
      return null;
    }
    const member: RtpParticipant = new RtpParticipant(
      init,
      events,
      log,
      codec,
      decoder,
      opusDecoder,
      opusEncoder,
    );
    return member;
  }

  private constructor(
    init: PeerInit,
    private readonly events: PeerEvents,
    private readonly log: Logger,
    /** The one video codec of this member's uplink and downlink. */
    readonly videoCodec: SharedVideoCodec,
    decoder: VideoDecoder,
    opusDecoder: OpusDecoder,
    opusEncoder: OpusEncoder,
  ) {
    this.id = init.participantId;
    this.displayName = init.displayName;
    this.role = init.role;
    this.profile = init.profile;
    this.maxIce = init.maxIceCandidates;
    this.avSync = new AvSync(init.avSync !== 'off', (f) => this.freeFrames.push(f));
    this.decoder = decoder;
    this.opusDecoder = opusDecoder;
    this.opusEncoder = opusEncoder;
    this.peer = new RtpPeer({
      id: init.participantId,
      logger: log,
      iceServers: toLibdatachannelIceServers(init.iceServers),
      videoCodecs: [videoCodec === 'vp8' ? 'VP8' : 'H264'],
      receive: init.role === 'publisher',
      keyframeRequestIntervalMs: 500,
      // The node's networking (RTC_MIN_PORT..RTC_MAX_PORT, ANNOUNCED_IP) as for wrtc peers.
      ...(init.network.portRange ? { portRange: init.network.portRange } : {}),
    });
    this.announcer = init.network.announcedIp ? new CandidateAnnouncer(init.network.announcedIp) : null;
    this.peer.on('candidate', ({ candidate: raw, mid }) => {
      const candidate = this.announcer ? this.announcer.candidate(raw) : raw;
      if (candidate === null) return;
      const index = this.mids.indexOf(mid);
      this.events.onIceCandidate({ candidate, sdpMid: mid, sdpMLineIndex: index >= 0 ? index : null });
    });
    this.peer.on('gathering-complete', () => this.events.onIceCandidate(null));
    this.peer.on('connection-state', (s) => {
      this.connectionState = s;
      this.events.onConnectionState(s);
    });
    this.peer.on('video-frame', (f) => {
      const i = this.pendingNext;
      this.pendingRtp[i] = f.rtpTimestamp;
      this.pendingCapture[i] = f.captureMs;
      this.pendingNext = (i + 1) % CAPTURE_RING;
      this.decoder.decode(f.data, f.rtpTimestamp);
    });
    this.peer.on('audio-packet', (f) => this.onAudioPacket(f));
    this.peer.on('keyframe-request', () => this.encoder?.requestKeyframe(performance.now()));
  }

  private readonly maxIce: number;
  /** Null without ANNOUNCED_IP: candidates leave as libdatachannel wrote them. */
  private readonly announcer: CandidateAnnouncer | null;

  /** The interface's per-tick send, for a caller that does no framing: own encode, own parity. */
  sendAudio(): void {
    this.sendAudioTick(this.ownHalf, true, null);
    this.ownHalf = (this.ownHalf + 1) % OPUS_FRAME_TICKS;
  }

  /**
   * One 10 ms tick of this listener's downlink. `half` is the tick's place in the room's 20 ms
   * frame; `spoke` whether this listener's own voice is in this tick's mix (then its mix-minus
   * differs from the full mix). At the end of a frame, a listener quiet for QUIET_FRAMES_TO_SHARE
   * frames before and during it is sent the shared full-mix packet (no encode of its own);
   * otherwise its own mix-minus is encoded.
   * Returns what was sent at a frame's end, null on the first half.
   */
  sendAudioTick(half: number, spoke: boolean, shared: SharedMixEncoder | null): 'own' | 'shared' | null {
    this.pcm20.set(this.audioOutput, half * FRAME_SAMPLES);
    if (spoke) this.spokeInFrame = true;
    if (half !== OPUS_FRAME_TICKS - 1) return null;
    const quiet = !this.spokeInFrame && this.quietFrames >= QUIET_FRAMES_TO_SHARE;
    const sharedFrame = quiet && shared !== null ? shared.frame : null;
    this.quietFrames = this.spokeInFrame ? 0 : this.quietFrames + 1;
    this.spokeInFrame = false;
    const now = performance.now();
    // One timeline of exact 20 ms steps (what a receiver's jitter buffer expects), anchored on
    // the clock the video timestamps come from; re-anchored only after a stall.
    let at = this.audioAnchorMs + this.audioFrames * OPUS_FRAME_MS;
    if (this.audioAnchorMs < 0 || Math.abs(now - at) > AUDIO_REANCHOR_MS) {
      this.audioAnchorMs = now;
      this.audioFrames = 0;
      at = now;
    }
    this.audioFrames++;
    const packet = sharedFrame ?? this.packet.subarray(0, this.opusEncoder.encode(this.pcm20, this.packet));
    this.peer.sendAudio(packet, mediaTimestamp(at - FIRST_TICK_LEAD_MS, SAMPLE_RATE));
    return sharedFrame ? 'shared' : 'own';
  }

  async applyOffer(sdp: string, output: ProfileOutput, waitForCandidates = false): Promise<string> {
    if (this.negotiated) {
      // Renegotiation of an RTP-level session is not supported: the client rejoins instead.
      throw new ConflictError(
        'this RTP-level session (H.264, shared VP8 or audio-only) was negotiated already',
      );
    }
    this.mids = parseSdp(sdp).map((m) => m.mid);
    let answer: string;
    try {
      answer = await this.peer.acceptOffer(sdp, { waitForCandidates });
    } catch (err) {
      if (err instanceof UnsupportedOfferError) throw new InvalidSdpError(err.message);
      throw err;
    }
    if (this.announcer) answer = this.announcer.sdp(answer);
    this.negotiated = true;
    // A WHIP publisher (sendonly offer) receives nothing: it takes no place at the encoder.
    this.sendsVideo = this.peer.getStats().video.send !== null;
    if (this.sendsVideo) this.attach(output);
    return answer;
  }

  async applyAnswer(): Promise<void> {
    throw new ConflictError(
      'no server offer is waiting for an answer (RTP-level sessions are not renegotiated)',
    );
  }

  async addIceCandidate(candidate: IceCandidateInit | null): Promise<void> {
    if (candidate === null) return;
    if (++this.iceCount > this.maxIce) {
      throw new PayloadTooLargeError(`more than ${this.maxIce} ICE candidates from one participant`);
    }
    if (typeof candidate.candidate !== 'string' || candidate.candidate.length > 1024) {
      throw new InvalidCandidateError('candidate must be a string of at most 1024 characters');
    }
    const mid =
      candidate.sdpMid ?? (candidate.sdpMLineIndex != null ? this.mids[candidate.sdpMLineIndex] : undefined);
    this.peer.addRemoteCandidate(candidate.candidate, mid ?? this.mids[0] ?? '0');
  }

  /** The new profile's shared encoder gives this receiver a fresh keyframe (throttled). */
  async switchProfile(output: ProfileOutput, seamless = true): Promise<void> {
    this.profile = output.profile.name;
    if (this.sendsVideo) this.attach(output, seamless);
  }

  /** The `audio` downlink: off the shared encoder (switchProfile attaches it again). */
  async suspendVideo(): Promise<void> {
    this.detachVideo();
  }

  async createServerOffer(): Promise<string | null> {
    return null; // the shared encoder's bitrate is the profile's: nothing to renegotiate
  }

  /** Its estimate is the client's REMB; it is sent a shared stream (see AdaptiveMember). */
  readonly downlinkEstimate = 'receiver' as const;

  /** Steps up are probed with padding on its video line's RTX stream (RtpSendStream.startPadding). */
  get canPad(): boolean {
    return this.sendsVideo && this.peer.canPadVideo;
  }

  startPadding(kbps: number, maxMs: number, rampMs: number): boolean {
    return this.peer.startVideoPadding(kbps, maxMs, rampMs);
  }

  stopPadding(): void {
    this.peer.stopVideoPadding();
  }

  /** Whether its offer receives video (a WHIP publisher's does not). */
  get hasVideoDownlink(): boolean {
    return this.sendsVideo;
  }

  /**
   * This member's downlink in the shape of libwebrtc's stats, for the same downlink controller
   * as wrtc members (adaptive downlink by switching shared streams, issue #17 item 3): the
   * client's REMB (its receive-side estimate) stands for the send-side estimate, its receiver
   * reports give loss and RTT, and our send streams count bytes, frames and NACKs. Its uplink
   * (what arrives of its video: uplink-monitor.ts) comes from our receive stream and decoder.
   */
  async rawStats(): Promise<RawStat[]> {
    const s = this.peer.getStats();
    const out: RawStat[] = [];
    const r = s.video.receive;
    if (r) {
      out.push({
        id: 'in-video',
        type: 'inbound-rtp',
        kind: 'video',
        bytesReceived: r.bytesReceived,
        packetsReceived: r.packetsReceived,
        packetsLost: r.packetsLost,
        framesDecoded: this.framesDecoded,
        frameWidth: this.decodedWidth,
        frameHeight: this.decodedHeight,
      });
    }
    const v = s.video.send;
    const a = s.audio.send;
    const remb = v?.rembBitrate ?? 0;
    if (remb > 0) {
      out.push({
        id: 'pair',
        type: 'candidate-pair',
        state: 'succeeded',
        nominated: true,
        availableOutgoingBitrate: remb,
      });
      out.push({ id: 'transport', type: 'transport', selectedCandidatePairId: 'pair' });
    }
    for (const [kind, st] of [
      ['video', v],
      ['audio', a],
    ] as const) {
      if (!st) continue;
      out.push({
        id: `out-${kind}`,
        type: 'outbound-rtp',
        kind,
        bytesSent: st.bytesSent,
        framesSent: kind === 'video' ? st.framesSent : undefined,
        nackCount: st.nacksReceived,
        paddingProbesAborted: st.paddingProbesAborted,
        paddingProbePending: st.paddingProbePending,
      });
      out.push({
        id: `rin-${kind}`,
        type: 'remote-inbound-rtp',
        kind,
        fractionLost: st.fractionLost,
        packetsLost: st.packetsLost,
        extendedHighestSequence: st.highestSequence,
        roundTripTime: st.roundTripTimeMs > 0 ? st.roundTripTimeMs / 1000 : undefined,
      });
    }
    return out;
  }

  async framesSent(): Promise<number> {
    return this.peer.getStats().video.send?.framesSent ?? 0;
  }

  snapshot(): ParticipantSnapshot {
    return memberSnapshot(this, this.connectionState);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detachVideo();
    this.peer.close();
    this.decoder.close();
    this.opusDecoder.close();
    this.opusEncoder.close();
    this.avSync.clear();
    this.freeFrames.length = 0;
  }

  /**
   * Puts this receiver on `output`'s shared stream. From no stream (the first attach, or back
   * from `audio`) at once. From another profile's stream, make before break: the old stream
   * keeps coming until the new one's first keyframe is handed to us, then the old one lets go
   * (SharedVideoEncoder.attach's onStart). Breaking first froze the picture while that keyframe
   * was made: up to the 500 ms keyframe throttle plus the downlink hold when the stream had just
   * sent one. A switch still pending is dropped for a newer one.
   */
  private attach(output: ProfileOutput, seamless = false): void {
    if (seamless && this.next?.output === output) return;
    this.dropPendingSwitch();
    if (this.output === output) return;
    const from = this.output;
    if (!from || !seamless) {
      from?.detachShared(this.videoCodec, this.peer);
      this.output = output;
      this.encoder = output.attachShared(this.videoCodec, this.peer, this.log);
      if (!this.encoder) this.noEncoder();
      return;
    }
    // The room counts us on the new profile from now on; this use keeps the old one composed
    // until we leave it.
    from.retain();
    const encoder = output.attachShared(this.videoCodec, this.peer, this.log, () => {
      if (this.next?.output !== output) return;
      this.next = null;
      this.leave(from);
      this.output = output;
      this.encoder = encoder;
    });
    if (encoder) {
      this.next = { output, encoder, from };
      return;
    }
    this.leave(from);
    this.output = output;
    this.encoder = null;
    this.noEncoder();
  }

  /** Leaves the stream a seamless switch came from (and the use that kept it composed). */
  private leave(from: ProfileOutput): void {
    from.detachShared(this.videoCodec, this.peer);
    from.release();
  }

  /** A switch still waiting for its keyframe is given up: we stay on the stream we are on. */
  private dropPendingSwitch(): void {
    const pending = this.next;
    if (!pending) return;
    this.next = null;
    pending.output.detachShared(this.videoCodec, this.peer);
    pending.from.release();
  }

  /** Off every shared stream (the current one and a switch's pending one). */
  private detachVideo(): void {
    this.dropPendingSwitch();
    this.output?.detachShared(this.videoCodec, this.peer);
    this.output = null;
    this.encoder = null;
  }

  private noEncoder(): void {
    this.log.error('no shared encoder for the downlink (codec addon missing)', { codec: this.videoCodec });
  }

  /** The inbound picture a composite made at `fps` takes now (AvSync.frameFor: behind by the lip-sync delay). */
  frameFor(fps: number): I420Frame | null {
    return this.avSync.frameFor(fps, performance.now());
  }

  /** One lip-sync step (about once a second, MediaRoom.updateAvSync). */
  updateAvSync(): void {
    if (this.closed || !this.hasAudio || !this.hasVideo || this.decodeCount === 0) return;
    const roomWait = this.jitter.takeMeanWaitMs();
    const decodeMs = this.decodeMsSum / this.decodeCount;
    const audioTransit =
      this.audioTransitCount > 0 ? this.audioTransitSum / this.audioTransitCount : Number.NaN;
    const videoTransit =
      this.videoTransitCount > 0 ? this.videoTransitSum / this.videoTransitCount : Number.NaN;
    this.decodeMsSum = 0;
    this.decodeCount = 0;
    this.audioTransitSum = this.audioTransitCount = 0;
    this.videoTransitSum = this.videoTransitCount = 0;
    if (roomWait === null) return;
    // Both streams' sender reports seen: measured on the sender's clock; before that (the first
    // seconds) or from a sender that sends none, the model of the path.
    if (Number.isFinite(audioTransit) && Number.isFinite(videoTransit))
      this.avSync.updateSenderClock(audioTransit + roomWait, videoTransit, roomWait, decodeMs);
    else this.avSync.updateRtp(roomWait, decodeMs);
  }

  /** The capture time of the frame with this RTP timestamp handed to the decoder (NaN if unknown). */
  private captureOf(rtpTimestamp: number): number {
    for (let k = 1; k <= CAPTURE_RING; k++) {
      const i = (this.pendingNext - k + CAPTURE_RING) % CAPTURE_RING;
      if (this.pendingRtp[i] === rtpTimestamp) return this.pendingCapture[i];
    }
    return Number.NaN;
  }

  private onDecoded(f: DecodedVideoFrame): void {
    if (this.closed) return;
    let frame = this.freeFrames.pop();
    if (!frame || frame.width !== f.width || frame.height !== f.height) {
      frame = { width: f.width, height: f.height, data: new Uint8Array(f.data.length) };
    }
    // The decoder reuses its buffer: the room reads this copy on its own clock.
    frame.data.set(f.data);
    this.lastFrameAt = performance.now();
    const capture = this.captureOf(f.pts);
    if (!Number.isNaN(capture)) {
      this.videoTransitSum += performance.timeOrigin + this.lastFrameAt - capture;
      this.videoTransitCount++;
    }
    this.decodeMsSum += f.decodeMs;
    this.decodeCount++;
    this.framesDecoded++;
    this.decodedWidth = f.width;
    this.decodedHeight = f.height;
    this.avSync.push(frame, this.lastFrameAt);
    if (!this.hasVideo) {
      this.hasVideo = true;
      this.events.onMediaChanged();
    }
  }

  private onAudioPacket(f: ReceivedFrame): void {
    if (this.closed) return;
    let n: number;
    try {
      n = this.opusDecoder.decode(f.data, this.decodedPcm);
    } catch (err) {
      this.log.debug('opus packet not decodable', { err });
      return;
    }
    if (n <= 0) return;
    this.hasAudio = true;
    if (!Number.isNaN(f.captureMs)) {
      // At the packet's middle sample: the mean over its samples, as the buffer's wait is.
      this.audioTransitSum +=
        performance.timeOrigin + performance.now() - f.captureMs - (n * 500) / SAMPLE_RATE;
      this.audioTransitCount++;
    }
    this.jitter.push(this.decodedPcm.subarray(0, n), SAMPLE_RATE, 1);
  }
}

/** IceServerInit (browser form) → libdatachannel's `stun:host:port` / `turn:user:pass@host:port`. */
export function toLibdatachannelIceServers(servers: IceServerInit[]): string[] {
  const out: string[] = [];
  for (const s of servers) {
    for (const url of Array.isArray(s.urls) ? s.urls : [s.urls]) {
      const m = /^(stuns?|turns?):(.*)$/.exec(url);
      if (!m) continue;
      const [, scheme, rest] = m;
      if (scheme.startsWith('turn') && s.username !== undefined && s.credential !== undefined) {
        out.push(`${scheme}:${encodeURIComponent(s.username)}:${encodeURIComponent(s.credential)}@${rest}`);
      } else out.push(url);
    }
  }
  return out;
}

function sharedCodecOf(c: VideoCodecName): SharedVideoCodec {
  return c === 'VP8' ? 'vp8' : 'h264';
}

/**
 * With VIDEO_ENCODE=shared the RTP-level path serves an offer whose video has VP8 (90 kHz), as
 * every browser's and wrtc's does: it is sent the profile's shared VP8 encode.
 */
export function offersVp8(sdp: string): boolean {
  return parseSdp(sdp).some(
    (m) =>
      m.kind === 'video' &&
      m.port !== 0 &&
      m.direction !== 'inactive' &&
      m.codecs.some((c) => c.name === 'VP8' && c.clockRate === 90000),
  );
}

/**
 * The RTP-level path serves an offer whose video is H.264 only: at least one usable H.264
 * (constrained baseline, packetization-mode 1) and no VP8, VP9 or AV1 that wrtc could take.
 */
export function isH264OnlyOffer(sdp: string): boolean {
  let h264 = false;
  for (const m of parseSdp(sdp)) {
    if (m.kind !== 'video' || m.port === 0) continue;
    for (const c of m.codecs) {
      if (c.name === 'VP8' || c.name === 'VP9' || c.name === 'AV1') return false;
      if (isUsableH264(c)) h264 = true;
    }
  }
  return h264;
}

/**
 * The RTP-level path also serves an audio-only offer (overload issue, item 4): Opus and no video
 * section in use (none, port 0, or inactive). Such a participant needs no video stack at all,
 * and on this path its downlink is our Opus encode (lower complexity than libwebrtc's, and
 * shared by every listener who is not speaking) instead of a libwebrtc peer connection with
 * its own encoder, pacer and congestion-control threads.
 */
export function isAudioOnlyOffer(sdp: string): boolean {
  let opus = false;
  for (const m of parseSdp(sdp)) {
    if (m.kind === 'video' && m.port !== 0 && m.direction !== 'inactive') return false;
    if (m.kind === 'audio' && m.port !== 0 && m.codecs.some((c) => c.name === 'OPUS')) opus = true;
  }
  return opus;
}
