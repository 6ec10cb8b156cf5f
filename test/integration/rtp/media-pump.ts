import { mediaTimestamp, systemRtpClock, type RtpPeer } from '../../../workers/media/rtp';
import { FPS, type EncodedFrame } from './media-files';

/**
 * Plays pre-encoded video (15 fps) and Opus (20 ms) into an RtpPeer in real time, both stamped
 * from the one RTP clock; a keyframe request restarts the video at its first (key) frame, as an
 * encoder would answer it. `startAt` lets a test begin in the middle of a GOP.
 */
export class MediaPump {
  private timers: NodeJS.Timeout[] = [];
  private videoIndex: number;
  keyframeRequests = 0;

  constructor(
    private readonly peer: RtpPeer,
    private readonly video: EncodedFrame[],
    private readonly audio: Uint8Array[],
    opts: { startAt?: number; claimKeyframe?: boolean } = {},
  ) {
    this.videoIndex = opts.startAt ?? 0;
    this.claimKeyframe = opts.claimKeyframe ?? false;
    peer.on('keyframe-request', (r) => {
      if (r.reason === 'start') return; // we start at a keyframe (or claim one) anyway
      this.keyframeRequests++;
      this.videoIndex = 0;
      this.claimKeyframe = false;
    });
  }

  /** Sends frames flagged as keyframes even when they are not (a stream joined mid-GOP). */
  private claimKeyframe: boolean;

  start(): void {
    const clock = systemRtpClock;
    const t0 = clock.nowMs();
    let v = 0;
    let a = 0;
    const videoTick = () => {
      const f = this.video[this.videoIndex % this.video.length];
      this.peer.sendVideoFrame(
        f.data,
        mediaTimestamp(clock.nowMs(), 90000),
        f.keyframe || this.claimKeyframe,
      );
      this.videoIndex++;
      v++;
      this.timers[0] = setTimeout(videoTick, Math.max(0, t0 + (v * 1000) / FPS - clock.nowMs()));
    };
    const audioTick = () => {
      if (this.audio.length > 0)
        this.peer.sendAudio(this.audio[a % this.audio.length], mediaTimestamp(t0 + a * 20, 48000));
      a++;
      this.timers[1] = setTimeout(audioTick, Math.max(0, t0 + a * 20 - clock.nowMs()));
    };
    videoTick();
    audioTick();
  }

  stop(): void {
    this.timers.forEach((t) => clearTimeout(t));
  }
}
