import type { Fit, LayoutKind, OutputProfile, SharedVideoCodec } from '../protocol/media';
import type { Logger } from '../kernel/logger';
import { Compositor, type TileSource } from './engine/video/compositor';
import type { I420Frame } from './engine/video/i420';
import { planLayout, type Tile } from './engine/video/layout';
import type { RtpPeer } from './rtp';
import { FrameHold } from './frame-hold';
import { SharedVideoEncoder } from './shared-video-encoder';
import { RTCVideoSource, type WrtcVideoSource } from './wrtc';

/** Composites held at once on the per-peer path: 30 fps with a 100 ms hold needs 4. */
const PEER_HOLD_SLOTS = 6;

export interface LayoutState {
  kind: LayoutKind;
  fit: Fit;
  speakerId: string | null;
  pinnedId: string | null;
}

/**
 * One composed picture per output profile in use, shared by every participant on that profile
 * (compose once per profile, not once per participant): one compositor, one RTCVideoSource,
 * one track that each wrtc peer connection encodes in its own negotiated codec, and for RTP-level
 * receivers one shared encoder per codec (H.264 endpoints; VP8 receivers with VIDEO_ENCODE=shared),
 * opened with the first receiver of that codec and closed with the last.
 */
export class ProfileOutput {
  readonly source: WrtcVideoSource = new RTCVideoSource();
  readonly track: MediaStreamTrack = this.source.createTrack();
  readonly compositor: Compositor;
  /**
   * How many consumers (participants, the recorder, a receiver's switch still leaving it) use
   * this profile; the clock skips an output with none.
   */
  users = 0;
  /** Frames handed to the peers' encoders (quality shedding compares it with frames sent). */
  sentFrames = 0;
  composedFrames = 0;
  private tiles: Tile[] = [];
  private planned = false;
  /** At most one per codec (h264, vp8): an array, walked every tick without allocating. */
  private readonly shared: SharedVideoEncoder[] = [];

  /** Composites on their way to the per-peer source, when the per-peer path holds its picture. */
  private readonly peerHold: FrameHold | null;
  /** What the per-peer source is handed for a held composite (its data is the held copy; the source copies it). */
  private readonly heldFrame: I420Frame;

  /**
   * `sharedHoldMs`: the shared encoders' send hold (RoomMediaSettings.downlinkVideoHoldMs);
   * `peerHoldMs`: the per-peer source's (RoomMediaSettings.peerVideoHoldMs).
   */
  constructor(
    readonly profile: OutputProfile,
    private readonly sharedHoldMs = 0,
    peerHoldMs = 0,
  ) {
    this.compositor = new Compositor(profile.width, profile.height);
    this.heldFrame = { width: profile.width, height: profile.height, data: new Uint8Array(0) };
    this.peerHold = peerHoldMs > 0 ? new FrameHold(PEER_HOLD_SLOTS, peerHoldMs, this.sendHeld, 1) : null;
  }

  private readonly sendHeld = (data: Uint8Array): void => {
    this.heldFrame.data = data;
    this.source.onFrame(this.heldFrame);
  };

  /** Joins, leaves, layout and speaker changes mark the plan stale; the next tick re-plans. */
  invalidate(): void {
    this.planned = false;
  }

  compose(ids: readonly string[], layout: LayoutState, sourceOf: (id: string) => TileSource): I420Frame {
    if (!this.planned) {
      this.tiles = planLayout(layout.kind, ids, {
        width: this.profile.width,
        height: this.profile.height,
        speakerId: layout.speakerId,
        pinnedId: layout.pinnedId,
      });
      this.planned = true;
    }
    const frame = this.compositor.compose(this.tiles, sourceOf, layout.fit);
    this.composedFrames++;
    return frame;
  }

  /** `now`: the tick time (performance.now() based), the shared encoder's RTP timestamp. */
  send(frame: I420Frame, now: number): void {
    this.sentFrames++;
    if (this.peerHold) this.peerHold.push(frame.data, false, now);
    else this.source.onFrame(frame);
    for (let i = 0; i < this.shared.length; i++) this.shared[i].encode(frame, now);
  }

  /** One more consumer: the clock composes this profile while it has any. */
  retain(): void {
    this.users++;
  }

  /** A consumer leaves; at none the clock skips the profile (the object stays). */
  release(): void {
    this.users = Math.max(0, this.users - 1);
  }

  /**
   * Adds an RTP-level receiver to the profile's shared encoder of `codec` (opened on first use);
   * returns the encoder (its keyframe requests go there), or null without the codec addon.
   */
  attachShared(
    codec: SharedVideoCodec,
    peer: RtpPeer,
    log: Logger,
    onStart?: () => void,
  ): SharedVideoEncoder | null {
    let encoder = this.shared.find((e) => e.codec === codec) ?? null;
    if (!encoder) {
      encoder = SharedVideoEncoder.create(this.profile, codec, log, this.sharedHoldMs);
      if (!encoder) return null;
      this.shared.push(encoder);
    }
    encoder.attach(peer, performance.now(), onStart);
    return encoder;
  }

  /** The last receiver of a codec leaving closes its encoder (and its native thread). */
  detachShared(codec: SharedVideoCodec, peer: RtpPeer): void {
    const i = this.shared.findIndex((e) => e.codec === codec);
    if (i < 0) return;
    const encoder = this.shared[i];
    encoder.detach(peer);
    if (encoder.receiverCount > 0) return;
    encoder.close();
    this.shared.splice(i, 1);
  }

  get sharedEncoders(): readonly SharedVideoEncoder[] {
    return this.shared;
  }

  get currentTiles(): readonly Tile[] {
    return this.tiles;
  }

  close(): void {
    this.peerHold?.close();
    this.track.stop();
    for (const encoder of this.shared) encoder.close();
    this.shared.length = 0;
  }
}
