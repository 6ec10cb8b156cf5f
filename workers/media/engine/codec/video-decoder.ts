/**
 * A video decoder for uplinks the RTP-level stack receives (H.264 endpoints, issue 14; VP8 as
 * well): access units in, I420 pictures out, decoded on the decoder's own native thread.
 *
 * Loss: the decoder never shows a picture built on a missing reference. After a lost frame
 * (seen in H.264's frame_num, told by the caller with `lostBefore`, or a decode error) every
 * unit is answered with onKeyframeNeeded until a keyframe (IDR) arrives; the caller sends a PLI
 * (throttled on its side, e.g. every 500 ms while `needsKeyframe` stays true) and keeps showing
 * the last good picture. Decoding also starts in that state: the first unit must be a keyframe.
 *
 * Backpressure: up to `queueSize` units (default 8) wait in order; a unit offered when the
 * queue is full is dropped, decode() returns false, and since later units may reference it the
 * decoder asks for a keyframe ('queue-overflow').
 *
 * The DecodedVideoFrame passed to onFrame is reused; its `data` views memory the next picture
 * overwrites: copy it (e.g. into the participant's latest-frame buffer) before returning.
 */
import { CodecError } from './codec-error';
import {
  codecLog,
  loadCodecAddon,
  NativeCodecAddon,
  NativeDecodeCallback,
  NativeVideoDecoder,
} from './native-codec';
import type { VideoCodecName } from './video-encoder';

export interface VideoDecoderOptions {
  codec: VideoCodecName;
  /** Slice threads (default 1). */
  threads?: number;
  /** Units that may wait to be decoded (default 8, 1..256). */
  queueSize?: number;
  logFields?: Record<string, string>;
}

export interface DecodedVideoFrame {
  width: number;
  height: number;
  /** I420, planes packed (chroma ceil(w/2) x ceil(h/2)), as RTCVideoSink frames. */
  data: Uint8Array;
  pts: number;
  decodeMs: number;
}

export type KeyframeNeededReason =
  'no-keyframe-yet' | 'reference-lost' | 'decode-error' | 'unsupported' | 'queue-overflow';

export interface VideoDecoderSink {
  onFrame(frame: DecodedVideoFrame): void;
  /** The unit with this pts cannot be shown; a keyframe is needed. Called once per such unit. */
  onKeyframeNeeded(reason: KeyframeNeededReason, pts: number): void;
}

export interface VideoDecoderStats {
  submitted: number;
  decoded: number;
  /** Units answered with "needs keyframe" (including queue overflows). */
  undecodable: number;
  droppedQueueFull: number;
  /** Units that held no picture (parameter sets only). */
  empty: number;
  lastDecodeMs: number;
}

const STATUS_FRAME = 0;
const STATUS_NEED_KEYFRAME = 1;
const NATIVE_REASONS: readonly KeyframeNeededReason[] = [
  'no-keyframe-yet',
  'reference-lost',
  'decode-error',
  'unsupported',
];

function nativeReason(reason: string): KeyframeNeededReason {
  return NATIVE_REASONS.find((r) => r === reason) ?? 'decode-error';
}

export class VideoDecoder {
  private readonly native: NativeVideoDecoder;
  private readonly frame: DecodedVideoFrame = {
    width: 0,
    height: 0,
    data: new Uint8Array(0),
    pts: 0,
    decodeMs: 0,
  };
  private readonly counters: VideoDecoderStats = {
    submitted: 0,
    decoded: 0,
    undecodable: 0,
    droppedQueueFull: 0,
    empty: 0,
    lastDecodeMs: 0,
  };
  private lastBuffer: ArrayBuffer | null = null;
  private view = new Uint8Array(0);
  private waiting = true;
  private inFlight = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private readonly log: typeof codecLog;

  /** Null when the codec addon is not available (see codecsAvailable()); throws CodecError on bad options. */
  static create(options: VideoDecoderOptions, sink: VideoDecoderSink): VideoDecoder | null {
    const addon = loadCodecAddon();
    if (addon === null) return null;
    return new VideoDecoder(addon, options, sink);
  }

  private constructor(
    addon: NativeCodecAddon,
    readonly options: Readonly<VideoDecoderOptions>,
    private readonly sink: VideoDecoderSink,
  ) {
    this.log = codecLog.child({ codec: options.codec, ...options.logFields });
    const { logFields: _ids, ...settings } = options;
    try {
      this.native = new addon.VideoDecoder(settings, this.onNativeOutput);
    } catch (err) {
      throw new CodecError((err as Error).message);
    }
  }

  /**
   * Copies one access unit (H.264 Annex B / a VP8 frame) and queues it. `lostBefore`: the
   * caller knows data before this unit is missing (RTP sequence gap). False when the queue is
   * full (the unit is dropped and a keyframe requested) or when closed.
   */
  decode(data: Uint8Array, pts: number, lostBefore = false): boolean {
    if (this.closed) return false;
    if (!this.native.decode(data, pts, lostBefore)) {
      this.counters.droppedQueueFull++;
      this.counters.undecodable++;
      this.waiting = true;
      this.sink.onKeyframeNeeded('queue-overflow', pts);
      return false;
    }
    this.counters.submitted++;
    this.inFlight++;
    return true;
  }

  /** True from the start, and from any loss, until a keyframe has been decoded. */
  get needsKeyframe(): boolean {
    return this.waiting;
  }

  get stats(): Readonly<VideoDecoderStats> {
    return this.counters;
  }

  /** Resolves once every queued unit has been answered (immediately when idle or closed). */
  idle(): Promise<void> {
    if (this.inFlight === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops queued units, waits for the one being decoded, stops the thread. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
    this.inFlight = 0;
    this.wakeIdle();
    this.log.debug('video decoder closed', { ...this.counters });
  }

  /** Once per accepted unit, in order, on the JS thread (held here; the addon holds it weakly). */
  private readonly onNativeOutput: NativeDecodeCallback = (
    status,
    buffer,
    byteLength,
    width,
    height,
    pts,
    decodeUs,
    reason,
  ) => {
    this.inFlight--;
    const c = this.counters;
    c.lastDecodeMs = decodeUs / 1000;
    try {
      if (status === STATUS_FRAME && buffer !== undefined) {
        c.decoded++;
        this.waiting = false;
        if (buffer !== this.lastBuffer) {
          // The native side grew its output buffer (first picture, or a larger size).
          this.lastBuffer = buffer;
          this.view = new Uint8Array(buffer);
        }
        const f = this.frame;
        f.width = width;
        f.height = height;
        f.data = byteLength === this.view.length ? this.view : this.view.subarray(0, byteLength);
        f.pts = pts;
        f.decodeMs = c.lastDecodeMs;
        this.sink.onFrame(f);
      } else if (status === STATUS_NEED_KEYFRAME) {
        c.undecodable++;
        if (!this.waiting) this.log.debug('video decoder needs a keyframe', { reason, pts });
        this.waiting = true;
        this.sink.onKeyframeNeeded(nativeReason(reason), pts);
      } else {
        c.empty++;
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
