/**
 * Real-media helpers for the recording tests: synthetic I420 frames and a sine tone fed in real
 * time (like the media worker's clocks), and analysis of the produced files with ffmpeg/ffprobe.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger, setLogSink } from '../../../workers/kernel/logger';
import type { RecordingManifest } from '../../../workers/protocol/recording';
import { runProcess } from '../../../workers/kernel/process-control';
import {
  AUDIO_SAMPLE_RATE,
  AUDIO_SAMPLES_PER_PUSH,
} from '../../../workers/media/recorder/recording-segmenter';

export const logLines: string[] = [];
/** Keeps jest output clean; tests can assert on logLines. */
export function captureLogs(): Logger {
  setLogSink((line) => {
    logLines.push(line);
    if (logLines.length > 5000) logLines.splice(0, 1000);
  });
  return new Logger('test');
}

export async function tempRecordingsDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'recordings-'));
}

export function newRecordingId(): string {
  return `rec_${randomBytes(6).toString('hex')}`;
}

export function manifestFor(
  id: string,
  profile: { width: number; height: number; fps: number },
): RecordingManifest {
  const now = new Date().toISOString();
  return {
    id,
    roomId: 'room_test',
    state: 'recording',
    createdAt: now,
    startedAt: now,
    participantsSeen: [{ participantId: 'p1', displayName: 'Ada', firstSeenAt: now }],
    profile,
    interrupted: false,
    files: [],
    webmRequested: false,
  };
}

/** Solid-colour I420 frame (BT.601 limited range, what ffmpeg's default rgb conversion expects). */
export function solidI420(width: number, height: number, [r, g, b]: [number, number, number]): Uint8Array {
  const y = Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
  const u = Math.round(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255);
  const v = Math.round(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255);
  const luma = width * height;
  const frame = new Uint8Array((luma * 3) / 2);
  frame.fill(y, 0, luma);
  frame.fill(u, luma, luma + luma / 4);
  frame.fill(v, luma + luma / 4);
  return frame;
}

export interface MediaSink {
  pushVideo(frame: { width: number; height: number; data: Uint8Array }): unknown;
  pushAudio(samples: Int16Array): unknown;
}

export interface FeedOptions {
  seconds: number;
  fps: number;
  width: number;
  height: number;
  rgb: [number, number, number];
  toneHz: number;
  /**
   * A sync marker instead of continuous media: black + silence, except white video and the tone
   * during [atSec, atSec + durationSec) of media time (video by wall clock, audio by sample count,
   * as the media worker produces them).
   */
  marker?: { atSec: number; durationSec: number };
}

/**
 * Feeds `seconds` of media paced by the wall clock: audio in 10 ms ticks, video at `fps`, both
 * catching up after timer jitter (as the media worker's clocks do). Resolves early if `until`
 * returns true. The audio buffer is reused between ticks on purpose: the sink must copy.
 */
export async function feedRealtime(
  sink: MediaSink,
  opts: FeedOptions,
  until: () => boolean = () => false,
): Promise<{ audioPushes: number; videoPushes: number }> {
  const { marker } = opts;
  const colour = solidI420(opts.width, opts.height, marker ? [0, 0, 0] : opts.rgb);
  const white = solidI420(opts.width, opts.height, [255, 255, 255]);
  const inMarker = (t: number) =>
    marker !== undefined && t >= marker.atSec && t < marker.atSec + marker.durationSec;
  const audio = new Int16Array(AUDIO_SAMPLES_PER_PUSH);
  let audioPushes = 0;
  let videoPushes = 0;
  const started = process.hrtime.bigint();
  const totalTicks = Math.round(opts.seconds * 100);
  while (audioPushes < totalTicks && !until()) {
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const audioDue = Math.min(totalTicks, Math.floor(elapsedMs / 10) + 1);
    while (audioPushes < audioDue) {
      for (let i = 0; i < audio.length; i++) {
        const n = audioPushes * AUDIO_SAMPLES_PER_PUSH + i;
        const on = !marker || inMarker(n / AUDIO_SAMPLE_RATE);
        audio[i] = on ? Math.round(12000 * Math.sin((2 * Math.PI * opts.toneHz * n) / AUDIO_SAMPLE_RATE)) : 0;
      }
      sink.pushAudio(audio);
      audioPushes++;
    }
    const videoDue = Math.floor((elapsedMs / 1000) * opts.fps) + 1;
    if (videoPushes < videoDue) {
      const data = inMarker(elapsedMs / 1000) ? white : colour;
      sink.pushVideo({ width: opts.width, height: opts.height, data });
      videoPushes = videoDue;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { audioPushes, videoPushes };
}

/** Media time (s) of the first frame whose mean luma is above mid-grey, using the stream's start_time. */
export async function firstBrightFrameSec(file: string, fps: number): Promise<number> {
  const { streams } = await probeStreams(file);
  const start = Number(streams.find((s) => s.codec_type === 'video')!.start_time ?? 0);
  const { stdout } = await runProcess(
    'ffmpeg',
    [
      '-v',
      'error',
      '-i',
      file,
      '-map',
      '0:v',
      '-fps_mode',
      'passthrough',
      '-vf',
      'scale=8:8,format=gray',
      '-f',
      'rawvideo',
      'pipe:1',
    ],
    { timeoutMs: 30000 },
  );
  for (let f = 0; (f + 1) * 64 <= stdout.length; f++) {
    let sum = 0;
    for (let i = 0; i < 64; i++) sum += stdout[f * 64 + i];
    if (sum / 64 > 128) return start + f / fps;
  }
  return NaN;
}

/** Media time (s) of the first audio sample louder than a quarter of full scale. */
export async function firstLoudSampleSec(file: string): Promise<number> {
  const { streams } = await probeStreams(file);
  const start = Number(streams.find((s) => s.codec_type === 'audio')!.start_time ?? 0);
  const pcm = await decodeAudio(file, 0, 3600);
  const i = pcm.findIndex((x) => Math.abs(x) > 8192);
  return i < 0 ? NaN : start + i / AUDIO_SAMPLE_RATE;
}

export interface StreamInfo {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  duration?: string;
  start_time?: string;
}

export async function probeStreams(file: string): Promise<{ durationSec: number; streams: StreamInfo[] }> {
  const { stdout } = await runProcess(
    'ffprobe',
    [
      '-v',
      'error',
      '-show_entries',
      'format=duration:stream=codec_type,codec_name,width,height,duration,start_time',
      '-of',
      'json',
      file,
    ],
    { timeoutMs: 30000 },
  );
  const json = JSON.parse(stdout.toString()) as { format: { duration: string }; streams: StreamInfo[] };
  return { durationSec: Number(json.format.duration), streams: json.streams };
}

/** Mean RGB of the frame at `atSec`, decoded by ffmpeg. */
export async function meanColour(file: string, atSec: number): Promise<[number, number, number]> {
  const { stdout } = await runProcess(
    'ffmpeg',
    [
      '-v',
      'error',
      '-ss',
      String(atSec),
      '-i',
      file,
      '-frames:v',
      '1',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      'pipe:1',
    ],
    { timeoutMs: 30000 },
  );
  const sums = [0, 0, 0];
  for (let i = 0; i + 2 < stdout.length; i += 3) {
    sums[0] += stdout[i];
    sums[1] += stdout[i + 1];
    sums[2] += stdout[i + 2];
  }
  const n = stdout.length / 3;
  return [sums[0] / n, sums[1] / n, sums[2] / n];
}

/** `seconds` of mono 48 kHz audio from `fromSec`, decoded by ffmpeg. */
export async function decodeAudio(file: string, fromSec: number, seconds: number): Promise<Int16Array> {
  const { stdout } = await runProcess(
    'ffmpeg',
    [
      '-v',
      'error',
      '-ss',
      String(fromSec),
      '-t',
      String(seconds),
      '-i',
      file,
      '-vn',
      '-f',
      's16le',
      '-ac',
      '1',
      '-ar',
      '48000',
      'pipe:1',
    ],
    { timeoutMs: 30000 },
  );
  const copy = Buffer.from(stdout);
  return new Int16Array(copy.buffer, copy.byteOffset, Math.floor(copy.length / 2));
}

/** Goertzel: power of one frequency in a block of samples (normalised by length). */
export function goertzelPower(samples: Int16Array, freqHz: number, sampleRate = 48000): number {
  const coeff = 2 * Math.cos((2 * Math.PI * freqHz) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (samples.length * samples.length);
}

export async function listSegments(dir: string): Promise<string[]> {
  return (await fs.readdir(path.join(dir, 'segments'))).filter((n) => n.endsWith('.ts')).sort();
}

/**
 * Writes `seconds` of segments in the capture's format (H.264 + AAC in MPEG-TS, keyframe per
 * segment) straight from ffmpeg's test sources: faster than a real-time capture for tests that
 * only need valid input to finalize.
 */
export async function writeTestSegments(
  recordingDir: string,
  seconds: number,
  segmentSeconds = 1,
): Promise<void> {
  await fs.mkdir(path.join(recordingDir, 'segments'), { recursive: true });
  // prettier-ignore
  const args = [
      '-v', 'error',
      '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=15:duration=${seconds}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
      '-g', String(15 * segmentSeconds), '-sc_threshold', '0', '-c:a', 'aac', '-ac', '1',
      '-f', 'segment', '-segment_time', String(segmentSeconds), '-segment_format', 'mpegts',
      path.join(recordingDir, 'segments', 'seg-%05d.ts'),
    ];
  await runProcess('ffmpeg', args, { timeoutMs: 60000 });
}
