/**
 * The analysis half of the recording-drift benchmark: where each sync event's flash and beep
 * ended up in the finalized MP4 (ffprobe for the container's timestamps; ffmpeg decoding streamed,
 * so ten minutes of 720p never sit in memory), and what that says about offset and drift.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { runProcess } from '../../workers/kernel/process-control';
import { AUDIO_SAMPLE_RATE } from '../../workers/media/recorder/recording-segmenter';
import type { OutputProfile } from '../../workers/protocol/media';
import type { CaptureResult } from './capture';
import {
  BEEP_THRESHOLD,
  EVENT_EVERY_SEC,
  FLASH_LUMA,
  mean,
  PROBE_H,
  PROBE_W,
  round,
  TARGET_OFFSET_MS,
  v,
  type EventResult,
  type Options,
} from './events';

/** ffmpeg decoders still running: killed if the run is interrupted. */
const children = new Set<ChildProcess>();

export function killDecoders(): void {
  for (const child of children) child.kill('SIGKILL');
}

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

export interface StreamInfo {
  codec_type: string;
  start_time?: string;
  duration?: string;
  nb_frames?: string;
}

export async function probe(file: string): Promise<{ durationSec: number; streams: StreamInfo[] }> {
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
export async function videoPts(file: string): Promise<number[]> {
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
export async function findBeeps(
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
export async function findFlashes(
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
export function eventIndexOf(sec: number, startSec: number): number | null {
  const k = Math.round((sec - startSec) / EVENT_EVERY_SEC);
  return Math.abs(sec - startSec - k * EVENT_EVERY_SEC) <= 2 && k >= 1 ? k : null;
}

/** Where every event's flash and beep are in the file, and what else the file says. */
export interface Measurement {
  events: EventResult[];
  eventsExpected: number;
  /** Detections that match no event (or a second one for an event). */
  extra: string[];
  durationSec: number;
  videoStream: StreamInfo;
  audioStream: StreamInfo;
  videoStart: number;
  audioStart: number;
  /** Video packets in the file. */
  videoFrames: number;
  videoFramesDecoded: number;
  audioSamplesDecoded: number;
  /** Largest distance of a frame's pts from start + f/fps, s. */
  cfrDeviation: number;
}

export async function measure(
  mp4: string,
  opts: Options,
  profile: OutputProfile,
  cap: CaptureResult,
  progress: (line: string) => void,
): Promise<Measurement> {
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
  return {
    events,
    eventsExpected,
    extra,
    durationSec: info.durationSec,
    videoStream: vStream,
    audioStream: aStream,
    videoStart,
    audioStart,
    videoFrames: pts.length,
    videoFramesDecoded: flashes.frames,
    audioSamplesDecoded: beeps.samples,
    cfrDeviation,
  };
}

/** The numbers of the summary, the verdicts and the notes that explain a miss. */
export interface Judgement {
  paired: EventResult[];
  offsets: number[];
  firstMin: number | null;
  lastMin: number | null;
  drift: number | null;
  maxAbs: number | null;
  fileVsSlotMax: number | null;
  offsetPass: boolean;
  driftPass: boolean;
  notes: string[];
}

export function judge(m: Measurement, cap: CaptureResult, opts: Options, profile: OutputProfile): Judgement {
  const { events, eventsExpected, extra } = m;
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
  return { paired, offsets, firstMin, lastMin, drift, maxAbs, fileVsSlotMax, offsetPass, driftPass, notes };
}
