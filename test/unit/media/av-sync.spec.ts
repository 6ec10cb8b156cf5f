import type { RawStat } from '../../../workers/media/downlink-stats';
import {
  AvSync,
  COMPOSE_WAIT_MS,
  compositeLeadMs,
  inboundCounters,
  MAX_VIDEO_DELAY_MS,
  SENDER_REPORT_AUDIO_BIAS_MS,
  UNSEEN_AUDIO_MS,
  UNSEEN_RTP_AUDIO_MS,
  type InboundCounters,
} from '../../../workers/media/av-sync';
import { createI420, type I420Frame } from '../../../workers/media/engine/video/i420';
import { JitterBuffer } from '../../../workers/media/engine/audio/jitter-buffer';
import { AUDIO_TICK_MS, baseFrameAt, frameDivisor } from '../../../workers/media/frame-grid';

function frame(tag: number): I420Frame {
  const f = createI420(16, 16);
  f.data[0] = tag;
  return f;
}

/** Counters after `seconds` of steady flow with the given per-item delays (ms). */
function counters(seconds: number, audioJbMs: number, videoJbMs: number, decodeMs = 2): InboundCounters {
  const samples = seconds * 48000;
  const frames = seconds * 30;
  return {
    audioJitterDelayS: (samples * audioJbMs) / 1000,
    audioEmitted: samples,
    videoJitterDelayS: (frames * videoJbMs) / 1000,
    videoEmitted: frames,
    videoDecodeS: (frames * decodeMs) / 1000,
    videoDecoded: frames,
  };
}

describe('AvSync delay line', () => {
  it('with no delay shows the newest frame', () => {
    const s = new AvSync();
    s.push(frame(1), 0);
    s.push(frame(2), 33);
    expect(s.frameAt(40)?.data[0]).toBe(2);
  });

  it('holds frames back by the applied delay and keeps showing the last due one', () => {
    const s = new AvSync();
    // Steady 76 ms more audio than video path.
    s.update(counters(1, 60, 20), 25);
    for (let i = 2; i < 10; i++) s.update(counters(i, 60, 20), 25);
    const delay = s.videoDelayMs;
    expect(delay).toBeGreaterThan(60);
    for (let i = 0; i < 10; i++) s.push(frame(i), i * 33);
    // At t = 9·33 only frames that arrived at or before t − delay are due.
    const now = 9 * 33;
    const expected = Math.floor((now - delay) / 33);
    expect(s.frameAt(now)?.data[0]).toBe(expected);
    // Later, with nothing new, the newest frame becomes due and stays.
    expect(s.frameAt(now + delay + 1)?.data[0]).toBe(9);
    expect(s.frameAt(now + 5000)?.data[0]).toBe(9);
  });

  it('holds only the frames of the delay window even when nobody asks for a frame', () => {
    const s = new AvSync();
    s.update(counters(1, 60, 20), 25);
    s.update(counters(2, 60, 20), 25);
    const delay = s.videoDelayMs;
    const frames = Array.from({ length: 100 }, (_, i) => frame(i));
    for (let i = 0; i < 100; i++) s.push(frames[i], i * 10);
    // Every frame older than the window was released from the ring.
    expect(s.heldFrames).toBeLessThanOrEqual(Math.ceil(delay / 10));
    expect(s.frameAt(990)?.data[0]).toBe(Math.floor((990 - delay) / 10));
  });

  it('when the ring is full shows the oldest held frame instead of losing it', () => {
    const s = new AvSync();
    for (let i = 0; i < 7; i++) s.update(counters(i + 1, 400, 0, 0), 50);
    expect(s.videoDelayMs).toBe(MAX_VIDEO_DELAY_MS);
    for (let i = 0; i < 200; i++) s.push(frame(i % 250), i);
    const shown = s.frameAt(200)?.data[0];
    expect(shown).toBeDefined();
    // 48 slots, 47 frames held after each push: the shown one is the last pushed out.
    expect(shown).toBe(200 - 48);
  });
});

describe('AvSync estimate', () => {
  it('asks for audio path − video path from the counters of the last interval', () => {
    const s = new AvSync();
    const first = counters(10, 500, 500); // a first sample's history does not count
    const next = counters(1, 35, 15, 3);
    s.update(first, 0);
    s.update(
      {
        audioJitterDelayS: first.audioJitterDelayS + next.audioJitterDelayS,
        audioEmitted: first.audioEmitted + next.audioEmitted,
        videoJitterDelayS: first.videoJitterDelayS + next.videoJitterDelayS,
        videoEmitted: first.videoEmitted + next.videoEmitted,
        videoDecodeS: first.videoDecodeS + next.videoDecodeS,
        videoDecoded: first.videoDecoded + next.videoDecoded,
      },
      20,
    );
    const expected = 35 + 20 + UNSEEN_AUDIO_MS - (15 + 3 + COMPOSE_WAIT_MS);
    expect(s.snapshot().estimatedMs).toBeCloseTo(expected, 0);
    expect(s.videoDelayMs).toBeCloseTo(Math.min(80, expected), 0);
  });

  it('moves the applied delay at most 80 ms per update and never below 0', () => {
    const s = new AvSync();
    s.update(counters(1, 300, 0, 0), 0);
    s.update(counters(2, 300, 0, 0), 0);
    expect(s.videoDelayMs).toBe(80);
    s.update(counters(3, 300, 0, 0), 0);
    expect(s.videoDelayMs).toBe(160);
    const quiet = new AvSync();
    quiet.update(counters(1, 0, 200, 0), 0);
    quiet.update(counters(2, 0, 200, 0), 0);
    expect(quiet.videoDelayMs).toBe(0);
  });

  it('off: estimates but applies nothing', () => {
    const s = new AvSync(false);
    s.update(counters(1, 300, 0, 0), 0);
    s.update(counters(2, 300, 0, 0), 0);
    expect(s.snapshot().estimatedMs).toBeGreaterThan(200);
    expect(s.videoDelayMs).toBe(0);
  });

  it('RTP-level members: audio path = room jitter buffer wait, video path = decode (their own figures)', () => {
    const s = new AvSync();
    for (let i = 0; i < 10; i++) s.updateRtp(40, 3);
    const expected = 40 + UNSEEN_RTP_AUDIO_MS - (3 + COMPOSE_WAIT_MS);
    expect(s.snapshot().estimatedMs).toBeCloseTo(expected, 0);
    expect(s.videoDelayMs).toBeCloseTo(expected, 0);
    expect(s.snapshot()).toMatchObject({ roomJitterMs: 40, videoDecodeMs: 3, audioJitterMs: 0 });
  });

  it('RTP-level members with sender reports: audio lag to the mix − video lag to the decoded picture, on the sender clock', () => {
    const s = new AvSync();
    s.updateRtp(40, 3);
    expect(s.snapshot().basis).toBe('stats');
    // 95 ms from capture to the mix, 30 ms from capture to a decoded picture.
    for (let i = 0; i < 10; i++) s.updateSenderClock(95, 30, 40, 3);
    const expected = 95 + SENDER_REPORT_AUDIO_BIAS_MS - (30 + COMPOSE_WAIT_MS);
    expect(s.snapshot().estimatedMs).toBeCloseTo(expected, 0);
    // Applied to within the deadband (changes under 4 ms are not applied).
    expect(Math.abs(s.videoDelayMs - expected)).toBeLessThan(4);
    expect(s.snapshot()).toMatchObject({
      basis: 'sender-reports',
      audioLagMs: 95,
      videoLagMs: 30,
      roomJitterMs: 40,
    });
    // Video later than audio on the sender's clock: nothing to hold back.
    for (let i = 0; i < 10; i++) s.updateSenderClock(20, 90, 40, 3);
    expect(s.videoDelayMs).toBe(0);
  });

  it('hands back each frame it no longer shows or holds, once (buffer reuse by its owner)', () => {
    const released: I420Frame[] = [];
    const s = new AvSync(true, (f) => released.push(f));
    const frames = [frame(1), frame(2), frame(3), frame(4)];
    // No delay: each push shows the new frame and releases the previous one.
    s.push(frames[0], 0);
    s.push(frames[1], 10);
    expect(released).toEqual([frames[0]]);
    expect(s.frameAt(10)).toBe(frames[1]);
    // With a delay, held frames are not released until shown and replaced; clear gives back the rest.
    for (let i = 0; i < 10; i++) s.updateRtp(120, 0);
    s.push(frames[2], 20);
    s.push(frames[3], 30);
    expect(released).toEqual([frames[0]]);
    s.clear();
    expect(new Set(released)).toEqual(new Set(frames));
    expect(released).toHaveLength(4);
  });

  it('keeps the delay when no audio or video flowed since the last sample', () => {
    const s = new AvSync();
    s.update(counters(1, 100, 0, 0), 0);
    s.update(counters(2, 100, 0, 0), 0);
    const before = s.videoDelayMs;
    s.update(counters(2, 100, 0, 0), 0);
    expect(s.videoDelayMs).toBe(before);
  });

  it('reads the inbound-rtp counters of a wrtc report, and nothing without both kinds', () => {
    const audio: RawStat = {
      id: 'in-a',
      type: 'inbound-rtp',
      kind: 'audio',
      jitterBufferDelay: 1.5,
      jitterBufferEmittedCount: 48000,
    };
    const video: RawStat = {
      id: 'in-v',
      type: 'inbound-rtp',
      kind: 'video',
      jitterBufferDelay: 0.6,
      jitterBufferEmittedCount: 30,
      totalDecodeTime: 0.09,
      framesDecoded: 30,
    };
    const report = (items: RawStat[]) => ({ forEach: (cb: (s: RawStat) => void) => items.forEach(cb) });
    expect(
      inboundCounters(report([audio, video, { id: 'out-v', type: 'outbound-rtp', kind: 'video' }])),
    ).toEqual({
      audioJitterDelayS: 1.5,
      audioEmitted: 48000,
      videoJitterDelayS: 0.6,
      videoEmitted: 30,
      videoDecodeS: 0.09,
      videoDecoded: 30,
    });
    expect(inboundCounters(report([audio]))).toBeNull();
  });
});

describe('JitterBuffer mean wait', () => {
  it('is the mean occupancy at reads less half a frame, in ms', () => {
    const jb = new JitterBuffer({ targetFrames: 3 });
    const chunk = new Int16Array(480);
    for (let i = 0; i < 3; i++) jb.push(chunk, 48000, 1);
    const out = new Int16Array(480);
    // Steady state: one frame in, one frame out, 3 frames buffered at each read.
    for (let i = 0; i < 10; i++) {
      expect(jb.readInto(out)).toBe(true);
      jb.push(chunk, 48000, 1);
    }
    expect(jb.takeMeanWaitMs()).toBeCloseTo(25, 1);
    expect(jb.takeMeanWaitMs()).toBeNull();
  });
});

describe('AvSync per composite rate', () => {
  /** An AvSync holding video back by ~`delayMs` (RTP-level estimate, steady). */
  function delayed(delayMs: number): AvSync {
    const s = new AvSync();
    for (let i = 0; i < 20; i++) s.updateRtp(delayMs - UNSEEN_RTP_AUDIO_MS + COMPOSE_WAIT_MS, 0);
    return s;
  }

  /**
   * A 25 fps camera whose frames arrive at phase `phaseMs`, composed at `fps` on the room's grid
   * (10 ms ticks, base frames at 0, 40, 70, 100 … ms): the mean time from a frame's arrival to the
   * first composite that shows it or a newer one, less the applied delay.
   */
  function meanWait(
    fps: number,
    phaseMs: number,
    take: (s: AvSync, now: number) => I420Frame | null,
  ): number {
    const s = delayed(40);
    const arrivals: number[] = [];
    const firstShown: number[] = [];
    let nextArrival = phaseMs;
    let last = -1;
    for (let t = 0; t < 4000; t += AUDIO_TICK_MS) {
      while (nextArrival <= t) {
        const f = frame(arrivals.length); // 100 frames in 4 s: the tag is the frame's index
        arrivals.push(nextArrival);
        s.push(f, nextArrival);
        nextArrival += 40;
      }
      const base = baseFrameAt(t);
      if (base === last) continue;
      last = base;
      if (base % frameDivisor(fps) !== 0) continue;
      const shown = take(s, t);
      const index = shown ? shown.data[0] : -1;
      for (let i = 0; i <= index; i++) if (firstShown[i] === undefined) firstShown[i] = t;
    }
    let sum = 0;
    let n = 0;
    // Skip the start (delay ramping, first frames).
    for (let i = 40; i < firstShown.length; i++) {
      sum += firstShown[i] - arrivals[i];
      n++;
    }
    return sum / n - s.videoDelayMs;
  }

  it('shows every composite rate its frames COMPOSE_WAIT_MS after they are due, on average over camera phases', () => {
    for (const fps of [30, 15]) {
      let withLead = 0;
      let without = 0;
      const phases = 40;
      for (let phase = 0; phase < phases; phase++) {
        withLead += meanWait(fps, phase + 0.5, (s, now) => s.frameFor(fps, now)) / phases;
        without += meanWait(fps, phase + 0.5, (s, now) => s.frameAt(now)) / phases;
      }
      expect(withLead).toBeGreaterThan(COMPOSE_WAIT_MS - 1.5);
      expect(withLead).toBeLessThan(COMPOSE_WAIT_MS + 1.5);
      // Without the lead a 15 fps composite waits half of its own frame: ~17 ms more.
      if (fps === 15) expect(without - withLead).toBeCloseTo(compositeLeadMs(15), 0);
    }
  });

  it('never takes a frame earlier than its arrival, whatever the lead', () => {
    const s = delayed(8);
    expect(compositeLeadMs(7.5)).toBeGreaterThan(s.videoDelayMs);
    s.push(frame(1), 0);
    s.push(frame(2), 100);
    expect(s.frameFor(7.5, 99)?.data[0]).toBe(1);
    expect(s.frameFor(7.5, 100)?.data[0]).toBe(2);
    // The 30 fps composite takes what frameAt gives.
    expect(s.frameFor(30, 100 + s.videoDelayMs - 1)?.data[0]).toBe(1);
    expect(s.frameAt(100 + s.videoDelayMs)?.data[0]).toBe(2);
  });
});
