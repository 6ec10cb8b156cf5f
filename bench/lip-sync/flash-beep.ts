/**
 * The lip-sync measurement's media, both ends: a publisher whose picture flashes white and whose
 * sound beeps at the same instant every ~2 s (FlashBeepSender, real @roamhq/wrtc sources), and
 * the detectors that find those onsets again in what a receiver decodes (SinkOnsets) or in a
 * recording (recording.ts). Positive offsets mean the sound comes after the picture.
 */
import * as wrtc from '@roamhq/wrtc';
import { createI420, fillI420, type I420Frame } from '../../workers/media/engine/video/i420';

const { RTCVideoSource, RTCAudioSource } = wrtc.nonstandard;

export const SAMPLE_RATE = 48000;
const CHUNK = SAMPLE_RATE / 100;
export const SEND_WIDTH = 640;
export const SEND_HEIGHT = 360;
/** 25 fps: 40 ms frames fall on the 10 ms audio grid, and against the server's 30 fps composite
 * their phase takes five values (40 mod 33.3 ms), so events sample the composite's quantisation. */
export const SEND_FPS = 25;
const TICKS_PER_FRAME = 100 / SEND_FPS;
/** Flash and beep length: several frames, so a dropped frame does not lose the event. */
export const EVENT_MS = 200;
export const BEEP_HZ = 1000;
export const BEEP_AMPLITUDE = 12000;
/** A quarter of the beep's amplitude: far above codec noise, crossed within the first period. */
export const BEEP_THRESHOLD = 3000;
export const DARK_LUMA = 40;
export const FLASH_LUMA = 235;
export const LUMA_THRESHOLD = 140;
/** Events further apart than this are different events when onsets are paired. */
export const PAIR_WINDOW_MS = 500;

/**
 * Frames between event k-1 and event k: 1.84 or 2.04 s. Both are 1 mod 5 frames, so each event
 * falls one 40 ms frame later in the 200 ms cycle that the 25 fps sender shares with the server's
 * 30 fps composite and its 15 fps profile (200 = 5·40 = 6·33.3 = 3·66.7): every 5 events sample
 * each of the 5 phases once, as talkers whose events fall at any instant would. (The gaps used
 * until 2026-12-07, 45 + (7k mod 11) frames, hit the phases 4, 2, 3, 2 and 0 times in 11 events,
 * so a run's mean and p95 depended on which phase its composite grid put where.)
 */
export function gapFrames(k: number): number {
  return k % 2 === 0 ? 46 : 51;
}

export interface SentEvent {
  /** performance.now() at which the flash frame was handed to the video source. */
  flashPushedAt: number;
  /** How late that push ran against its ideal time (a stalled sender process delays the picture). */
  pushLateMs: number;
}

/**
 * A camera and a microphone in one clock. Every 10 ms tick k hands over the audio of media time
 * [(k-1)·10, k·10) ms (as a microphone does: a chunk is delivered when it is complete), and on
 * every 4th tick the picture of media time k·10 ms. An event at media time E makes the frames of
 * [E, E+200) white and the samples of [E, E+200) a 1 kHz beep: picture and sound of one instant.
 */
export class FlashBeepSender {
  readonly videoSource = new RTCVideoSource();
  readonly audioSource = new RTCAudioSource();
  readonly sent: SentEvent[] = [];
  private readonly tracks: MediaStreamTrack[] = [];
  private readonly dark: I420Frame = createI420(SEND_WIDTH, SEND_HEIGHT);
  private readonly white: I420Frame = createI420(SEND_WIDTH, SEND_HEIGHT);
  private readonly samples = new Int16Array(CHUNK);
  private readonly audioData = {
    samples: this.samples,
    sampleRate: SAMPLE_RATE,
    bitsPerSample: 16,
    channelCount: 1,
    numberOfFrames: CHUNK,
  };
  private timer: NodeJS.Timeout | null = null;
  private t0 = 0;
  private tick = 0;
  /** Media time (ms) of the current event's start, and of the next one. */
  private eventMs = -Infinity;
  private nextEventMs = 0;
  private eventIndex = 0;

  constructor(private readonly firstEventAfterMs = 3000) {
    fillI420(this.dark, { y: DARK_LUMA, u: 128, v: 128 });
    fillI420(this.white, { y: FLASH_LUMA, u: 128, v: 128 });
  }

  /**
   * Adds both tracks to a peer connection before its offer. `shareStream`: both tracks in one
   * MediaStream, as a browser's getUserMedia stream is (libwebrtc then syncs them as one group).
   */
  attach(pc: RTCPeerConnection, shareStream = true): void {
    const video = this.videoSource.createTrack();
    const audio = this.audioSource.createTrack();
    this.tracks.push(video, audio);
    if (shareStream) {
      const stream = new wrtc.MediaStream();
      pc.addTrack(video, stream);
      pc.addTrack(audio, stream);
    } else {
      pc.addTrack(video);
      pc.addTrack(audio);
    }
  }

  start(): void {
    if (this.timer) return;
    this.t0 = performance.now();
    this.tick = 0;
    this.nextEventMs = Math.ceil(this.firstEventAfterMs / 40) * 40;
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const t of this.tracks) t.stop();
  }

  private schedule(): void {
    const next = this.t0 + (this.tick + 1) * 10;
    this.timer = setTimeout(this.wake, Math.max(0, next - performance.now()));
  }

  private readonly wake = (): void => {
    const now = performance.now();
    const due = Math.floor((now - this.t0) / 10);
    // Audio is never skipped (its RTP clock counts samples, so a burst plays at the right time);
    // of the frames due in a burst only the newest is sent, and an event's lateness is noted.
    // Per tick the audio comes first, so the event state only ever moves forward in media time.
    let frame: I420Frame | null = null;
    let eventAt = -1;
    while (this.tick < due) {
      this.tick++;
      this.sendAudio(this.tick);
      if (this.tick % TICKS_PER_FRAME !== 0) continue;
      const ms = this.tick * 10;
      const flash = this.inEvent(ms);
      frame = flash ? this.white : this.dark;
      if (flash && ms === this.eventMs) eventAt = this.t0 + ms;
    }
    if (frame) {
      if (eventAt >= 0) this.sent.push({ flashPushedAt: performance.now(), pushLateMs: now - eventAt });
      this.videoSource.onFrame(frame);
    }
    if (this.timer) this.schedule();
  };

  /** Whether media time `ms` is inside an event (called with non-decreasing times). */
  private inEvent(ms: number): boolean {
    if (ms >= this.nextEventMs) {
      this.eventMs = this.nextEventMs;
      this.eventIndex++;
      this.nextEventMs += gapFrames(this.eventIndex) * 40;
    }
    return ms >= this.eventMs && ms < this.eventMs + EVENT_MS;
  }

  private sendAudio(tick: number): void {
    const startMs = (tick - 1) * 10;
    for (let i = 0; i < CHUNK; i++) {
      const ms = startMs + (i * 1000) / SAMPLE_RATE;
      this.samples[i] = this.inEvent(ms)
        ? Math.round(BEEP_AMPLITUDE * Math.sin((2 * Math.PI * BEEP_HZ * (ms - this.eventMs)) / 1000))
        : 0;
    }
    this.audioSource.onData(this.audioData);
  }
}

/**
 * Onsets in what a wrtc receiver's sinks deliver. Video: the callback time of the first frame
 * whose centre is bright. Audio: the beep's first loud sample, timed by the sample clock (the
 * earliest delivery of the last second, minus the samples before it), so the batching of sink
 * callbacks on the JS thread does not smear the onset.
 */
export class SinkOnsets {
  readonly videoOnsets: number[] = [];
  readonly audioOnsets: number[] = [];
  frames = 0;
  private bright = false;
  /** Media time (ms) of the audio delivered so far. */
  private audioMs = 0;
  private lastAudioOnsetMs = -Infinity;
  /** arrival − media time of the last 100 chunks; their minimum anchors the sample clock. */
  private readonly anchors = new Float64Array(100);
  private anchorCount = 0;

  onVideoFrame(frame: { width: number; height: number; data: Uint8Array }, at: number): void {
    this.frames++;
    const luma = centreLuma(frame.data, frame.width, frame.height);
    const bright = this.bright ? luma > LUMA_THRESHOLD - 20 : luma > LUMA_THRESHOLD;
    if (bright && !this.bright) this.videoOnsets.push(at);
    this.bright = bright;
  }

  onAudio(samples: Int16Array, sampleRate: number, channelCount: number, at: number): void {
    const ch = Math.max(1, channelCount);
    const n = Math.floor(samples.length / ch);
    const msPerSample = 1000 / sampleRate;
    const endMs = this.audioMs + n * msPerSample;
    this.anchors[this.anchorCount++ % this.anchors.length] = at - endMs;
    let base = Infinity;
    for (let i = 0; i < Math.min(this.anchorCount, this.anchors.length); i++)
      base = Math.min(base, this.anchors[i]);
    for (let i = 0; i < n; i++) {
      const x = samples[i * ch];
      const ms = this.audioMs + i * msPerSample;
      if ((x > BEEP_THRESHOLD || x < -BEEP_THRESHOLD) && ms - this.lastAudioOnsetMs > 1000) {
        this.lastAudioOnsetMs = ms;
        this.audioOnsets.push(base + ms);
      }
    }
    this.audioMs = endMs;
  }
}

/** Mean luma of the middle quarter of a picture (every 4th pixel of every 4th row). */
export function centreLuma(y: Uint8Array, width: number, height: number): number {
  let sum = 0;
  let n = 0;
  for (let r = height >> 2; r < (3 * height) >> 2; r += 4) {
    const row = r * width;
    for (let c = width >> 2; c < (3 * width) >> 2; c += 4) {
      sum += y[row + c];
      n++;
    }
  }
  return n === 0 ? 0 : sum / n;
}

export interface PairedEvent {
  /** Time of the video onset (ms, in the timeline of the measurement). */
  videoMs: number;
  /** audio onset − video onset, ms: positive = the sound is late. */
  offsetMs: number;
}

/** Pairs each video onset with the audio onset nearest to it within PAIR_WINDOW_MS. */
export function pairOnsets(videoMs: readonly number[], audioMs: readonly number[]): PairedEvent[] {
  const out: PairedEvent[] = [];
  for (const v of videoMs) {
    let best: number | null = null;
    for (const a of audioMs)
      if (Math.abs(a - v) < PAIR_WINDOW_MS && (best === null || Math.abs(a - v) < Math.abs(best - v)))
        best = a;
    if (best !== null) out.push({ videoMs: v, offsetMs: best - v });
  }
  return out;
}

export interface OffsetSummary {
  events: number;
  medianMs: number | null;
  meanMs: number | null;
  /** 95th percentile of |offset|. */
  p95AbsMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  /** Least-squares slope of offset over time, ms per minute. */
  driftMsPerMin: number | null;
  /** Median of the last quarter of the events minus median of the first quarter. */
  driftFirstLastMs: number | null;
}

export function summarize(events: readonly PairedEvent[]): OffsetSummary {
  const offs = events.map((e) => e.offsetMs);
  const r = (x: number): number => Math.round(x * 10) / 10;
  if (offs.length === 0)
    return {
      events: 0,
      medianMs: null,
      meanMs: null,
      p95AbsMs: null,
      minMs: null,
      maxMs: null,
      driftMsPerMin: null,
      driftFirstLastMs: null,
    };
  const q = Math.max(1, Math.floor(offs.length / 4));
  let slope: number | null = null;
  if (events.length >= 3) {
    const t0 = events[0].videoMs;
    const xs = events.map((e) => (e.videoMs - t0) / 60000);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = offs.reduce((a, b) => a + b, 0) / offs.length;
    let sxy = 0;
    let sxx = 0;
    for (let i = 0; i < xs.length; i++) {
      sxy += (xs[i] - mx) * (offs[i] - my);
      sxx += (xs[i] - mx) ** 2;
    }
    slope = sxx > 0 ? r(sxy / sxx) : null;
  }
  return {
    events: offs.length,
    medianMs: r(quantile(offs, 0.5)),
    meanMs: r(offs.reduce((a, b) => a + b, 0) / offs.length),
    p95AbsMs: r(quantile(offs.map(Math.abs), 0.95)),
    minMs: r(Math.min(...offs)),
    maxMs: r(Math.max(...offs)),
    driftMsPerMin: slope,
    driftFirstLastMs:
      offs.length >= 8 ? r(quantile(offs.slice(-q), 0.5) - quantile(offs.slice(0, q), 0.5)) : null,
  };
}

/** Linear-interpolated quantile (q in 0..1). */
export function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** A flash whose push ran later than this is the sender's delay, not the path's: left out. */
export const MAX_PUSH_LATE_MS = 15;

/**
 * How late the sender pushed each detected flash (null: no sent event matches). `onsets` are in
 * the sender's clock (performance.now()) up to a constant latency: that latency is taken as the
 * median distance from each onset back to the latest push before it, and each onset is then
 * matched to the push nearest to onset − latency (events are ≥ 1.8 s apart).
 */
export function pushLateness(onsets: readonly number[], sent: readonly SentEvent[]): (number | null)[] {
  const back: number[] = [];
  for (const t of onsets) {
    let latest: SentEvent | null = null;
    for (const s of sent)
      if (s.flashPushedAt <= t && (!latest || s.flashPushedAt > latest.flashPushedAt)) latest = s;
    if (latest && t - latest.flashPushedAt < 1500) back.push(t - latest.flashPushedAt);
  }
  if (back.length === 0) return onsets.map(() => null);
  const latency = quantile(back, 0.5);
  return onsets.map((t) => {
    let best: SentEvent | null = null;
    for (const s of sent)
      if (!best || Math.abs(t - latency - s.flashPushedAt) < Math.abs(t - latency - best.flashPushedAt))
        best = s;
    return best && Math.abs(t - latency - best.flashPushedAt) < 600 ? best.pushLateMs : null;
  });
}
