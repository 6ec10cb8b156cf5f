import type { Fit, LayoutKind, OutputProfile } from '../protocol/media';
import type { Logger } from '../kernel/logger';
import { Compositor, type TileSource } from './engine/video/compositor';
import type { I420Frame } from './engine/video/i420';
import { planLayout, type Tile } from './engine/video/layout';
import type { RtpPeer } from './rtp';
import { SharedVideoEncoder } from './shared-video-encoder';
import { RTCVideoSource, type WrtcVideoSource } from './wrtc';

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
 * receivers (H.264 endpoints) one shared H.264 encoder, opened with the first of them.
 */
export class ProfileOutput {
  readonly source: WrtcVideoSource = new RTCVideoSource();
  readonly track: MediaStreamTrack = this.source.createTrack();
  readonly compositor: Compositor;
  /** How many consumers (participants, the recorder) use this profile. */
  users = 0;
  /** Frames handed to the peers' encoders (quality shedding compares it with frames sent). */
  sentFrames = 0;
  composedFrames = 0;
  private tiles: Tile[] = [];
  private planned = false;
  private h264: SharedVideoEncoder | null = null;

  constructor(readonly profile: OutputProfile) {
    this.compositor = new Compositor(profile.width, profile.height);
  }

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
    this.source.onFrame(frame);
    this.h264?.encode(frame, now);
  }

  /**
   * Adds an RTP-level receiver to the profile's shared H.264 encoder (opened on first use);
   * returns the encoder (its keyframe requests go there), or null without the codec addon.
   */
  attachH264(peer: RtpPeer, log: Logger): SharedVideoEncoder | null {
    this.h264 ??= SharedVideoEncoder.create(this.profile, log);
    this.h264?.attach(peer);
    return this.h264;
  }

  /** The last receiver leaving closes the encoder (and its native thread). */
  detachH264(peer: RtpPeer): void {
    if (!this.h264) return;
    this.h264.detach(peer);
    if (this.h264.receiverCount > 0) return;
    this.h264.close();
    this.h264 = null;
  }

  get sharedEncoder(): SharedVideoEncoder | null {
    return this.h264;
  }

  get currentTiles(): readonly Tile[] {
    return this.tiles;
  }

  close(): void {
    this.track.stop();
    this.h264?.close();
    this.h264 = null;
  }
}
