import * as path from 'node:path';
import type { MediaRequestMap, OutputProfile, Profile } from '../protocol/media';
import type { Logger } from '../../src/common/logger';
import type { I420Frame } from './engine/video/i420';
import { RecordingSegmenter } from './recorder/recording-segmenter';

/**
 * The room's feed into a recording: the composite of the recording profile (shared with any
 * participant on that profile) and the full mix (everyone, no mix-minus), both on the room's
 * media clocks. Capture only; manifests and finalize belong to the control plane and the
 * recording worker.
 */
export class RoomRecorder {
  readonly recordingId: string;
  readonly profile: Profile;
  onEnded: (interrupted: boolean, reason: string) => void = () => undefined;
  private readonly segmenter: RecordingSegmenter;
  private ended = false;
  /** Media is fed only once ffmpeg runs; until then the room's clocks simply skip the recorder. */
  private running = false;

  constructor(
    req: MediaRequestMap['recording.start']['req'],
    profile: OutputProfile,
    private readonly log: Logger,
  ) {
    this.recordingId = req.recordingId;
    this.profile = req.profile;
    this.segmenter = new RecordingSegmenter({
      recordingId: req.recordingId,
      dir: path.resolve(req.dir),
      width: profile.width,
      height: profile.height,
      fps: profile.fps,
      segmentSeconds: req.segmentSeconds,
      logger: log,
    });
    this.segmenter.onExit((code, signal) => {
      if (this.ended) return;
      this.ended = true;
      this.log.error('recording ffmpeg exited unexpectedly', { code, signal });
      this.onEnded(true, `ffmpeg exited (code ${code}, signal ${signal})`);
    });
  }

  async start(): Promise<void> {
    await this.segmenter.start();
    this.running = true;
    this.log.info('recording capture started', { ffmpegPid: this.segmenter.pid });
  }

  pushVideo(frame: I420Frame): void {
    if (this.running && !this.ended) this.segmenter.pushVideo(frame);
  }

  pushAudio(samples: Int16Array): void {
    if (this.running && !this.ended) this.segmenter.pushAudio(samples);
  }

  async stop(): Promise<{ interrupted: boolean }> {
    if (this.ended) return { interrupted: true };
    this.ended = true;
    this.running = false;
    const result = await this.segmenter.stop();
    this.log.info('recording capture stopped', { ...this.segmenter.stats, interrupted: result.interrupted });
    this.onEnded(result.interrupted, 'stopped');
    return result;
  }
}
