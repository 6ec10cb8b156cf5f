/**
 * `npm run bench:recording-drift`: long-recording A/V sync of the recorder. Target (recording
 * issue): A/V offset ≤ 40 ms and no drift over a 10-minute recording.
 *
 * Drives a real RecordingSegmenter the way the media worker does (a 10 ms audio MediaClock pushing
 * 480 samples per tick and silence for skipped ticks, a video MediaClock at the profile's fps
 * pushing a composed-size I420 frame, in real time), finalizes the segments into a fast-start MP4
 * with finalizeRecording, and measures in that file where each sync event's flash and beep ended up.
 *
 * Sync events: every EVENT_EVERY_SEC of media time the video is white for one frame period and
 * the audio carries a 20 ms 1 kHz beep. Each stream's event is chosen from its own clock's tick
 * count including skipped ticks (video tick v is media time v/fps, audio tick a is a × 10 ms), both
 * clocks starting together, so the true offset is 0 and whatever the file shows is the recorder's
 * doing.
 *
 *   node dist/bench/recording-drift.js [--minutes=N] [--profile=high|standard|low] [--keep]
 *
 * Writes bench/results/recording-drift.{json,md} for the default run (10 min, high) and
 * bench/results/recording-drift-partial.{json,md} otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger, setLogLevel, setLogSink } from '../src/common/logger';
import { MediaClock } from '../workers/media/media-clock';
import {
  AUDIO_SAMPLE_RATE,
  AUDIO_SAMPLES_PER_PUSH,
  RecordingSegmenter,
  type SegmenterStats,
} from '../workers/media/recorder/recording-segmenter';
import { OUTPUT_PROFILES, type Profile } from '../workers/protocol/media';
import { RECORDING_FILES, type RecordingManifest } from '../workers/protocol/recording';
import { finalizeRecording } from '../workers/recording/finalize';
import { ManifestStore } from '../workers/recording/manifest-store';
import { runProcess } from '../workers/recording/process-control';
import { ticksToPercent } from './process-tree';

const RESULTS_DIR = path.resolve(__dirname, '../../bench/results');
const EVENT_EVERY_SEC = 10;
const BEEP_TICKS = 2; // 20 ms of 10 ms audio ticks
const BEEP_HZ = 1000;
const BEEP_AMPLITUDE = 16000;
/** Half the beep's amplitude: a sine crosses it 1/12 period (0.08 ms) after onset. */
const BEEP_THRESHOLD = BEEP_AMPLITUDE / 2;
const QUIET_HZ = 200;
const QUIET_AMPLITUDE = 200; // about −44 dBFS: "room tone", far below the threshold
const TARGET_OFFSET_MS = 40;
const SEGMENT_SECONDS = 2;
/** Analysis size of the picture: enough for a mean luma, small enough to stream 10 min quickly. */
const PROBE_W = 64;
const PROBE_H = 36;
/** Mean gray level that separates the white flash (≈ 255) from the dark moving picture (≈ 50). */
const FLASH_LUMA = 150;

interface Options {
  minutes: number;
  profile: Profile;
  keep: boolean;
}

interface EventResult {
  index: number;
  /** Nominal media time of the event, s. */
  mediaSec: number;
  /** Presentation times in the MP4, s (null: not found). */
  flashSec: number | null;
  beepSec: number | null;
  /** flash − beep, ms: positive means the picture comes after the sound. */
  offsetMs: number | null;
  /**
   * Where the audio clock stood when the flash frame was pushed, relative to the event (ms): 0
   * while both clocks run in step; after an event-loop stall the two MediaClocks skip ahead by
   * different amounts (whole 10 ms ticks vs whole frame periods) and this shows it.
   */
  flashPushedAtAudioMs: number | null;
  /**
   * The slot the segmenter gave the flash frame (its videoFramesWritten at the push), as a time
   * relative to the event (ms); null if it skipped the frame. The file should show offsetMs equal
   * to this: a difference would be an error after the segmenter (ffmpeg, finalize).
   */
  flashSlotMs: number | null;
}

interface FlashPush {
  audioSec: number;
  slot: number;
  written: boolean;
}

const startedAt = performance.now();
let phase = 'start';
const children = new Set<ChildProcess>();
let cleanup: () => Promise<void> = async () => undefined;

function progress(line: string): void {
  process.stderr.write(
    `[recording-drift ${clock((performance.now() - startedAt) / 1000)} ${phase}] ${line}\n`,
  );
}

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function parseCli(argv: string[]): Options {
  const opts: Options = { minutes: 10, profile: 'high', keep: false };
  for (const arg of argv) {
    const [key, value] = arg.split('=', 2);
    if (key === '--minutes' && Number(value) > 0) opts.minutes = Number(value);
    else if (key === '--profile' && value in OUTPUT_PROFILES) opts.profile = value as Profile;
    else if (key === '--keep' && value === undefined) opts.keep = true;
    else
      throw new Error(`unknown or invalid option ${arg} (--minutes=N, --profile=high|standard|low, --keep)`);
  }
  return opts;
}

// --- synthetic media ------------------------------------------------------------------------

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

// --- CPU and machine ------------------------------------------------------------------------

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

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]): number | null =>
  xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
const loadavg = (): number[] => os.loadavg().map((v) => round(v, 2));

// --- capture --------------------------------------------------------------------------------

interface CaptureResult {
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

async function capture(seg: RecordingSegmenter, opts: Options): Promise<CaptureResult> {
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

// --- analysis -------------------------------------------------------------------------------

/** Runs ffmpeg and hands its stdout to `onData` chunk by chunk: nothing is held in memory. */
function streamFfmpeg(args: string[], onData: (chunk: Buffer) => void, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-v', 'error', '-nostdin', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let err = '';
    child.stdout.on('data', onData);
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolve();
      else reject(new Error(`ffmpeg ${args.join(' ')} failed (${code ?? signal}): ${err.trim()}`));
    });
  });
}

interface StreamInfo {
  codec_type: string;
  start_time?: string;
  duration?: string;
  nb_frames?: string;
}

async function probe(file: string): Promise<{ durationSec: number; streams: StreamInfo[] }> {
  const { stdout } = await runProcess(
    'ffprobe',
    [
      '-v',
      'error',
      '-show_entries',
      'format=duration:stream=codec_type,start_time,duration,nb_frames',
      '-of',
      'json',
      file,
    ],
    { timeoutMs: 60_000 },
  );
  const json = JSON.parse(stdout.toString()) as { format: { duration: string }; streams: StreamInfo[] };
  return { durationSec: Number(json.format.duration), streams: json.streams };
}

/** Presentation times of the video frames in display order (from the container, no decoding). */
async function videoPts(file: string): Promise<number[]> {
  const { stdout } = await runProcess(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file],
    { timeoutMs: 300_000 },
  );
  return stdout
    .toString()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Beep onsets (s): the first sample above the threshold, at least 1 s after the previous onset.
 * Decoded at the native 48 kHz (no resampler between the file and the measurement); streamed, so
 * only the onsets are kept.
 */
async function findBeeps(
  file: string,
  audioStartSec: number,
  minutes: number,
): Promise<{ onsets: number[]; samples: number }> {
  const onsets: number[] = [];
  let n = 0;
  let last = -Infinity;
  let carry: Buffer | null = null;
  await streamFfmpeg(
    ['-i', file, '-map', '0:a:0', '-f', 's16le', '-ac', '1', '-ar', String(AUDIO_SAMPLE_RATE), 'pipe:1'],
    (chunk) => {
      const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
      const whole = buf.length & ~1;
      for (let i = 0; i < whole; i += 2, n++) {
        const x = buf.readInt16LE(i);
        if ((x > BEEP_THRESHOLD || x < -BEEP_THRESHOLD) && n - last > AUDIO_SAMPLE_RATE) {
          last = n;
          onsets.push(audioStartSec + n / AUDIO_SAMPLE_RATE);
        }
      }
      carry = whole < buf.length ? buf.subarray(whole) : null;
    },
    Math.max(120_000, minutes * 60_000),
  );
  return { onsets, samples: n };
}

/**
 * Flash onsets: frame index f of the first bright frame of each run (time = pts[f]). Decoded to
 * 64x36 gray and streamed, so 10 minutes of 720p never sit in memory. `onFlash` reports each one as
 * soon as it is decoded (for the live offsets).
 */
async function findFlashes(
  file: string,
  pts: number[],
  minutes: number,
  onFlash: (sec: number) => void,
): Promise<{ frames: number }> {
  const size = PROBE_W * PROBE_H;
  let f = 0;
  let wasBright = false;
  let carry: Buffer | null = null;
  await streamFfmpeg(
    [
      '-i',
      file,
      '-map',
      '0:v:0',
      // One output frame per decoded frame: no duplicates or drops by ffmpeg's rate logic.
      '-fps_mode',
      'passthrough',
      '-vf',
      `scale=${PROBE_W}:${PROBE_H}:flags=area,format=gray`,
      '-f',
      'rawvideo',
      'pipe:1',
    ],
    (chunk) => {
      let buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
      let at = 0;
      for (; at + size <= buf.length; at += size, f++) {
        let sum = 0;
        for (let i = at; i < at + size; i++) sum += buf[i];
        const bright = sum / size > FLASH_LUMA;
        if (bright && !wasBright) onFlash(pts[f] ?? NaN);
        wasBright = bright;
      }
      buf = buf.subarray(at);
      carry = buf.length > 0 ? Buffer.from(buf) : null;
    },
    Math.max(300_000, minutes * 120_000),
  );
  return { frames: f };
}

/** Assigns a detection to the event whose nominal time is nearest, if within 2 s of it. */
function eventIndexOf(sec: number, startSec: number): number | null {
  const k = Math.round((sec - startSec) / EVENT_EVERY_SEC);
  return Math.abs(sec - startSec - k * EVENT_EVERY_SEC) <= 2 && k >= 1 ? k : null;
}

// --- report ---------------------------------------------------------------------------------

interface Report {
  date: string;
  command: string;
  target: string;
  settings: Record<string, unknown>;
  machine: Record<string, unknown>;
  summary: Record<string, number | string | boolean | null>;
  durations: Record<string, number | null>;
  capture: Record<string, unknown>;
  checks: Record<string, number | null>;
  verdict: { offset: 'PASS' | 'MISS'; drift: 'PASS' | 'MISS'; notes: string[] };
  events: EventResult[];
}

function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench:recording-drift') {
    return `npm run bench:recording-drift${args ? ` -- ${args}` : ''}`;
  }
  return `node dist/bench/recording-drift.js${args ? ` ${args}` : ''}`;
}

function markdown(r: Report): string {
  const s = r.summary;
  const m = r.machine;
  const d = r.durations;
  const c = r.capture;
  const v = (x: unknown, suffix = ''): string =>
    x === null || x === undefined ? '–' : `${String(x)}${suffix}`;
  const lines = [
    '# Long-recording A/V sync benchmark',
    '',
    `- Date: ${r.date}`,
    `- Command: \`${r.command}\``,
    `- Machine: ${v(m.nproc)} cores (${v(m.cpuModel)}), ${v(m.memoryGb)} GB RAM, ${v(m.platform)}, Node ${v(m.node)}, ${v(m.ffmpeg)}`,
    `- Load average (1/5/15 min) at start ${(m.loadAverageAtStart as number[]).join(' / ')}, at end ${(m.loadAverageAtEnd as number[]).join(' / ')}, highest 1-min value seen while recording ${v(m.maxLoad1mWhileRecording)}`,
    `- Settings: ${v(r.settings.minutes)} min, profile ${v(r.settings.profile)} (${v(r.settings.width)}x${v(r.settings.height)}@${v(r.settings.fps)}), a flash + beep every ${EVENT_EVERY_SEC} s`,
    `- Target: ${r.target}`,
    '',
    '## Summary',
    '',
    '| measure | value |',
    '| --- | --- |',
    `| events found (flash and beep) / expected | ${v(s.eventsPaired)} / ${v(s.eventsExpected)} |`,
    `| first-minute mean offset (video − audio) | ${v(s.firstMinuteMeanOffsetMs, ' ms')} |`,
    `| last-minute mean offset | ${v(s.lastMinuteMeanOffsetMs, ' ms')} |`,
    `| drift (last − first) | ${v(s.driftMs, ' ms')} — **${r.verdict.drift}** |`,
    `| max abs offset | ${v(s.maxAbsOffsetMs, ' ms')} — **${r.verdict.offset}** |`,
    `| offset range (min … max) | ${v(s.minOffsetMs)} … ${v(s.maxOffsetMs, ' ms')} |`,
    `| file duration vs wall clock | ${v(d.fileSec, ' s')} vs ${v(d.wallClockSec, ' s')} (media clock ${v(d.mediaSec, ' s')}) |`,
    `| video / audio stream durations | ${v(d.videoStreamSec, ' s')} / ${v(d.audioStreamSec, ' s')} |`,
    `| segmenter frames written / duplicated / skipped / dropped | ${v(c.videoFramesWritten)} / ${v(c.videoFramesDuplicated)} / ${v(c.videoFramesSkipped)} / ${v(c.videoFramesDropped)} |`,
    `| media clock ticks skipped (audio / video) | ${v(c.audioSkippedTicks)} / ${v(c.videoSkippedTicks)} |`,
    `| CPU ffmpeg / Node (% of one core, while recording) | ${v(c.ffmpegCpuPercent, ' %')} / ${v(c.nodeCpuPercent, ' %')} |`,
    `| finalize (remux to fast-start MP4) | ${v(r.summary.finalizeSec, ' s')}, ${v(r.summary.mp4Mb, ' MB')} |`,
    '',
  ];
  if (r.verdict.notes.length > 0) lines.push('## Notes', '', ...r.verdict.notes.map((n) => `- ${n}`), '');
  lines.push(
    '## Events',
    '',
    '| # | media time | flash in file | beep in file | offset | audio clock at flash push | slot given to the flash |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const e of r.events) {
    lines.push(
      `| ${e.index} | ${e.mediaSec} s | ${v(e.flashSec, ' s')} | ${v(e.beepSec, ' s')} | ${v(e.offsetMs, ' ms')} | ${v(e.flashPushedAtAudioMs, ' ms')} | ${v(e.flashSlotMs, ' ms')} |`,
    );
  }
  lines.push(
    '',
    'Offset = flash time − beep time in the MP4 (presentation times: video packet pts from ffprobe, audio ' +
      'stream start + decoded sample index); positive means the picture is late. Drift passes when the ' +
      'last-minute and first-minute means differ by less than half a frame period.',
    '',
  );
  return lines.join('\n');
}

// --- main -----------------------------------------------------------------------------------

async function main(opts: Options): Promise<void> {
  const profile = OUTPUT_PROFILES[opts.profile];
  const loadAtStart = loadavg();
  // The segmenter and finalize log JSON lines; only their warnings matter here, on stderr.
  setLogLevel('warn');
  setLogSink((line) => process.stderr.write(`[recording-drift log] ${line}\n`));
  const logger = new Logger('recording-drift');

  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'recording-drift-'));
  const id = `rec_drift_${randomBytes(4).toString('hex')}`;
  const store = new ManifestStore(tmp, logger);
  const now = new Date().toISOString();
  const manifest: RecordingManifest = {
    id,
    roomId: 'bench_recording_drift',
    state: 'recording',
    createdAt: now,
    startedAt: now,
    participantsSeen: [],
    profile: { width: profile.width, height: profile.height, fps: profile.fps },
    interrupted: false,
    files: [],
    webmRequested: false,
  };
  await store.create(manifest);
  const seg = new RecordingSegmenter({
    recordingId: id,
    dir: store.dirOf(id),
    width: profile.width,
    height: profile.height,
    fps: profile.fps,
    segmentSeconds: SEGMENT_SECONDS,
    logger,
  });
  let segStarted = false;
  let kept: string | null = null;
  cleanup = async () => {
    if (segStarted) await seg.stop().catch(() => undefined);
    for (const child of children) child.kill('SIGKILL');
    if (kept) {
      await fsp.rm(store.pathOf(id, RECORDING_FILES.segmentsDir), { recursive: true, force: true });
    } else {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  };

  phase = 'record';
  progress(
    `recording ${opts.minutes} min of ${profile.width}x${profile.height}@${profile.fps} in real time into ${tmp}`,
  );
  segStarted = true;
  const cap = await capture(seg, opts);
  segStarted = false;
  progress(
    `capture done: ${round(cap.wallSec)} s wall, ${cap.mediaSec} s media; ffmpeg ${cap.ffmpegCpuPercent} %, ` +
      `node ${cap.nodeCpuPercent} % cpu${cap.interrupted ? '; ffmpeg exited abnormally' : ''}`,
  );
  await store.update(id, (m) => {
    m.endedAt = new Date().toISOString();
    m.interrupted = cap.interrupted;
  });

  phase = 'finalize';
  const f0 = performance.now();
  await finalizeRecording(
    { data: { recordingId: id, webm: false }, updateProgress: async () => undefined },
    { store, logger },
  );
  const finalizeSec = round((performance.now() - f0) / 1000);
  const mp4 = store.pathOf(id, RECORDING_FILES.mp4);
  const mp4Bytes = (await fsp.stat(mp4)).size;
  progress(`finalized in ${finalizeSec} s: ${round(mp4Bytes / 1e6)} MB`);

  phase = 'measure';
  const info = await probe(mp4);
  const vStream = info.streams.find((s) => s.codec_type === 'video');
  const aStream = info.streams.find((s) => s.codec_type === 'audio');
  if (!vStream || !aStream) throw new Error('the MP4 lacks a video or an audio stream');
  const videoStart = Number(vStream.start_time ?? 0);
  const audioStart = Number(aStream.start_time ?? 0);
  const pts = await videoPts(mp4);
  // Constant frame rate check: how far the container's pts are from start + f/fps.
  let cfrDeviation = 0;
  for (let f = 0; f < pts.length; f++) {
    cfrDeviation = Math.max(cfrDeviation, Math.abs(pts[f] - (pts[0] + f / profile.fps)));
  }
  const beeps = await findBeeps(mp4, audioStart, opts.minutes);
  progress(`${beeps.onsets.length} beeps found; decoding video for the flashes`);

  const eventsExpected = Math.ceil((opts.minutes * 60) / EVENT_EVERY_SEC) - 1;
  const events: EventResult[] = [];
  for (let k = 1; k <= eventsExpected; k++) {
    const push = cap.flashPushes.get(k);
    events.push({
      index: k,
      mediaSec: k * EVENT_EVERY_SEC,
      flashSec: null,
      beepSec: null,
      offsetMs: null,
      flashPushedAtAudioMs: push ? round((push.audioSec - k * EVENT_EVERY_SEC) * 1000) : null,
      flashSlotMs: push?.written ? round((push.slot / profile.fps - k * EVENT_EVERY_SEC) * 1000) : null,
    });
  }
  // Media time 0 is where the first audio sample sits: the audio stream's start.
  const extra: string[] = [];
  for (const b of beeps.onsets) {
    const k = eventIndexOf(b, audioStart);
    const e = k === null ? undefined : events[k - 1];
    if (e && e.beepSec === null) e.beepSec = round(b, 4);
    else extra.push(`beep at ${round(b, 3)} s`);
  }
  const flashes = await findFlashes(mp4, pts, opts.minutes, (sec) => {
    const k = eventIndexOf(sec, audioStart);
    const e = k === null ? undefined : events[k - 1];
    if (!e || e.flashSec !== null) {
      extra.push(`flash at ${round(sec, 3)} s`);
      return;
    }
    e.flashSec = round(sec, 4);
    if (e.beepSec !== null) e.offsetMs = round((sec - e.beepSec) * 1000);
    progress(
      `event ${k} @ ${e.mediaSec} s: flash ${e.flashSec} s, beep ${v(e.beepSec)} s → offset ${v(e.offsetMs)} ms ` +
        `(audio clock at push ${v(e.flashPushedAtAudioMs)} ms, slot ${v(e.flashSlotMs)} ms)`,
    );
  });

  // --- summary ---
  const paired = events.filter((e) => e.offsetMs !== null);
  const offsets = paired.map((e) => e.offsetMs as number);
  const totalSec = opts.minutes * 60;
  const firstMin = mean(paired.filter((e) => e.mediaSec < 60).map((e) => e.offsetMs as number));
  const lastMin = mean(paired.filter((e) => e.mediaSec >= totalSec - 60).map((e) => e.offsetMs as number));
  const drift = firstMin !== null && lastMin !== null ? lastMin - firstMin : null;
  const maxAbs = offsets.length > 0 ? Math.max(...offsets.map(Math.abs)) : null;
  const framePeriodMs = 1000 / profile.fps;
  const notes: string[] = [];
  if (paired.length < eventsExpected) {
    notes.push(
      `${eventsExpected - paired.length} of ${eventsExpected} events lack a flash or a beep in the file.`,
    );
  }
  if (extra.length > 0) notes.push(`Detections not matching an event: ${extra.slice(0, 10).join(', ')}.`);
  if (cap.audioSkippedTicks > 0 || cap.videoSkippedTicks > 0) {
    notes.push(
      `Event-loop stalls over 200 ms made the media clocks skip ticks (audio ${cap.audioSkippedTicks} × 10 ms, ` +
        `filled with silence in the recording; video ${cap.videoSkippedTicks} × ${round(framePeriodMs)} ms, ` +
        'covered by duplicated frames). An event that fell into a stall has no flash or no beep.',
    );
  }
  // Separate the feed from the recorder: where the flash arrived vs where the file shows it.
  // In step, the audio count at the flash's push is the event time or one 10 ms tick past it
  // (depending on which of the two timers due at that instant ran first).
  const skewed = events.filter(
    (e) =>
      e.flashPushedAtAudioMs !== null && (e.flashPushedAtAudioMs < -0.5 || e.flashPushedAtAudioMs > 10.5),
  );
  if (skewed.length > 0) {
    notes.push(
      `${skewed.length} flash(es) reached the segmenter when the audio clock was outside [0, 10] ms of the event ` +
        `(${skewed.map((e) => `#${e.index}: ${e.flashPushedAtAudioMs} ms`).join(', ')}), i.e. the two feed clocks ` +
        'were no longer in step at that moment; the segmenter places a frame by the audio count at arrival.',
    );
  }
  const backfilled = events.filter((e) => {
    const push = cap.flashPushes.get(e.index);
    return push?.written && push.slot < Math.floor(push.audioSec * profile.fps + 1e-9);
  });
  if (backfilled.length > 0) {
    notes.push(
      `${backfilled.length} flash frame(s) arrived while video was behind the audio clock and were written into ` +
        `the missing earlier slot(s) too, so they start early (${backfilled.map((e) => `#${e.index}`).join(', ')}).`,
    );
  }
  const unwritten = events.filter((e) => cap.flashPushes.get(e.index)?.written === false);
  if (unwritten.length > 0) {
    notes.push(
      `${unwritten.length} flash frame(s) were not written by the segmenter (video ahead of the audio clock, or ` +
        `back-pressure): ${unwritten.map((e) => `#${e.index}`).join(', ')}.`,
    );
  }
  const fileVsSlot = paired
    .filter((e) => e.flashSlotMs !== null)
    .map((e) => Math.abs((e.offsetMs as number) - (e.flashSlotMs as number)));
  const fileVsSlotMax = fileVsSlot.length > 0 ? Math.max(...fileVsSlot) : null;
  const offsetPass = maxAbs !== null && maxAbs <= TARGET_OFFSET_MS && paired.length === eventsExpected;
  const driftPass = drift !== null && Math.abs(drift) < framePeriodMs / 2;
  const videoSec = vStream.duration !== undefined ? Number(vStream.duration) : null;
  const audioSec = aStream.duration !== undefined ? Number(aStream.duration) : null;

  const report: Report = {
    date: new Date().toISOString(),
    command: commandLine(),
    target: `|offset| ≤ ${TARGET_OFFSET_MS} ms for every event, and no drift (|last-minute − first-minute mean| < half a frame period, ${round(framePeriodMs / 2)} ms)`,
    settings: {
      minutes: opts.minutes,
      profile: opts.profile,
      width: profile.width,
      height: profile.height,
      fps: profile.fps,
      segmentSeconds: SEGMENT_SECONDS,
      eventEverySec: EVENT_EVERY_SEC,
      beep: `${BEEP_TICKS * 10} ms ${BEEP_HZ} Hz, amplitude ${BEEP_AMPLITUDE}`,
      flash: 'one frame period of Y=235 (else dark moving picture, mean Y ≈ 50)',
    },
    machine: {
      nproc: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGb: round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      ffmpeg: await ffmpegVersion(),
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg(),
      maxLoad1mWhileRecording: cap.maxLoad1m,
    },
    summary: {
      eventsExpected,
      eventsPaired: paired.length,
      flashesFound: events.filter((e) => e.flashSec !== null).length,
      beepsFound: events.filter((e) => e.beepSec !== null).length,
      firstMinuteMeanOffsetMs: firstMin === null ? null : round(firstMin),
      lastMinuteMeanOffsetMs: lastMin === null ? null : round(lastMin),
      driftMs: drift === null ? null : round(drift),
      meanOffsetMs: offsets.length > 0 ? round(mean(offsets) as number) : null,
      minOffsetMs: offsets.length > 0 ? Math.min(...offsets) : null,
      maxOffsetMs: offsets.length > 0 ? Math.max(...offsets) : null,
      maxAbsOffsetMs: maxAbs,
      finalizeSec,
      mp4Mb: round(mp4Bytes / 1e6),
    },
    durations: {
      wallClockSec: round(cap.wallSec, 3),
      mediaSec: cap.mediaSec,
      fileSec: round(info.durationSec, 3),
      videoStreamSec: videoSec,
      audioStreamSec: audioSec,
      videoStartSec: videoStart,
      audioStartSec: audioStart,
    },
    capture: {
      ...cap.stats,
      audioTicks: cap.audioTicks,
      audioSkippedTicks: cap.audioSkippedTicks,
      videoTicks: cap.videoTicks,
      videoSkippedTicks: cap.videoSkippedTicks,
      ffmpegCpuPercent: cap.ffmpegCpuPercent,
      nodeCpuPercent: cap.nodeCpuPercent,
      interrupted: cap.interrupted,
    },
    checks: {
      videoFramesInFile: pts.length,
      videoFramesDecoded: flashes.frames,
      cfrMaxDeviationMs: round(cfrDeviation * 1000, 3),
      /** max |measured offset − offset predicted from the segmenter's slot|: ffmpeg + finalize error. */
      fileVsSegmenterSlotMaxMs: fileVsSlotMax === null ? null : round(fileVsSlotMax),
      audioSamplesDecoded: beeps.samples,
      audioDecodedSec: round(beeps.samples / AUDIO_SAMPLE_RATE, 3),
    },
    verdict: { offset: offsetPass ? 'PASS' : 'MISS', drift: driftPass ? 'PASS' : 'MISS', notes },
    events,
  };
  const isDefault = opts.minutes === 10 && opts.profile === 'high';
  const stem = isDefault ? 'recording-drift' : 'recording-drift-partial';
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.json`), JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.md`), markdown(report));

  phase = 'done';
  progress(
    `offset first minute ${v(report.summary.firstMinuteMeanOffsetMs)} ms, last minute ` +
      `${v(report.summary.lastMinuteMeanOffsetMs)} ms, drift ${v(report.summary.driftMs)} ms (${report.verdict.drift}), ` +
      `max |offset| ${v(maxAbs)} ms (${report.verdict.offset}); file ${report.durations.fileSec} s vs wall ${report.durations.wallClockSec} s`,
  );
  for (const n of notes) progress(`note: ${n}`);
  progress(`results: bench/results/${stem}.json and .md`);
  if (opts.keep) {
    kept = mp4;
    progress(`kept ${mp4}`);
  }
}

function v(x: unknown): string {
  return x === null || x === undefined ? '–' : String(x);
}

async function ffmpegVersion(): Promise<string> {
  try {
    const { stdout } = await runProcess('ffmpeg', ['-version'], { timeoutMs: 10_000 });
    return stdout.toString().split('\n')[0].split(' Copyright')[0];
  } catch {
    return 'ffmpeg (version unknown)';
  }
}

function entry(): void {
  let opts: Options;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  // Hard stop: recording + finalize + analysis take ~1.3× the recorded time; far beyond that
  // something hangs, and the run must still end and clean up by itself.
  const deadline = setTimeout(() => void stop('deadline exceeded', 1), (opts.minutes * 60 * 3 + 300) * 1000);
  deadline.unref();
  let stopping = false;
  const stop = async (why: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    progress(`${why}: stopping ffmpeg and removing the temporary files`);
    await Promise.race([cleanup(), new Promise((r) => setTimeout(r, 20_000))]);
    process.exit(code);
  };
  process.once('SIGINT', () => void stop('SIGINT', 130));
  process.once('SIGTERM', () => void stop('SIGTERM', 143));
  main(opts).then(
    async () => {
      await cleanup();
      process.exit(0);
    },
    (err: Error) => void stop(`failed: ${err.stack ?? err.message}`, 1),
  );
}

entry();
