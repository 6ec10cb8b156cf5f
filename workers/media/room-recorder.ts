import * as path from 'node:path';
import type { MediaRequestMap, OutputProfile, Profile, RecordingEndReason } from '../protocol/media';
import type { CaptureLosses } from '../protocol/recording';
import type { Logger } from '../kernel/logger';
import type { I420Frame } from './engine/video/i420';
import { RecordingCancelledError } from '../kernel/errors';
import { COMPOSITE_VIDEO_DELAY_MS, RecordingSegmenter } from './recorder/recording-segmenter';
import { isCaptureStart } from './frame-grid';

/**
 * The room's feed into a recording: the composite of the recording profile (shared with any
 * participant on that profile) and the full mix (everyone, no mix-minus), both on the room's
 * media clocks. Capture only; manifests and finalize belong to the control plane and the
 * recording worker.
 */
export class RoomRecorder {
  readonly recordingId: string;
  readonly profile: Profile;
  onEnded: (interrupted: boolean, reason: RecordingEndReason, detail: string, losses: CaptureLosses) => void =
    () => undefined;
  private readonly segmenter: RecordingSegmenter;
  private ended = false;
  /** Media is fed only once ffmpeg runs; until then the room's clocks simply skip the recorder. */
  private running = false;
  /**
   * Set at the first tick of the running capture that lies on the frame grid (isCaptureStart):
   * from there every picture lands exactly COMPOSITE_VIDEO_DELAY_MS after its frame time, in every
   * recording. Up to 100 ms (30 fps) or 200 ms (15 fps) of the start are not captured for it.
   */
  private feeding = false;
  private readonly fps: number;
  private startup: Promise<void> | null = null;
  private stopping: Promise<MediaRequestMap['recording.stop']['res']> | null = null;

  constructor(
    req: MediaRequestMap['recording.start']['req'],
    profile: OutputProfile,
    private readonly log: Logger,
  ) {
    this.recordingId = req.recordingId;
    this.profile = req.profile;
    this.fps = profile.fps;
    this.segmenter = new RecordingSegmenter({
      recordingId: req.recordingId,
      dir: path.resolve(req.dir),
      width: profile.width,
      height: profile.height,
      fps: profile.fps,
      segmentSeconds: req.segmentSeconds,
      logger: log,
      videoDelayMs: COMPOSITE_VIDEO_DELAY_MS,
    });
    this.segmenter.onExit((code, signal, stderr) => {
      if (this.ended) return;
      this.ended = true;
      // A full disk ends this recording only; the control plane marks it failed with this reason.
      const diskFull = /No space left on device/i.test(stderr);
      this.log.error('recording ffmpeg exited unexpectedly', { code, signal, diskFull });
      this.onEnded(
        true,
        diskFull ? 'disk_full' : 'capture-exited',
        `ffmpeg exited (code ${code}, signal ${signal})`,
        this.segmenter.losses,
      );
    });
  }

  /**
   * Spawns the capture. A stop() that arrives meanwhile (the control plane gave up waiting for
   * this start and sent its compensating stop) wins: the capture is ended as soon as ffmpeg has
   * started and this rejects with RecordingCancelledError, so no capture outlives the request.
   */
  async start(): Promise<void> {
    const startup = this.segmenter.start();
    this.startup = startup;
    await startup;
    if (this.stopping)
      throw new RecordingCancelledError(`recording ${this.recordingId} was stopped while starting`);
    this.running = true;
    this.log.info('recording capture started', { ffmpegPid: this.segmenter.pid });
  }

  pushVideo(frame: I420Frame): void {
    if (this.feeding && !this.ended) this.segmenter.pushVideo(frame);
  }

  /** The room's mix for the tick at `mediaMs`; the capture begins at a tick on the frame grid. */
  pushAudio(samples: Int16Array, mediaMs: number): void {
    if (!this.running || this.ended) return;
    if (!this.feeding) {
      if (!isCaptureStart(mediaMs, this.fps, COMPOSITE_VIDEO_DELAY_MS)) return;
      this.feeding = true;
    }
    this.segmenter.pushAudio(samples);
  }

  /** Whether stop() has been called (the capture is ending or has ended). */
  get isStopping(): boolean {
    return this.stopping !== null;
  }

  /**
   * Ends the capture in any state: while starting it waits for ffmpeg to be up and then closes
   * it (its inputs end at once, so nothing is written); concurrent calls share one stop. Rejects
   * with RecordingCancelledError when the capture never started (its start failed). A capture
   * behind real time is waited for while it encodes its backlog (RecordingSegmenter.stop);
   * `withinMs` bounds that wait, also for a stop already in progress (a worker closing).
   */
  stop(opts: { withinMs?: number } = {}): Promise<MediaRequestMap['recording.stop']['res']> {
    if (opts.withinMs !== undefined) this.segmenter.limitStop(opts.withinMs);
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<MediaRequestMap['recording.stop']['res']> {
    // ffmpeg died: onEnded has already reported it, with its losses.
    if (this.ended) return { interrupted: true, losses: null };
    this.running = false;
    if (!this.startup) {
      this.ended = true;
      throw new RecordingCancelledError(`recording ${this.recordingId} never started`);
    }
    const started = await this.startup.then(
      () => true,
      () => false,
    );
    if (!started) {
      this.ended = true;
      throw new RecordingCancelledError(`recording ${this.recordingId} failed to start`);
    }
    // ffmpeg may have died while it was starting: that end is already reported.
    if (this.ended) return { interrupted: true, losses: null };
    this.ended = true;
    const { interrupted } = await this.segmenter.stop();
    const losses = this.segmenter.losses;
    this.log.info('recording capture stopped', { ...this.segmenter.stats, interrupted });
    if (losses.audioDroppedSec > 0 || losses.videoFramesDropped > 0)
      this.log.warn('the recording lacks what its capture could not keep (the machine was behind)', {
        ...losses,
      });
    this.onEnded(interrupted, 'stopped', 'stopped', losses);
    return { interrupted, losses };
  }
}
