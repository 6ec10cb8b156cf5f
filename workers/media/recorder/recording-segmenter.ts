import { execFile, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, createWriteStream, type WriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import ffmpeg from 'fluent-ffmpeg';
import type { Logger } from '../../kernel/logger';
import { RECORDING_DRAIN_MAX_MS } from '../../protocol/media';
import { RECORDING_FILES, type CaptureLosses } from '../../protocol/recording';
import { DEFAULT_TERM_GRACE_MS, settlesWithin, terminate } from '../../kernel/process-control';
import { FrameSizeError, SegmenterStateError } from './errors';
import { FrameBufferPool } from './frame-buffer-pool';

export const AUDIO_SAMPLE_RATE = 48000;
/** One mixer tick: 10 ms of mono audio at 48 kHz. */
export const AUDIO_SAMPLES_PER_PUSH = 480;

export interface RecordingSegmenterOptions {
  recordingId: string;
  /** RECORDINGS_DIR/<id>; segments go to <dir>/segments. */
  dir: string;
  width: number;
  height: number;
  fps: number;
  segmentSeconds: number;
  logger: Logger;
  /** fluent-ffmpeg keeps this for the whole process (setFfmpegPath), not for this command only. */
  ffmpegPath?: string;
  /**
   * How long stop() waits without any progress from ffmpeg (frames encoded, input taken) before
   * SIGTERM: a capture that is behind (a loaded machine) is encoding its backlog and is waited
   * for as long as it moves. Default 15 s.
   */
  stopTimeoutMs?: number;
  /**
   * The longest stop() waits for ffmpeg in all, progress or not (then SIGTERM): a live output
   * (egress) sets it as low as stopTimeoutMs, since its backlog is stale; a recording's default
   * is RECORDING_DRAIN_MAX_MS. limitStop() can lower it.
   */
  stopMaxMs?: number;
  /** Video frames allowed to wait for ffmpeg's stdin before new ones are dropped. */
  maxQueuedVideoFrames?: number;
  /**
   * Raw frames ffmpeg itself may hold between reading its stdin and encoding them (its input
   * thread's queue, `-thread_queue_size` of the video input). Default VIDEO_THREAD_QUEUE_FRAMES.
   */
  ffmpegVideoQueueFrames?: number;
  /** Bytes of audio allowed to wait for the FIFO before ticks are dropped. Default 10 s. */
  maxAudioBacklogBytes?: number;
  /**
   * Each frame is written this much later on the audio timeline than it is pushed (ms, ≥ 0):
   * the first frame fills the slots before it. See RECORDING_VIDEO_DELAY_MS (room-recorder.ts).
   */
  videoDelayMs?: number;
  /**
   * Instead of segment files: ffmpeg's output options (codecs, muxer) and a stream that takes its
   * stdout. Live egress uses this (workers/media/egress): the raw feed and its A/V pacing are
   * the same, only the encode and where it goes differ.
   */
  output?: { options: string[]; stream: Writable };
}

export interface SegmenterStats {
  audioSamplesWritten: number;
  videoFramesWritten: number;
  /** Extra copies written to keep video up with the audio clock. */
  videoFramesDuplicated: number;
  /** Pushed frames not needed because video was ahead of the audio clock. */
  videoFramesSkipped: number;
  /** Frames lost to back-pressure (ffmpeg not draining stdin). */
  videoFramesDropped: number;
  /**
   * Audio samples not written because ffmpeg had not read the last `maxAudioBacklogBytes` (it is
   * stuck). They are not counted as written, so video stays in step and the file skips that time.
   */
  audioSamplesDropped: number;
}

/** `stderr` is the tail of ffmpeg's error output: it says why (e.g. "No space left on device"). */
export type SegmenterExitListener = (
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
) => void;

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'died';

const AUDIO_FIFO = 'audio.fifo';
/**
 * ~10 s of audio waiting for ffmpeg (on top of the FIFO's 64 KB and ffmpeg's own ~11 s input
 * queue) means it is stuck: from there on audio ticks are dropped instead of queued.
 */
const AUDIO_BACKLOG_MAX_BYTES = AUDIO_SAMPLE_RATE * 2 * 10;
/**
 * ffmpeg's own queue of raw video frames between its stdin reader thread and the encoder. It was
 * 512 (ffmpeg's advice for live inputs): at 1280x720 that is 707 MB of raw frames ffmpeg will
 * buffer when x264 falls behind (measured: capture ffmpeg RSS 531 MB fed in real time with frames
 * x264 could not encode in time, 757 MB at 3x; 270-500 MB in the soak benchmark), and a stop
 * then waits for all of it to be encoded. With a short queue ffmpeg stops reading stdin instead,
 * our own bounded queue (maxQueuedVideoFrames) fills and frames are dropped, counted and logged.
 */
export const VIDEO_THREAD_QUEUE_FRAMES = 8;

/** How often stop() looks at ffmpeg's progress, and how often it logs it while waiting. */
const STOP_POLL_MS = 250;
const STOP_LOG_EVERY_MS = 5000;
/** A line of ffmpeg's -progress report: `frame=42`, `out_time_us=…`, `progress=continue`. */
const PROGRESS_LINE = /^([a-z_0-9]+)=\s*(\S*)$/;

/**
 * The video delay of a room's composite feed (recordings and live egress): its picture is
 * written this much later against the mix than the media clock pushes it. Measured end to end
 * (bench/lip-sync.ts, docs/lip-sync.md) once the recording's own drift was fixed, the room's
 * composite has the sound 32-49 ms after the picture (median 36 over three 3-minute runs on a
 * quiet machine): the lip-sync estimate (av-sync.ts) under-counts the audio path by that much.
 * It is not raised there because what a participant receives also passes its own peer
 * connection, whose video encode and pacing delay the picture by about as much, so live
 * participants are in step with the composite as it is (sound 6-23 ms late at their sinks);
 * only the files and streams made from the composite itself lack that delay, and get it here.
 */
export const COMPOSITE_VIDEO_DELAY_MS = 40;

/**
 * Frames that must exist once a frame arriving after `audioSamples` samples of audio is written:
 * the new frame takes the slot whose interval contains the audio time plus the video delay, i.e.
 * index floor(t * fps). (round(t * fps) frames would put every frame about one frame early:
 * measured 34 ms at 15 and 30 fps.)
 */
export function framesDue(audioSamples: number, fps: number, videoDelaySamples: number): number {
  return Math.floor(((audioSamples + videoDelaySamples) * fps) / AUDIO_SAMPLE_RATE) + 1;
}

/**
 * Turns the room's composed I420 frames and mixed PCM into MPEG-TS segments (H.264 + AAC) with
 * one ffmpeg process driven through fluent-ffmpeg.
 *
 * Inputs: video goes to ffmpeg's stdin, audio through a FIFO in the recording directory. ffmpeg has
 * one stdin, so one input needs another pipe; video takes stdin because it is the heavy stream
 * (41 MB/s at 720p30) and the one we drop under back-pressure, which we observe on that socket.
 * Audio is ~96 KB/s; the FIFO's kernel buffer alone holds ~0.7 s of it.
 *
 * Timing: both inputs are timestamped by ffmpeg from counts (frames / fps, samples / 48000), so
 * what we write decides sync. Audio is the master clock: after N audio samples the video must have
 * floor(N / 48000 * fps) + 1 frames. Each pushVideo writes the frame as many times as needed to reach
 * that count (duplicates) or not at all (video ahead). Drift cannot accumulate because the target
 * is recomputed from the audio count every time, never from wall-clock arrival.
 */
export class RecordingSegmenter {
  private readonly log: Logger;
  private readonly frameBytes: number;
  private readonly stopTimeoutMs: number;
  /** Date.now() bound of a stop in progress (stop() sets it, limitStop() lowers it). */
  private stopDeadline = Infinity;
  private readonly stopMaxMs: number;
  /**
   * ffmpeg's progress while stopping: frames it has taken from its stdin (the write callbacks;
   * Node hands a queue of frames to the pipe in one writev and calls back when all of it is
   * taken, so this moves in steps) and frames it has encoded (its -progress report).
   */
  private framesTaken = 0;
  private framesEncoded = 0;
  private readonly maxQueuedFrames: number;
  private readonly maxAudioBacklogBytes: number;
  /** videoDelayMs as audio samples. */
  private readonly videoDelaySamples: number;
  private state: State = 'idle';
  private command: ffmpeg.FfmpegCommand | undefined;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private audioOut: WriteStream | undefined;
  private readonly exitListeners: SegmenterExitListener[] = [];
  private stderrTail: string[] = [];

  private readonly pool: FrameBufferPool;
  /** Held (one pool reference) so stop() can pad the video with it. */
  private lastFrame: Buffer | undefined;
  private queuedFrames = 0;
  private dropping = false;
  private droppingAudio = false;
  private readonly counters: SegmenterStats = {
    audioSamplesWritten: 0,
    videoFramesWritten: 0,
    videoFramesDuplicated: 0,
    videoFramesSkipped: 0,
    videoFramesDropped: 0,
    audioSamplesDropped: 0,
  };

  constructor(private readonly opts: RecordingSegmenterOptions) {
    const { width, height, fps, segmentSeconds } = opts;
    // yuv420p and libx264 need even sizes; anything else is a profile bug, caught here.
    if (!(width > 0 && height > 0 && width % 2 === 0 && height % 2 === 0)) {
      throw new FrameSizeError(`recording size ${width}x${height} must be positive and even`);
    }
    if (!(fps > 0 && Number.isInteger(fps)))
      throw new SegmenterStateError(`fps ${fps} must be a positive integer`);
    if (!(segmentSeconds > 0)) throw new SegmenterStateError(`segmentSeconds ${segmentSeconds} must be > 0`);
    this.log = opts.logger.child({ recordingId: opts.recordingId });
    this.frameBytes = (width * height * 3) / 2;
    this.pool = new FrameBufferPool(this.frameBytes);
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 15000;
    this.stopMaxMs = opts.stopMaxMs ?? RECORDING_DRAIN_MAX_MS;
    this.maxQueuedFrames = opts.maxQueuedVideoFrames ?? Math.max(2, Math.ceil(fps / 3));
    this.maxAudioBacklogBytes = opts.maxAudioBacklogBytes ?? AUDIO_BACKLOG_MAX_BYTES;
    const delay = opts.videoDelayMs ?? 0;
    if (!(delay >= 0 && delay <= 1000)) throw new SegmenterStateError(`videoDelayMs ${delay} must be 0-1000`);
    this.videoDelaySamples = Math.round((delay * AUDIO_SAMPLE_RATE) / 1000);
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get stats(): SegmenterStats {
    return { ...this.counters };
  }

  /** Called once if ffmpeg dies while recording (not when stop() ends it). */
  onExit(listener: SegmenterExitListener): void {
    this.exitListeners.push(listener);
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') throw new SegmenterStateError(`start() called while ${this.state}`);
    this.state = 'starting';
    const { dir, width, height, fps, segmentSeconds } = this.opts;
    const segmentsDir = path.join(dir, RECORDING_FILES.segmentsDir);
    await fs.mkdir(this.opts.output ? dir : segmentsDir, { recursive: true });
    const fifo = path.join(dir, AUDIO_FIFO);
    await fs.rm(fifo, { force: true }); // left over by a crashed capture of this recording
    await promisify(execFile)('mkfifo', ['-m', '600', fifo]);

    const gop = Math.max(1, Math.round(fps * segmentSeconds));
    const command = ffmpeg()
      .input('pipe:0')
      .inputOptions([
        '-f rawvideo',
        '-pix_fmt yuv420p',
        `-s ${width}x${height}`,
        `-r ${fps}`,
        `-thread_queue_size ${this.opts.ffmpegVideoQueueFrames ?? VIDEO_THREAD_QUEUE_FRAMES}`,
      ])
      .input(fifo)
      // Raw PCM has nothing to probe; without these ffmpeg waits for ~0.5 s of (real-time) audio
      // before it starts reading video, and video would be dropped meanwhile.
      .inputOptions([
        '-f s16le',
        `-ar ${AUDIO_SAMPLE_RATE}`,
        '-ch_layout mono',
        '-thread_queue_size 512',
        '-probesize 32',
        '-analyzeduration 0',
      ]);
    if (this.opts.output) {
      command
        .outputOptions(['-map 0:v', '-map 1:a', ...this.opts.output.options])
        .output(this.opts.output.stream);
    } else {
      command
        .outputOptions([
          '-map 0:v',
          '-map 1:a',
          '-c:v libx264',
          '-preset veryfast',
          '-tune zerolatency',
          '-pix_fmt yuv420p',
          // A keyframe exactly every segment: each segment then decodes on its own, and a crash
          // loses at most the segment being written.
          `-g ${gop}`,
          `-keyint_min ${gop}`,
          '-sc_threshold 0',
          '-c:a aac',
          '-b:a 96k',
          '-f segment',
          `-segment_time ${segmentSeconds}`,
          '-segment_format mpegts',
        ])
        .output(path.join(segmentsDir, 'seg-%05d.ts'));
    }
    if (this.opts.ffmpegPath) command.setFfmpegPath(this.opts.ffmpegPath);
    // -progress: `frame=N` every half second on stderr (keepStderr), what a stop watches while
    // ffmpeg encodes a backlog.
    command
      .addOption('-hide_banner')
      .addOption('-loglevel', 'warning')
      .addOption('-nostats')
      .addOption('-progress', 'pipe:2');
    this.command = command;

    await new Promise<void>((resolve, reject) => {
      command.on('start', (cmdline: string) => {
        // fluent-ffmpeg keeps the child in a field without a typed accessor; we need it for the
        // pid, stdin and the exit code/signal.
        const proc = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
        if (!proc?.stdin) {
          reject(new SegmenterStateError('ffmpeg started without a stdin pipe'));
          return;
        }
        this.attach(proc, fifo);
        this.log.info('recording capture started', { pid: proc.pid, cmdline });
        resolve();
      });
      command.on('stderr', (line: string) => this.keepStderr(line));
      // fluent-ffmpeg reports every non-zero exit here; the exit handler decides what it means.
      command.on('error', (err: Error) => {
        if (this.state === 'starting') {
          this.state = 'died';
          reject(err);
        }
      });
      command.run();
    });
    // ffmpeg may already have died between 'start' and here; handleExit then set 'died'.
    if (this.state === 'starting') this.state = 'running';
  }

  /** Writes one composed frame (exactly width x height, I420). Returns false if it was not written. */
  pushVideo(frame: { width: number; height: number; data: Uint8Array }): boolean {
    if (!this.acceptsMedia('pushVideo')) return false;
    if (
      frame.width !== this.opts.width ||
      frame.height !== this.opts.height ||
      frame.data.length !== this.frameBytes
    ) {
      throw new FrameSizeError(
        `frame ${frame.width}x${frame.height} (${frame.data.length} B) is not ${this.opts.width}x${this.opts.height} I420`,
      );
    }
    const due = this.framesDue() - this.counters.videoFramesWritten;
    if (due <= 0) {
      this.counters.videoFramesSkipped++;
      return false;
    }
    const room = this.maxQueuedFrames - this.queuedFrames;
    if (room <= 0) {
      this.noteDrop(1);
      return false;
    }
    const copies = Math.min(due, room);
    // After a stall several slots are due: the old picture holds the missed ones and the new
    // frame takes the last, so it appears at its own time rather than early.
    const held = this.lastFrame ? copies - 1 : 0;
    if (held > 0 && this.lastFrame) this.writeFrame(this.lastFrame, held, held);
    const buf = this.pool.acquire();
    buf.set(frame.data);
    this.setLastFrame(buf);
    this.writeFrame(buf, copies - held);
    // Slots left unfilled are not lost frames: the next accepted frame fills them (duplicates).
    if (copies < due) this.noteDrop(0);
    else if (this.dropping) {
      this.dropping = false;
      this.log.info('recording video caught up', { droppedSoFar: this.counters.videoFramesDropped });
    }
    return true;
  }

  /**
   * Writes 10 ms of mono 48 kHz PCM. Audio is the clock and is dropped only when ffmpeg has
   * stopped reading it (more than maxAudioBacklogBytes waiting): a dropped tick is not counted,
   * so video (due from the audio count) pauses with it and the file skips that time in sync.
   */
  pushAudio(samples: Int16Array): boolean {
    if (!this.acceptsMedia('pushAudio') || !this.audioOut) return false;
    const backlog = this.audioOut.writableLength;
    if (backlog >= this.maxAudioBacklogBytes) {
      this.counters.audioSamplesDropped += samples.length;
      if (!this.droppingAudio) {
        this.droppingAudio = true;
        this.log.warn('ffmpeg is not reading recording audio: dropping it', {
          backlogBytes: backlog,
          droppedSamplesSoFar: this.counters.audioSamplesDropped,
        });
      }
      return false;
    }
    if (this.droppingAudio) {
      this.droppingAudio = false;
      this.log.info('recording audio caught up', { droppedSamplesSoFar: this.counters.audioSamplesDropped });
    }
    // Copy: the mixer reuses its output buffer on the next tick. s16le matches the host byte
    // order on every platform we run on (x86-64, arm64).
    this.audioOut.write(Buffer.from(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength)));
    this.counters.audioSamplesWritten += samples.length;
    return true;
  }

  /** What this capture could not keep so far (for the recording's manifest). */
  get losses(): CaptureLosses {
    return {
      audioDroppedSec: Math.round((this.counters.audioSamplesDropped / AUDIO_SAMPLE_RATE) * 100) / 100,
      videoFramesDropped: this.counters.videoFramesDropped,
    };
  }

  /** Bytes waiting in our queues for ffmpeg: raw video frames on stdin and audio for the FIFO. */
  get backlogBytes(): { video: number; audio: number } {
    return { video: this.queuedFrames * this.frameBytes, audio: this.audioOut?.writableLength ?? 0 };
  }

  /**
   * Graceful stop: pads video up to the audio clock, closes both inputs and lets ffmpeg encode
   * what it was given and finish the last segment. It is waited for as long as it makes progress
   * (a capture behind real time has a backlog to encode) within stopMaxMs (or what limitStop()
   * left); SIGTERM once it has not moved for stopTimeoutMs or that bound is reached,
   * SIGKILL after a further grace period. `interrupted` is true if ffmpeg died earlier or had to
   * be killed now.
   */
  async stop(): Promise<{ interrupted: boolean }> {
    if (this.state === 'idle') throw new SegmenterStateError('stop() before start()');
    if (this.state === 'starting') throw new SegmenterStateError('stop() before start() resolved');
    if (this.state === 'stopping' || this.state === 'stopped')
      throw new SegmenterStateError('stop() called twice');
    const diedBefore = this.state === 'died';
    let interrupted = diedBefore;
    if (!diedBefore) {
      this.state = 'stopping';
      this.limitStop(this.stopMaxMs);
      this.alignEnds();
      this.proc?.stdin?.end();
      this.audioOut?.end();
      let exitCode: number | null = null;
      let exitSignal: NodeJS.Signals | null = null;
      this.proc?.once('exit', (code, signal) => {
        exitCode = code;
        exitSignal = signal;
      });
      const gaveUp = await this.drain();
      if (gaveUp && this.proc) {
        const used = await terminate(this.proc, this.exited, DEFAULT_TERM_GRACE_MS);
        this.log.warn('ffmpeg did not finish the recording in time', {
          why: gaveUp,
          stallMs: this.stopTimeoutMs,
          used,
          framesNotEncoded: this.queuedFrames,
          audioBytesNotEncoded: this.audioOut?.writableLength ?? 0,
        });
        interrupted = true;
      } else if (exitCode !== 0 || exitSignal) {
        // A non-zero exit on a clean close means the last segment may be cut short.
        interrupted = true;
        this.log.warn('ffmpeg exited abnormally on stop', {
          code: exitCode,
          signal: exitSignal,
          stderr: this.stderrText(),
        });
      }
    }
    this.state = 'stopped';
    await fs.rm(path.join(this.opts.dir, AUDIO_FIFO), { force: true });
    this.log.info('recording capture stopped', { interrupted, ...this.counters });
    return { interrupted };
  }

  /**
   * Lowers the bound of a stop in progress (or of the next one) to `ms` from now: a worker
   * closing gives its capture what its own exit bound leaves.
   */
  limitStop(ms: number): void {
    this.stopDeadline = Math.min(this.stopDeadline, Date.now() + ms);
  }

  /**
   * Waits for ffmpeg to exit after its inputs were closed. Resolves null when it did, else why it
   * is given up: it took no input for stopTimeoutMs, or the stop's bound was reached. Logs its
   * progress while it works through a backlog.
   */
  private async drain(): Promise<'no progress' | 'stop bound reached' | null> {
    const started = Date.now();
    let taken = this.taken();
    let progressAt = started;
    let loggedAt = started;
    for (;;) {
      if (await settlesWithin(this.exited, STOP_POLL_MS)) return null;
      const now = Date.now();
      const t = this.taken();
      if (t !== taken) {
        taken = t;
        progressAt = now;
      }
      if (now - progressAt >= this.stopTimeoutMs) return 'no progress';
      if (now >= this.stopDeadline) return 'stop bound reached';
      if (now - loggedAt >= STOP_LOG_EVERY_MS) {
        loggedAt = now;
        this.log.info('recording stop: ffmpeg is still encoding its backlog', {
          waitedMs: now - started,
          framesEncoded: this.framesEncoded,
          secondsToEncode:
            Math.round(((this.counters.videoFramesWritten - this.framesEncoded) / this.opts.fps) * 10) / 10,
          framesToTake: this.queuedFrames,
          audioBytesToTake: this.audioOut?.writableLength ?? 0,
        });
      }
    }
  }

  /** Moves while ffmpeg works: frames encoded and taken, audio bytes taken. */
  private taken(): number {
    return this.framesEncoded + this.framesTaken + (this.audioOut?.bytesWritten ?? 0);
  }

  private attach(proc: ChildProcess, fifo: string): void {
    this.proc = proc;
    this.exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // EPIPE after ffmpeg died: the exit handler reports the death; nothing to do per write.
    proc.stdin?.on('error', (err) => this.log.debug('ffmpeg stdin closed', { err }));
    // Opening a FIFO for writing blocks (in libuv's thread pool) until ffmpeg opens it for reading.
    const audioOut = createWriteStream(fifo, { highWaterMark: 64 * 1024 });
    audioOut.on('error', (err) => this.log.debug('recording audio fifo closed', { err }));
    this.audioOut = audioOut;
    proc.once('exit', (code, signal) => this.handleExit(code, signal, fifo));
  }

  private handleExit(code: number | null, signal: NodeJS.Signals | null, fifo: string): void {
    if (this.audioOut?.pending) {
      // ffmpeg died before opening the FIFO: our open() would block a libuv thread forever.
      // Opening the read end ourselves releases it; the write then fails with EPIPE and is dropped.
      void fs
        .open(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
        .then((h) => h.close())
        .catch(() => undefined);
    }
    this.audioOut?.destroy();
    if (this.state !== 'running' && this.state !== 'starting') return;
    this.state = 'died';
    this.log.error('recording ffmpeg died', { pid: this.proc?.pid, code, signal, stderr: this.stderrText() });
    for (const listener of this.exitListeners) {
      try {
        listener(code, signal, this.stderrText());
      } catch (err) {
        this.log.error('recording exit listener threw', { err });
      }
    }
  }

  private acceptsMedia(method: string): boolean {
    if (this.state === 'running') return true;
    if (this.state === 'idle' || this.state === 'starting') {
      throw new SegmenterStateError(`${method}() before start() resolved`);
    }
    return false; // stopping, stopped or died: late ticks of the media loop are ignored
  }

  private framesDue(): number {
    return framesDue(this.counters.audioSamplesWritten, this.opts.fps, this.videoDelaySamples);
  }

  /** `duplicates`: how many of the copies repeat an earlier picture (for the stats). */
  private writeFrame(buf: Buffer, copies: number, duplicates = copies - 1): void {
    const stdin = this.proc?.stdin;
    if (!stdin || stdin.destroyed) return;
    for (let i = 0; i < copies; i++) {
      this.queuedFrames++;
      this.pool.retain(buf);
      stdin.write(buf, () => {
        this.queuedFrames--;
        this.framesTaken++;
        this.pool.release(buf);
      });
    }
    this.counters.videoFramesWritten += copies;
    this.counters.videoFramesDuplicated += duplicates;
  }

  /**
   * At stop, end both streams on the same video frame boundary: silence up to the end of the
   * last frame, then the last frame (or black) repeated up to the audio. Without this the two
   * streams' lengths differ by up to a frame.
   */
  private alignEnds(): void {
    const { fps } = this.opts;
    const c = this.counters;
    const frames = Math.max(
      c.videoFramesWritten,
      Math.ceil((c.audioSamplesWritten * fps) / AUDIO_SAMPLE_RATE),
    );
    const silence = Math.round((frames * AUDIO_SAMPLE_RATE) / fps) - c.audioSamplesWritten;
    if (silence > 0 && this.audioOut) {
      this.audioOut.write(Buffer.alloc(silence * 2));
      c.audioSamplesWritten += silence;
    }
    const due = frames - c.videoFramesWritten;
    if (due <= 0) return;
    let buf = this.lastFrame;
    if (!buf) {
      buf = this.pool.acquire();
      const luma = this.opts.width * this.opts.height;
      buf.fill(16, 0, luma); // black in limited-range YUV
      buf.fill(128, luma);
      this.setLastFrame(buf);
    }
    this.writeFrame(buf, due);
  }

  /** Takes over the caller's reference to `buf` and releases the previous last frame. */
  private setLastFrame(buf: Buffer): void {
    const previous = this.lastFrame;
    this.lastFrame = buf;
    if (previous) this.pool.release(previous);
  }

  /** `frames`: pushed frames not written at all (0: only behind, slots to be filled later). */
  private noteDrop(frames: number): void {
    this.counters.videoFramesDropped += frames;
    if (!this.dropping) {
      this.dropping = true;
      this.log.warn('ffmpeg is not keeping up: dropping recording video', {
        queuedFrames: this.queuedFrames,
        droppedSoFar: this.counters.videoFramesDropped,
      });
    }
  }

  private keepStderr(line: string): void {
    // -progress blocks are `key=value` lines; only the frame count is used. Error lines never
    // start that way (they start with `[component @ …]` or a capital letter).
    const progress = PROGRESS_LINE.exec(line);
    if (progress) {
      if (progress[1] === 'frame') this.framesEncoded = Number(progress[2]);
      return;
    }
    this.stderrTail.push(line);
    if (this.stderrTail.length > 20) this.stderrTail = this.stderrTail.slice(-20);
  }

  private stderrText(): string {
    return this.stderrTail.join(' | ');
  }
}
