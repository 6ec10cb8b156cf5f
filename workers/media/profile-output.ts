import type { Fit, LayoutKind, OutputProfile } from '../protocol/media';
import { Compositor, type TileSource } from './engine/video/compositor';
import type { I420Frame } from './engine/video/i420';
import { planLayout, type Tile } from './engine/video/layout';
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
 * one track that each peer connection encodes in its own negotiated codec.
 */
export class ProfileOutput {
  readonly source: WrtcVideoSource = new RTCVideoSource();
  readonly track: MediaStreamTrack = this.source.createTrack();
  readonly compositor: Compositor;
  /** How many consumers (participants, the recorder) use this profile. */
  users = 0;
  composedFrames = 0;
  private tiles: Tile[] = [];
  private planned = false;

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

  send(frame: I420Frame): void {
    this.source.onFrame(frame);
  }

  get currentTiles(): readonly Tile[] {
    return this.tiles;
  }

  close(): void {
    this.track.stop();
  }
}
