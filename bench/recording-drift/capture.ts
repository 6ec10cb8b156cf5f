/**
 * The capture half of the recording-drift benchmark: synthetic "composite" frames and tones with
 * the sync events in them, pushed into a real RecordingSegmenter on two MediaClocks.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { MediaClock } from '../../workers/media/media-clock';
import {
  AUDIO_SAMPLE_RATE,
  AUDIO_SAMPLES_PER_PUSH,
  type RecordingSegmenter,
  type SegmenterStats,
} from '../../workers/media/recorder/recording-segmenter';
import { OUTPUT_PROFILES } from '../../workers/protocol/media';
import { ticksToPercent } from '../process-tree';
import {
  BEEP_AMPLITUDE,
  BEEP_HZ,
  BEEP_TICKS,
  clock,
  EVENT_EVERY_SEC,
  loadavg,
  QUIET_AMPLITUDE,
  QUIET_HZ,
  round,
  type FlashPush,
  type Options,
} from './events';

/**
 * One second of "composite" frames, built once: a dark block texture with a box moving across and
 * a band of scrolling bars, so x264 does real motion search (a solid colour would make the
 * encoder's CPU unrealistically low). Mean luma stays around 50, far from the white flash.
 */
function buildFrames(width: number, height: number, count: number): Buffer[] {
  const luma = width * height;
  const base = Buffer.alloc((luma * 3) / 2, 128); // neutral chroma
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Cheap deterministic hash per 16x16 block: low-contrast texture (Y 36..59).
      const h = (Math.imul((x >> 4) + 1, 73856093) ^ Math.imul((y >> 4) + 1, 19349663)) >>> 0;
      base[y * width + x] = 36 + (h % 24);
    }
  }
  const box = Math.max(16, Math.round(height / 6) & ~1);
  const bandTop = Math.round(height * 0.8);
  const bandHeight = Math.max(4, Math.round(height / 20));
  const frames: Buffer[] = [];
  for (let f = 0; f < count; f++) {
    const frame = Buffer.from(base);
    const bx = Math.round(((width - box) * f) / count);
    const by = Math.round((height - box) / 2);
    for (let y = by; y < by + box; y++) frame.fill(110, y * width + bx, y * width + bx + box);
    for (let y = bandTop; y < bandTop + bandHeight; y++) {
      for (let x = 0; x < width; x++) frame[y * width + x] = ((x + f * 8) & 63) < 32 ? 90 : 30;
    }
    frames.push(frame);
  }
  return frames;
}

function solidFrame(width: number, height: number, y: number): Buffer {
  const luma = width * height;
  const frame = Buffer.alloc((luma * 3) / 2, 128);
  frame.fill(y, 0, luma);
  return frame;
}

/** 480 samples of a sine; both frequencies used fit a whole number of periods, so it can repeat. */
function toneTick(hz: number, amplitude: number): Int16Array {
  const out = new Int16Array(AUDIO_SAMPLES_PER_PUSH);
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / AUDIO_SAMPLE_RATE));
  }
  return out;
}

/** utime + stime of a process in clock ticks, or null when it is gone. */
function procTicks(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

export interface CaptureResult {
  wallSec: number;
  mediaSec: number;
  audioTicks: number;
  audioSkippedTicks: number;
  videoTicks: number;
  videoSkippedTicks: number;
  ffmpegCpuPercent: number | null;
  nodeCpuPercent: number;
  stats: SegmenterStats;
  interrupted: boolean;
  maxLoad1m: number;
  /** Per event index: what the segmenter knew when the flash frame was pushed. */
  flashPushes: Map<number, FlashPush>;
}

/**
 * Feeds the segmenter the way the media worker does, in real time, for opts.minutes: a 10 ms
 * audio MediaClock (silence for skipped ticks) and a video MediaClock at the profile's rate.
 */
export async function capture(
  seg: RecordingSegmenter,
  opts: Options,
  progress: (line: string) => void,
): Promise<CaptureResult> {
  const { width, height, fps } = OUTPUT_PROFILES[opts.profile];
  const frames = buildFrames(width, height, fps);
  const white = solidFrame(width, height, 235);
  const quiet = toneTick(QUIET_HZ, QUIET_AMPLITUDE);
  const beep = toneTick(BEEP_HZ, BEEP_AMPLITUDE);
  const silence = new Int16Array(AUDIO_SAMPLES_PER_PUSH);
  const totalTicks = Math.round(opts.minutes * 60 * 100);
  const videoEventEvery = EVENT_EVERY_SEC * fps;
  const lastVideoTick = opts.minutes * 60 * fps;
  const audioEventEvery = EVENT_EVERY_SEC * 100;
  // One reusable frame object, as the compositor hands out its own buffer every tick.
  const frame = { width, height, data: frames[0] as Uint8Array };

  await seg.start();
  const ffmpegTicks0 = procTicks(seg.pid);
  let ffmpegTicks1 = ffmpegTicks0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let maxLoad1m = os.loadavg()[0];

  const flashPushes = new Map<number, FlashPush>();
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let wallSec = 0;
  // Media time of a tick = (ticks run + ticks skipped) × period, i.e. the wall-clock time it stands
  // for. After an event-loop stall each MediaClock skips ahead in its own unit (10 ms vs a frame
  // period), so the run counts alone would drift apart; counting the skips keeps both events at
  // the same media time (true offset 0), like the room's content, which follows the wall clock.
  const video = new MediaClock(1000 / fps, (tick) => {
    const m = tick + video.skippedTicks;
    // No event at media time 0 (start-up is not what this measures) nor at the end, where the
    // beep would be cut off; the video clock may still tick there until the audio clock stops.
    const flash = m > 0 && m < lastVideoTick && m % videoEventEvery === 0;
    frame.data = flash ? white : frames[m % fps];
    // Only on events (one small object every 10 s): the segmenter's counts at the push.
    const before = flash ? seg.stats : null;
    const written = seg.pushVideo(frame);
    if (before) {
      flashPushes.set(m / videoEventEvery, {
        audioSec: before.audioSamplesWritten / AUDIO_SAMPLE_RATE,
        slot: before.videoFramesWritten,
        written,
      });
    }
  });
  let silenceTicks = 0;
  const audio = new MediaClock(10, (tick) => {
    // As MediaRoom.onAudioTick does: the recording gets silence for every skipped tick, so its
    // audio (the master clock) keeps wall-clock time through a stall.
    for (; silenceTicks < audio.skippedTicks; silenceTicks++) seg.pushAudio(silence);
    const m = tick + audio.skippedTicks;
    const inBeep = m >= audioEventEvery && m % audioEventEvery < BEEP_TICKS;
    seg.pushAudio(inBeep ? beep : quiet);
    if (m + 1 >= totalTicks) {
      // This tick fired at the start of the last 10 ms it pushes: the media it covers ends 10 ms later.
      wallSec = (performance.now() - t0) / 1000 + 0.01;
      // Read ffmpeg's CPU now: after stop() the process (and its /proc entry) is gone.
      ffmpegTicks1 = procTicks(seg.pid) ?? ffmpegTicks1;
      audio.stop();
      video.stop();
      finish();
    }
  });
  // Audio first: a video tick at the same instant then sees the audio of that instant.
  audio.start();
  video.start();

  const ticker = setInterval(() => {
    const elapsed = (performance.now() - t0) / 1000;
    ffmpegTicks1 = procTicks(seg.pid) ?? ffmpegTicks1;
    maxLoad1m = Math.max(maxLoad1m, os.loadavg()[0]);
    const ff =
      ffmpegTicks0 !== null && ffmpegTicks1 !== null
        ? `${Math.round(ticksToPercent(ffmpegTicks1 - ffmpegTicks0, elapsed))} %`
        : '?';
    const s = seg.stats;
    progress(
      `${clock(elapsed)} / ${clock(opts.minutes * 60)} recorded; frames ${s.videoFramesWritten} ` +
        `(dup ${s.videoFramesDuplicated}, skip ${s.videoFramesSkipped}, drop ${s.videoFramesDropped}); ` +
        `clock skips a/v ${audio.skippedTicks}/${video.skippedTicks}; ffmpeg ${ff} cpu; load ${loadavg()[0]}`,
    );
  }, 10_000);
  try {
    await done;
  } finally {
    clearInterval(ticker);
    audio.stop();
    video.stop();
  }
  const cpu = process.cpuUsage(cpu0);
  const stats = seg.stats;
  const { interrupted } = await seg.stop();
  return {
    wallSec,
    mediaSec: stats.audioSamplesWritten / AUDIO_SAMPLE_RATE,
    audioTicks: audio.tickCount,
    audioSkippedTicks: audio.skippedTicks,
    videoTicks: video.tickCount,
    videoSkippedTicks: video.skippedTicks,
    ffmpegCpuPercent:
      ffmpegTicks0 !== null && ffmpegTicks1 !== null
        ? round(ticksToPercent(ffmpegTicks1 - ffmpegTicks0, wallSec))
        : null,
    nodeCpuPercent: round(((cpu.user + cpu.system) / 1e6 / wallSec) * 100),
    stats,
    interrupted,
    maxLoad1m: round(maxLoad1m, 2),
    flashPushes,
  };
}
