/**
 * A real-time video encoder the media worker controls: one per output profile and codec, fed
 * the room's composite by the frame clock, its packets shared by every receiver of that
 * profile (issue 17). Encoding runs on the encoder's own native thread; the JS thread only
 * copies the frame in and the packet out.
 *
 * Backpressure: at most ONE frame in flight per encoder. encode() while the previous frame is
 * still being encoded returns false and counts the frame in stats.droppedBusy; the clock's next
 * tick offers a fresher frame anyway. Outputs arrive in order, one per accepted frame (unless
 * rate control skipped it: stats.droppedByRateControl, no callback).
 *
 * The EncodedVideoFrame passed to onFrame is reused and its `data` views memory the next frame
 * overwrites: send or copy it before returning.
 */
import { CodecError } from './codec-error';
import {
  codecLog,
  loadCodecAddon,
  NativeCodecAddon,
  NativeEncodeCallback,
  NativeVideoEncoder,
} from './native-codec';

export type VideoCodecName = 'vp8' | 'h264';
export type X264Preset = 'ultrafast' | 'superfast' | 'veryfast' | 'faster' | 'fast' | 'medium';

export interface VideoEncoderOptions {
  codec: VideoCodecName;
  /** Even, 16..4096. */
  width: number;
  height: number;
  /** The rate frames will be offered at; rate control budgets bitrate / fps per frame. */
  fps: number;
  bitrateKbps: number;
  /**
   * Highest bitrate setBitrate() will ask for (default twice bitrateKbps). H.264: the level in
   * the SPS is chosen to allow it, and setBitrate() is capped at that level's maximum.
   */
  maxBitrateKbps?: number;
  /** Periodic keyframe floor, in frames. Default 10 s worth; 0 = only at start and on request. */
  keyframeIntervalFrames?: number;
  /** Encoder threads (default 1: a profile encoder should not take a 2-core box's second core). */
  threads?: number;
  /** Rate-control buffer in ms of the target bitrate (default 1000, libwebrtc's VP8 buffer). */
  bufferMs?: number;
  /** VP8 cpu-used, -16..16 (default libwebrtc's: -6, or -4 below 352x288). Higher magnitude: faster. */
  vp8Speed?: number;
  /** VP8 DCT token partitions (default 1); more let receivers decode on several threads. */
  vp8TokenPartitions?: 1 | 2 | 4 | 8;
  /** Let rate control skip frames when over budget (VP8; libwebrtc allows it). Default false. */
  frameDropping?: boolean;
  /** x264 preset (default 'superfast', see docs/codecs.md for the measurements). */
  x264Preset?: X264Preset;
  /** H.264: cap NAL units at this many bytes (e.g. 1200) so each fits one RTP packet. */
  sliceMaxBytes?: number;
  /** Ids for the log lines (roomId, profile...). */
  logFields?: Record<string, string>;
}

export interface EncodedVideoFrame {
  /** VP8 frame, or an H.264 access unit in Annex B (SPS+PPS+IDR on keyframes). */
  data: Buffer;
  keyframe: boolean;
  /** The pts given to encode(), passed through untouched. */
  pts: number;
  /** Time the native thread spent encoding it. */
  encodeMs: number;
}

export interface VideoEncoderStats {
  submitted: number;
  encoded: number;
  keyframes: number;
  bytes: number;
  /** Offered while a frame was in flight (the backpressure rule). */
  droppedBusy: number;
  droppedByRateControl: number;
  errors: number;
  lastEncodeMs: number;
}

export type EncodedFrameSink = (frame: EncodedVideoFrame) => void;

export class VideoEncoder {
  private readonly native: NativeVideoEncoder;
  private readonly frame: EncodedVideoFrame = { data: Buffer.alloc(0), keyframe: false, pts: 0, encodeMs: 0 };
  private readonly counters: VideoEncoderStats = {
    submitted: 0,
    encoded: 0,
    keyframes: 0,
    bytes: 0,
    droppedBusy: 0,
    droppedByRateControl: 0,
    errors: 0,
    lastEncodeMs: 0,
  };
  private inFlight = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private readonly log: typeof codecLog;
  private readonly frameBytes: number;

  /** Null when the codec addon is not available (see codecsAvailable()); throws CodecError on bad options. */
  static create(options: VideoEncoderOptions, onFrame: EncodedFrameSink): VideoEncoder | null {
    const addon = loadCodecAddon();
    if (addon === null) return null;
    return new VideoEncoder(addon, options, onFrame);
  }

  private constructor(
    addon: NativeCodecAddon,
    readonly options: Readonly<VideoEncoderOptions>,
    private readonly onFrame: EncodedFrameSink,
  ) {
    this.log = codecLog.child({
      codec: options.codec,
      width: options.width,
      height: options.height,
      ...options.logFields,
    });
    this.frameBytes =
      options.width * options.height + 2 * ((options.width + 1) >> 1) * ((options.height + 1) >> 1);
    const { logFields: _ids, ...settings } = options;
    try {
      this.native = new addon.VideoEncoder(
        { keyframeIntervalFrames: options.fps * 10, x264Preset: 'superfast', ...settings },
        this.onNativeOutput,
      );
    } catch (err) {
      throw new CodecError((err as Error).message);
    }
    this.log.debug('video encoder open', { bitrateKbps: options.bitrateKbps, fps: options.fps });
  }

  /**
   * Copies an I420 frame (planes packed, at least width*height*1.5 bytes) and queues it.
   * False when the previous frame is still in flight (counted in droppedBusy) or when closed.
   */
  encode(i420: Uint8Array | Uint8ClampedArray, pts: number): boolean {
    if (this.closed) return false;
    if (i420.byteLength < this.frameBytes) {
      throw new CodecError(
        `frame of ${i420.byteLength} bytes, expected ${this.frameBytes} (I420 at the encoder size)`,
      );
    }
    if (!this.native.encode(i420, pts)) {
      this.counters.droppedBusy++;
      return false;
    }
    this.counters.submitted++;
    this.inFlight++;
    return true;
  }

  /** The next frame passed to encode() comes out as a keyframe (VP8) / IDR with SPS+PPS (H.264). */
  requestKeyframe(): void {
    if (!this.closed) this.native.requestKeyframe();
  }

  /** Target bitrate from the next frame passed to encode() on; no restart, no keyframe. */
  setBitrate(kbps: number): void {
    if (this.closed) return;
    this.native.setBitrate(Math.round(kbps));
    this.log.debug('video encoder bitrate', { bitrateKbps: Math.round(kbps) });
  }

  /** True while a frame is in flight (encode() would drop). */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** H.264 level_idc written in the SPS (e.g. 31 for 3.1); 0 for VP8. */
  get h264Level(): number {
    return this.native.level();
  }

  /** Live counters (read-only view; updated in place). */
  get stats(): Readonly<VideoEncoderStats> {
    return this.counters;
  }

  /** Resolves once no frame is in flight (immediately when idle or closed). */
  idle(): Promise<void> {
    if (this.inFlight === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops the native thread (waits for the frame being encoded, drops its output). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
    this.inFlight = 0;
    this.wakeIdle();
    this.log.debug('video encoder closed', { ...this.counters });
  }

  /**
   * Called by the native thread's result, on the JS thread, once per accepted frame. Held by
   * this object: the addon keeps only a weak reference, so a forgotten encoder can be collected.
   */
  private readonly onNativeOutput: NativeEncodeCallback = (
    buffer,
    byteLength,
    keyframe,
    pts,
    encodeUs,
    dropped,
    error,
  ) => {
    this.inFlight--;
    const c = this.counters;
    c.lastEncodeMs = encodeUs / 1000;
    try {
      if (error !== undefined) {
        c.errors++;
        this.log.error('video encode failed', { err: new CodecError(error) });
      } else if (dropped) {
        c.droppedByRateControl++;
      } else {
        c.encoded++;
        c.bytes += byteLength;
        if (keyframe) c.keyframes++;
        const f = this.frame;
        f.data = Buffer.from(buffer, 0, byteLength);
        f.keyframe = keyframe;
        f.pts = pts;
        f.encodeMs = c.lastEncodeMs;
        this.onFrame(f);
      }
    } finally {
      if (this.inFlight === 0) this.wakeIdle();
    }
  };

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    if (waiters.length === 0) return;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
