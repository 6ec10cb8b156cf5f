/**
 * Per-participant lip sync on the server's receive side (issue #15 item 1, docs/lip-sync.md).
 *
 * A wrtc peer's audio reaches the room later than its video: the audio passes libwebrtc's NetEq
 * jitter buffer, wrtc's audio sink path and our own JitterBuffer before the mixer reads it, while
 * the nonstandard RTCVideoSink hands out each frame as soon as it is decoded. Measured end to end
 * (bench/lip-sync.ts) that put the sound ~60 ms after the picture in recordings. This module
 * estimates the difference once a second from the peer's receiver stats and holds the
 * participant's video frames back by it, in a small ring of frame references (no copy, no
 * allocation per frame or tick), so both media enter the composite and the mix aligned.
 */
import type { I420Frame } from './engine/video/i420';
import type { RawStat } from './downlink-stats';

/** Receiver counters of one peer's inbound streams (cumulative, as getStats() reports them). */
export interface InboundCounters {
  /** Σ seconds each emitted audio sample spent in NetEq, and the samples emitted. */
  audioJitterDelayS: number;
  audioEmitted: number;
  /** Σ seconds each video frame spent in the video jitter buffer, and the frames emitted. */
  videoJitterDelayS: number;
  videoEmitted: number;
  /** Σ decode time (s) and frames decoded. */
  videoDecodeS: number;
  videoDecoded: number;
}

/** Reads the inbound-rtp counters of a wrtc getStats() report (null when a kind is missing). */
export function inboundCounters(report: { forEach(cb: (s: RawStat) => void): void }): InboundCounters | null {
  const c: InboundCounters = {
    audioJitterDelayS: 0,
    audioEmitted: 0,
    videoJitterDelayS: 0,
    videoEmitted: 0,
    videoDecodeS: 0,
    videoDecoded: 0,
  };
  let audio = false;
  let video = false;
  const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
  report.forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    const kind = s.kind ?? s.mediaType;
    if (kind === 'audio') {
      audio = true;
      c.audioJitterDelayS += num(s.jitterBufferDelay);
      c.audioEmitted += num(s.jitterBufferEmittedCount);
    } else if (kind === 'video') {
      video = true;
      c.videoJitterDelayS += num(s.jitterBufferDelay);
      c.videoEmitted += num(s.jitterBufferEmittedCount);
      c.videoDecodeS += num(s.totalDecodeTime);
      c.videoDecoded += num(s.framesDecoded);
    }
  });
  return audio && video ? c : null;
}

/**
 * What the stats do not show, measured end to end with wrtc at both ends (bench/lip-sync.ts,
 * docs/lip-sync.md): the audio path's share outside NetEq's jitterBufferDelay (Opus
 * packetisation at the sender, NetEq's sync buffer and decoder output, wrtc's sink hand-over)
 * less the video path's outside its jitter buffer and decoder.
 */
export const UNSEEN_AUDIO_MS = 15;
/**
 * The same for a member on the RTP-level stack (our Opus decode into the room's buffer, our
 * video decoder), calibrated with `node dist/bench/lip-sync.js` on the shared default
 * (docs/lip-sync.md): first set to 15 like the wrtc one, then the recordings of four 2–3-minute
 * runs (2026-12-06) had the sound 20–46 ms early, the estimate too high by 17.7–43.4 ms (mean
 * 32): the RTP-level video path is longer than its decode time says, by more than the audio's
 * unseen share (where exactly is not found yet). Negative: the model's terms over-count the
 * audio path's lead by this much. Only the fallback now: once both streams have had a sender
 * report the offset is measured on the sender's clock (updateSenderClock), and the runs that
 * calibrated this constant disagreed by ~25 ms, which no constant can follow.
 */
export const UNSEEN_RTP_AUDIO_MS = -15;
/**
 * For an RTP-level member whose sender reports map both streams to its clock (every browser, and
 * wrtc): how much later than its picture a libwebrtc sender's reports place the sound of the
 * same instant, which the estimate adds back (calibrated end to end, docs/lip-sync.md).
 */
export const SENDER_REPORT_AUDIO_BIAS_MS = 0;
/** The composite samples a participant's latest frame on a 30 fps grid: on average half a frame late. */
export const COMPOSE_WAIT_MS = 1000 / 30 / 2;

/**
 * How much earlier than the applied delay a composite made at `fps` takes a participant's frames.
 *
 * The estimate counts COMPOSE_WAIT_MS, half a 30 fps frame, from a frame being due to its being
 * composed; a composite made at a lower rate waits half of its own, longer frame on average (33 ms
 * at 15 fps, 67 ms at 7.5). Without this the 15 fps composites (`low`, `standard`, and a
 * `standard` recording) showed every participant's picture ~17 ms later against its sound than
 * the 30 fps one (docs/lip-sync.md). Where each frame lands within that wait depends on the phase
 * of the participant's camera against the composite's grid (fixed for a call, ±6.7 ms for a
 * 25 fps camera at 15 fps): no lead removes that, only the systematic part.
 */
export function compositeLeadMs(fps: number): number {
  return Math.max(0, 500 / fps - COMPOSE_WAIT_MS);
}
/** Longest hold of the video; beyond it the estimate is not trusted (a stuck audio buffer). */
export const MAX_VIDEO_DELAY_MS = 400;
/** Largest change of the applied delay per update: a step freezes or skips the picture that long. */
const MAX_STEP_MS = 80;
/** Changes smaller than this are not applied (the estimate's own noise). */
const DEADBAND_MS = 4;
/** Weight of a new measurement in the smoothed estimate (updates every ~1 s). */
const SMOOTHING = 0.5;
/** Frame references kept: 400 ms at 60 fps, with room to spare. */
const RING = 48;

export interface AvSyncSnapshot {
  /**
   * What the last sample was computed from: the receive stack's stats and calibrated constants,
   * or the sender's own clock (RTCP sender reports; RTP-level members once both streams have one).
   */
  basis: 'stats' | 'sender-reports';
  /** Estimated audio path − video path to the room (ms), smoothed; null before two stats samples. */
  estimatedMs: number | null;
  /** The delay applied to the video now (ms). */
  videoDelayMs: number;
  /** The last sample's parts (ms): NetEq, our jitter buffer, video jitter buffer, decode. */
  audioJitterMs: number;
  roomJitterMs: number;
  videoJitterMs: number;
  videoDecodeMs: number;
  /** Sender-report basis: mean capture → mix of the audio and capture → decoded of the video (ms). */
  audioLagMs: number;
  videoLagMs: number;
}

export class AvSync {
  private readonly frames: (I420Frame | null)[] = new Array<I420Frame | null>(RING).fill(null);
  private readonly times = new Float64Array(RING);
  /** Next slot to write; entries [tail, head) are held frames, oldest first. */
  private head = 0;
  private tail = 0;
  private shown: I420Frame | null = null;
  private delayMs = 0;
  private smoothed: number | null = null;
  private last: InboundCounters | null = null;
  private basis: AvSyncSnapshot['basis'] = 'stats';
  private readonly parts = {
    audioJitterMs: 0,
    roomJitterMs: 0,
    videoJitterMs: 0,
    videoDecodeMs: 0,
    audioLagMs: 0,
    videoLagMs: 0,
  };

  /**
   * `onRelease`: a frame the ring no longer references (replaced as the shown one, or cleared),
   * for an owner that reuses frame buffers (RtpParticipant's decoder output copies).
   */
  constructor(
    private readonly enabled = true,
    private readonly onRelease: ((frame: I420Frame) => void) | null = null,
  ) {}

  get videoDelayMs(): number {
    return this.delayMs;
  }

  /** Frames waiting in the ring (not yet due). */
  get heldFrames(): number {
    return (this.head - this.tail + RING) % RING;
  }

  /** A decoded frame as it arrives from the sink (performance.now()). The reference is kept. */
  push(frame: I420Frame, at: number): void {
    this.frames[this.head] = frame;
    this.times[this.head] = at;
    this.head = (this.head + 1) % RING;
    // Full: the oldest held frame is shown from now on rather than lost behind the newest.
    if (this.head === this.tail) this.advance();
    // Frames already due are released here too, not only when the composite asks: a member whose
    // tile nobody composes (no video output in use, a speaker layout) then holds no more than
    // the delay's worth of frames (a 720p frame is 1.4 MB), as it held one before.
    this.release(at);
  }

  /** The frame to show at `now`: the newest that arrived at least videoDelayMs ago. */
  frameAt(now: number): I420Frame | null {
    this.release(now);
    return this.shown;
  }

  /**
   * The frame a composite made at `fps` shows at `now`: the newest that arrived at least
   * videoDelayMs − compositeLeadMs(fps) ago (never before it arrived).
   */
  frameFor(fps: number, now: number): I420Frame | null {
    this.release(now);
    // Off, the delay is 0 and so is the lead: the newest frame, as frameAt gives.
    const due = now - this.delayMs + Math.min(this.delayMs, compositeLeadMs(fps));
    let pick = this.shown;
    for (let i = this.tail; i !== this.head && this.times[i] <= due; i = (i + 1) % RING)
      pick = this.frames[i];
    return pick;
  }

  private release(now: number): void {
    const due = now - this.delayMs;
    while (this.tail !== this.head && this.times[this.tail] <= due) this.advance();
  }

  private advance(): void {
    const was = this.shown;
    this.shown = this.frames[this.tail];
    if (was && this.onRelease && was !== this.shown) this.onRelease(was);
    this.frames[this.tail] = null;
    this.tail = (this.tail + 1) % RING;
  }

  /**
   * One stats sample (about once a second): `roomJitterMs` is how long audio waited in the room's
   * own JitterBuffer over the same period. Returns the applied delay.
   */
  update(c: InboundCounters, roomJitterMs: number): number {
    const prev = this.last;
    this.last = c;
    const dA = prev ? c.audioEmitted - prev.audioEmitted : 0;
    const dV = prev ? c.videoEmitted - prev.videoEmitted : 0;
    const dD = prev ? c.videoDecoded - prev.videoDecoded : 0;
    // No audio or no video flowed since the last sample (muted camera, DTX, a new stream whose
    // counters restarted): nothing to align, keep what is applied.
    if (!prev || dA <= 0 || dV <= 0) return this.delayMs;
    const p = this.parts;
    p.audioJitterMs = ((c.audioJitterDelayS - prev.audioJitterDelayS) / dA) * 1000;
    p.videoJitterMs = ((c.videoJitterDelayS - prev.videoJitterDelayS) / dV) * 1000;
    p.videoDecodeMs = dD > 0 ? ((c.videoDecodeS - prev.videoDecodeS) / dD) * 1000 : 0;
    p.roomJitterMs = roomJitterMs;
    p.audioLagMs = p.videoLagMs = 0;
    this.basis = 'stats';
    const audioPath = p.audioJitterMs + p.roomJitterMs + UNSEEN_AUDIO_MS;
    const videoPath = p.videoJitterMs + p.videoDecodeMs + COMPOSE_WAIT_MS;
    return this.apply(audioPath - videoPath);
  }

  /**
   * One sample for a member on the RTP-level stack, which has no NetEq and no video jitter
   * buffer: its audio waits in the room's JitterBuffer (`roomJitterMs`, 40 ms target there),
   * its video only for the decoder (`videoDecodeMs`). Returns the applied delay.
   */
  updateRtp(roomJitterMs: number, videoDecodeMs: number): number {
    const p = this.parts;
    p.audioJitterMs = 0;
    p.videoJitterMs = 0;
    p.roomJitterMs = roomJitterMs;
    p.videoDecodeMs = videoDecodeMs;
    p.audioLagMs = p.videoLagMs = 0;
    this.basis = 'stats';
    return this.apply(roomJitterMs + UNSEEN_RTP_AUDIO_MS - (videoDecodeMs + COMPOSE_WAIT_MS));
  }

  /**
   * One sample on the sender's clock (RTP-level members with sender reports on both streams):
   * `audioLagMs`, the mean time from a sample's capture to its mix (arrival − capture, plus the
   * wait in the room's JitterBuffer); `videoLagMs`, from a frame's capture to its decoded picture.
   * Measured rather than modelled, so whatever the sender and the path do to one medium and not
   * the other is in it (the sender's clock offset from ours cancels in the difference).
   */
  updateSenderClock(
    audioLagMs: number,
    videoLagMs: number,
    roomJitterMs: number,
    videoDecodeMs: number,
  ): number {
    const p = this.parts;
    p.audioJitterMs = 0;
    p.videoJitterMs = 0;
    p.roomJitterMs = roomJitterMs;
    p.videoDecodeMs = videoDecodeMs;
    p.audioLagMs = audioLagMs;
    p.videoLagMs = videoLagMs;
    this.basis = 'sender-reports';
    return this.apply(audioLagMs + SENDER_REPORT_AUDIO_BIAS_MS - (videoLagMs + COMPOSE_WAIT_MS));
  }

  private apply(sample: number): number {
    if (!Number.isFinite(sample)) return this.delayMs;
    this.smoothed = this.smoothed === null ? sample : this.smoothed + SMOOTHING * (sample - this.smoothed);
    if (!this.enabled) return this.delayMs;
    const target = Math.max(0, Math.min(MAX_VIDEO_DELAY_MS, this.smoothed));
    const diff = target - this.delayMs;
    if (Math.abs(diff) >= DEADBAND_MS) this.delayMs += Math.max(-MAX_STEP_MS, Math.min(MAX_STEP_MS, diff));
    return this.delayMs;
  }

  snapshot(): AvSyncSnapshot {
    const r = (x: number): number => Math.round(x * 10) / 10;
    return {
      basis: this.basis,
      estimatedMs: this.smoothed === null ? null : r(this.smoothed),
      videoDelayMs: r(this.delayMs),
      audioJitterMs: r(this.parts.audioJitterMs),
      roomJitterMs: r(this.parts.roomJitterMs),
      videoJitterMs: r(this.parts.videoJitterMs),
      videoDecodeMs: r(this.parts.videoDecodeMs),
      audioLagMs: r(this.parts.audioLagMs),
      videoLagMs: r(this.parts.videoLagMs),
    };
  }

  clear(): void {
    if (this.onRelease) {
      for (let i = this.tail; i !== this.head; i = (i + 1) % RING) {
        const f = this.frames[i];
        if (f) this.onRelease(f);
      }
      if (this.shown) this.onRelease(this.shown);
    }
    this.frames.fill(null);
    this.head = this.tail = 0;
    this.shown = null;
  }
}
