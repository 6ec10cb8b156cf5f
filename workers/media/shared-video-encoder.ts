import type { OutputProfile, Profile, SharedEncoderStats, SharedVideoCodec } from '../protocol/media';
import type { Logger } from '../kernel/logger';
import { VideoEncoder, type EncodedVideoFrame } from './engine/codec';
import type { I420Frame } from './engine/video/i420';
import { FrameHold } from './frame-hold';
import { H264Packetizer, mediaTimestamp, Vp8Packetizer, type RtpPacketizer, type RtpPeer } from './rtp';

/** Keyframes asked for by receivers (PLI/FIR, a new receiver) are at least this far apart. */
export const KEYFRAME_MIN_INTERVAL_MS = 500;
/** The periodic keyframe floor: a receiver that lost everything recovers within this even without a PLI. */
export const KEYFRAME_FLOOR_SECONDS = 5;
/** Encoded frames held for their send time at once (30 fps with a 100 ms hold needs 4). */
const HOLD_SLOTS = 8;

/**
 * One profile's composite encoded ONCE in one codec (H.264 constrained baseline, x264
 * zerolatency: no B-frames, no lookahead; or VP8, libvpx real-time: one pass, no lag, no
 * alt-ref) and packetized once; every RTP-level receiver of the profile and codec gets the
 * same payloads (each peer keeps its own sequence numbers, history for NACK/RTX and SR).
 * A keyframe request from any receiver makes a keyframe for all of them, so requests are
 * throttled here, where they all meet: one that comes within KEYFRAME_MIN_INTERVAL_MS of the
 * previous keyframe is not dropped but deferred to the end of the interval (a storm of PLIs
 * from one receiver costs at most two keyframes a second for everyone).
 */
export class SharedVideoEncoder {
  private readonly receivers = new Set<RtpPeer>();
  /**
   * Receivers attached since the last keyframe: a delta frame of this stream is of no use to
   * them (a newcomer, or one switching from another profile's stream, which keeps showing its
   * last picture meanwhile), so they get nothing until the keyframe their attach asked for.
   */
  private readonly awaitingKeyframe = new Set<RtpPeer>();
  /** Called right before a receiver's first frame (its keyframe) goes out: see attach(). */
  private readonly onStart = new Map<RtpPeer, () => void>();
  private readonly encoder: VideoEncoder;
  private readonly packetizer: RtpPacketizer;
  private lastKeyframeAt = -Infinity;
  private keyframePending = false;
  /** A keyframe was forced and no frame has gone to the encoder since: it covers new requests. */
  private keyframeNext = false;
  private keyframeRequests = 0;
  private keyframesForced = 0;
  private closed = false;
  /** Encoded frames waiting for their send time (holdMs > 0). */
  private readonly hold: FrameHold | null;

  /**
   * Null when the codec addon is not available. `holdMs` (DOWNLINK_VIDEO_HOLD_MS): a frame leaves
   * no earlier than this after the tick it was composed at, so that it leaves with the sound of
   * the same instant (docs/lip-sync.md, "The downlink"); 0 sends each frame as soon as it is encoded.
   */
  static create(
    profile: OutputProfile,
    codec: SharedVideoCodec,
    log: Logger,
    holdMs = 0,
  ): SharedVideoEncoder | null {
    let encoder: SharedVideoEncoder | null = null;
    const enc = VideoEncoder.create(
      {
        codec,
        width: profile.width,
        height: profile.height,
        fps: profile.fps,
        bitrateKbps: profile.maxVideoKbps,
        keyframeIntervalFrames: profile.fps * KEYFRAME_FLOOR_SECONDS,
        // VP8 in CBR overshoots far past the profile's rate on pictures it cannot compress
        // (measured: 1.3 Mbit/s for `standard`'s 550 on three noisy tiles) unless it may drop
        // frames, as libwebrtc's per-peer encoder does; x264's VBV holds the rate by itself.
        frameDropping: codec === 'vp8',
        logFields: { profile: profile.name },
      },
      (f) => encoder?.onEncoded(f),
    );
    if (enc === null) return null;
    encoder = new SharedVideoEncoder(profile.name, codec, enc, log, holdMs);
    return encoder;
  }

  private constructor(
    readonly profile: Profile,
    readonly codec: SharedVideoCodec,
    encoder: VideoEncoder,
    private readonly log: Logger,
    readonly holdMs: number,
  ) {
    this.encoder = encoder;
    this.packetizer = codec === 'h264' ? new H264Packetizer() : new Vp8Packetizer();
    this.hold =
      holdMs > 0
        ? new FrameHold(HOLD_SLOTS, holdMs, (data, keyframe, tickMs) => this.dispatch(data, keyframe, tickMs))
        : null;
    this.log.info('shared video encoder open', { profile, codec, holdMs });
  }

  get receiverCount(): number {
    return this.receivers.size;
  }

  /**
   * A new receiver gets the stream from a fresh keyframe (within the throttle). `onStart` runs
   * right before that keyframe is handed to the receiver: a receiver switching from another
   * profile's stream stays on that one until then (make before break, RtpParticipant.attach),
   * so the switch costs no frozen picture while this keyframe is made (up to the 500 ms throttle
   * when the stream had one just before, plus the downlink hold).
   */
  attach(peer: RtpPeer, now = performance.now(), onStart?: () => void): void {
    this.receivers.add(peer);
    this.awaitingKeyframe.add(peer);
    if (onStart) this.onStart.set(peer, onStart);
    this.requestKeyframe(now);
  }

  detach(peer: RtpPeer): void {
    this.receivers.delete(peer);
    this.awaitingKeyframe.delete(peer);
    this.onStart.delete(peer);
  }

  requestKeyframe(now: number): void {
    this.keyframeRequests++;
    // Receivers joining together (or PLIs racing a forced keyframe) are served by the same one.
    if (this.keyframeNext) return;
    if (now - this.lastKeyframeAt >= KEYFRAME_MIN_INTERVAL_MS) this.forceKeyframe(now);
    else this.keyframePending = true;
  }

  /** The composite of this tick (`now`: the room clock's tick time, performance.now() based). */
  encode(frame: I420Frame, now: number): void {
    if (this.closed || this.receivers.size === 0) return;
    if (this.keyframePending && now - this.lastKeyframeAt >= KEYFRAME_MIN_INTERVAL_MS)
      this.forceKeyframe(now);
    // pts in microseconds: the RTP timestamp is derived from the tick time when the frame comes back.
    // A frame dropped because the encoder was busy leaves the forced keyframe for the next one.
    if (this.encoder.encode(frame.data, Math.round(now * 1000))) this.keyframeNext = false;
  }

  /** Resolves once no frame is in flight or held (tests and benchmarks step the encoder with it). */
  async idle(): Promise<void> {
    await this.encoder.idle();
    while (this.hold && this.hold.held > 0 && !this.closed)
      await new Promise((r) => setTimeout(r, this.holdMs));
  }

  stats(): SharedEncoderStats {
    const s = this.encoder.stats;
    return {
      profile: this.profile,
      codec: this.codec,
      receivers: this.receivers.size,
      framesEncoded: s.encoded,
      keyframes: s.keyframes,
      keyframeRequests: this.keyframeRequests,
      keyframesForced: this.keyframesForced,
      droppedBusy: s.droppedBusy,
      bytes: s.bytes,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hold?.close();
    this.receivers.clear();
    this.awaitingKeyframe.clear();
    this.onStart.clear();
    this.encoder.close();
    this.log.info('shared video encoder closed', { profile: this.profile, codec: this.codec });
  }

  private forceKeyframe(now: number): void {
    this.encoder.requestKeyframe();
    this.keyframesForced++;
    this.lastKeyframeAt = now;
    this.keyframePending = false;
    this.keyframeNext = true;
  }

  private onEncoded(f: EncodedVideoFrame): void {
    if (this.closed) return;
    const tickMs = f.pts / 1000;
    if (f.keyframe) this.lastKeyframeAt = Math.max(this.lastKeyframeAt, tickMs);
    if (this.hold) this.hold.push(f.data, f.keyframe, tickMs);
    else this.dispatch(f.data, f.keyframe, tickMs);
  }

  private dispatch(data: Uint8Array, keyframe: boolean, tickMs: number): void {
    const payloads = this.packetizer.packetize(data);
    const ts = mediaTimestamp(tickMs, 90000);
    if (keyframe) {
      for (const peer of this.awaitingKeyframe) {
        const start = this.onStart.get(peer);
        if (!start) continue;
        this.onStart.delete(peer);
        start();
      }
      this.awaitingKeyframe.clear();
    }
    for (const peer of this.receivers)
      if (!this.awaitingKeyframe.has(peer)) peer.sendVideoPayloads(payloads, ts, keyframe);
  }
}
