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
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger, setLogLevel, setLogSink } from '../workers/kernel/logger';
import { ManifestStore } from '../workers/kernel/recordings/manifest-store';
import { RecordingSegmenter } from '../workers/media/recorder/recording-segmenter';
import { isOneOf, OUTPUT_PROFILES, PROFILES } from '../workers/protocol/media';
import { RECORDING_FILES, type RecordingManifest } from '../workers/protocol/recording';
import { finalizeRecording } from '../workers/recording/finalize';
import { judge, killDecoders, measure } from './recording-drift/analysis';
import { capture } from './recording-drift/capture';
import { clock, loadavg, round, SEGMENT_SECONDS, v, type Options } from './recording-drift/events';
import { buildReport, markdown } from './recording-drift/report';

const RESULTS_DIR = path.resolve(__dirname, '../../bench/results');

const startedAt = performance.now();
let phase = 'start';
let cleanup: () => Promise<void> = async () => undefined;

function progress(line: string): void {
  process.stderr.write(
    `[recording-drift ${clock((performance.now() - startedAt) / 1000)} ${phase}] ${line}\n`,
  );
}

function parseCli(argv: string[]): Options {
  const opts: Options = { minutes: 10, profile: 'high', keep: false };
  for (const arg of argv) {
    const [key, value] = arg.split('=', 2);
    if (key === '--minutes' && Number(value) > 0) opts.minutes = Number(value);
    else if (key === '--profile' && value !== undefined && isOneOf(PROFILES, value)) opts.profile = value;
    else if (key === '--keep' && value === undefined) opts.keep = true;
    else
      throw new Error(`unknown or invalid option ${arg} (--minutes=N, --profile=high|standard|low, --keep)`);
  }
  return opts;
}

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
    killDecoders();
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
  const cap = await capture(seg, opts, progress);
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
  const measured = await measure(mp4, opts, profile, cap, progress);
  const verdict = judge(measured, cap, opts, profile);
  const report = await buildReport({
    opts,
    profile,
    cap,
    measured,
    verdict,
    loadAtStart,
    finalizeSec,
    mp4Bytes,
  });
  const isDefault = opts.minutes === 10 && opts.profile === 'high';
  const stem = isDefault ? 'recording-drift' : 'recording-drift-partial';
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.json`), JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.md`), markdown(report));

  phase = 'done';
  progress(
    `offset first minute ${v(report.summary.firstMinuteMeanOffsetMs)} ms, last minute ` +
      `${v(report.summary.lastMinuteMeanOffsetMs)} ms, drift ${v(report.summary.driftMs)} ms (${report.verdict.drift}), ` +
      `max |offset| ${v(verdict.maxAbs)} ms (${report.verdict.offset}); file ${report.durations.fileSec} s vs wall ${report.durations.wallClockSec} s`,
  );
  for (const n of verdict.notes) progress(`note: ${n}`);
  progress(`results: bench/results/${stem}.json and .md`);
  if (opts.keep) {
    kept = mp4;
    progress(`kept ${mp4}`);
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
