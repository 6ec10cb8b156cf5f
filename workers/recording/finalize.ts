import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UnrecoverableError } from 'bullmq';
import type { Logger } from '../kernel/logger';
import {
  RECORDING_FILES,
  SEGMENT_FILE_PATTERN,
  type FinalizeJobData,
  type FinalizeResult,
  type RecordingFile,
  type RecordingManifest,
} from '../protocol/recording';
import { FfmpegError } from '../kernel/process-control';
import { RecordingNotFoundError } from '../kernel/recordings/errors';
import { newCommand, probe, runFfmpeg, type FfmpegPaths } from './ffmpeg-runner';
import type { ManifestStore } from '../kernel/recordings/manifest-store';

export interface FinalizeJob {
  data: FinalizeJobData;
  updateProgress(progress: number): Promise<void>;
}

export interface FinalizeDeps extends FfmpegPaths {
  store: ManifestStore;
  logger: Logger;
  /** Minimum interval between progress writes into the manifest (job progress is not throttled). */
  manifestProgressIntervalMs?: number;
}

interface Segment {
  name: string;
  durationSec: number;
  /** First timestamp in the segment (the capture's timeline, continuous across its segments). */
  startSec: number;
  sizeBytes: number;
}

/**
 * ffmpeg recognises MPEG-TS only from more than ten packets (its probe counts 204-byte strides),
 * so a last segment cut a few frames after a segment boundary (measured: 1316 bytes, 2 frames)
 * reads as "invalid data". Such a segment is given to the concat demuxer as a copy padded with
 * null packets (PID 0x1FFF, which every demuxer discards) up to this many bytes.
 */
const TS_PACKET = 188;
const MIN_DETECTABLE_TS_BYTES = 16 * TS_PACKET;

const CONCAT_LIST = 'segments.ffconcat';
const THUMBNAIL_WIDTH = 320;

/**
 * Turns RECORDINGS_DIR/<id>/segments/*.ts into recording.mp4 (+ thumbnail, + optional webm) and
 * moves the manifest to its final state. Idempotent: every output is written to a ".part" file and
 * renamed, and the segments are never modified or deleted, so it can be re-run at any time.
 *
 * Errors: input that cannot ever work (bad id, missing manifest, no usable segment, an unreadable
 * segment in the middle of a complete recording) marks the manifest 'failed' and throws BullMQ's
 * UnrecoverableError so the job is not retried. Anything else (ffmpeg killed, disk full, timeout)
 * throws a normal error and BullMQ retries with backoff.
 */
export async function finalizeRecording(job: FinalizeJob, deps: FinalizeDeps): Promise<FinalizeResult> {
  const { store } = deps;
  const id = job.data.recordingId;
  if (!store.isValidId(id)) throw new UnrecoverableError(`invalid recording id ${JSON.stringify(id)}`);
  const log = deps.logger.child({ recordingId: id });
  const started = Date.now();

  let manifest: RecordingManifest;
  try {
    manifest = await store.update(id, (m) => {
      m.state = 'finalizing';
      m.progress = 0;
      delete m.failureReason;
    });
  } catch (err) {
    if (err instanceof RecordingNotFoundError) throw new UnrecoverableError(err.message);
    throw err;
  }
  const logger = log.child({ roomId: manifest.roomId });
  const webm = job.data.webm ?? manifest.webmRequested;
  logger.info('finalize started', { interrupted: manifest.interrupted, webm });

  const progress = new ProgressReporter(job, store, id, deps.manifestProgressIntervalMs ?? 1000);
  try {
    await progress.report(0);
    const { usable, skipped } = await selectSegments(store, manifest, deps, logger);
    const totalSec = usable.reduce((sum, s) => sum + s.durationSec, 0);
    // Progress budget: the remux is most of the work unless a webm encode follows it.
    const remuxShare = webm ? 30 : 90;

    const mp4 = store.pathOf(id, RECORDING_FILES.mp4);
    await concatToMp4(store, id, usable, mp4, totalSec, deps, (f) => progress.report(f * remuxShare));
    const result = await probe(mp4, deps);
    if (!result.video || !(result.durationSec > 0)) {
      throw new FfmpegError(`remuxed ${RECORDING_FILES.mp4} has no video or no duration`);
    }
    await makeThumbnail(store, id, mp4, result.durationSec, deps);
    await progress.report(remuxShare + 2);

    const webmPath = store.pathOf(id, RECORDING_FILES.webm);
    if (webm) {
      await transcodeWebm(webmPath, mp4, manifest, result.durationSec, deps, (f) =>
        progress.report(remuxShare + 2 + f * (98 - remuxShare - 2)),
      );
    } else {
      // A webm left by an earlier finalize may not match these segments any more.
      await fs.rm(webmPath, { force: true });
    }

    await progress.close();
    const files: RecordingFile[] = [await describe(store, id, RECORDING_FILES.mp4, 'mp4')];
    files.push(await describe(store, id, RECORDING_FILES.thumbnail, 'thumbnail'));
    if (webm) files.push(await describe(store, id, RECORDING_FILES.webm, 'webm'));

    const final = await store.update(id, (m) => {
      m.state = m.interrupted ? 'interrupted' : 'ready';
      m.finalizedAt = new Date().toISOString();
      // A crashed capture never recorded its end: the media tells how long it ran.
      m.endedAt ??= new Date(Date.parse(m.startedAt) + result.durationSec * 1000).toISOString();
      m.progress = 100;
      m.media = {
        durationSec: result.durationSec,
        width: result.video?.width ?? m.profile.width,
        height: result.video?.height ?? m.profile.height,
        videoCodec: result.video?.codec_name ?? 'unknown',
        audioCodec: result.audio?.codec_name ?? 'none',
        sizeBytes: files[0].sizeBytes,
      };
      m.files = files;
      delete m.failureReason;
    });
    await job.updateProgress(100);
    const state = final.state === 'interrupted' ? 'interrupted' : 'ready';
    logger.info('finalize done', {
      state,
      durationSec: result.durationSec,
      segmentsUsed: usable.length,
      segmentsSkipped: skipped,
      elapsedMs: Date.now() - started,
    });
    return {
      recordingId: id,
      state,
      durationSec: result.durationSec,
      segmentsUsed: usable.length,
      segmentsSkipped: skipped,
    };
  } catch (err) {
    await progress.close();
    if (err instanceof UnrecoverableError) {
      await markFailed(store, id, err.message, logger);
    } else {
      logger.warn('finalize attempt failed; it will be retried', { err });
    }
    throw err;
  } finally {
    await fs.rm(store.pathOf(id, CONCAT_LIST), { force: true });
    await removePaddedCopies(store, id);
  }
}

/** Marks a recording failed (used here and by the worker once retries are exhausted). */
export async function markFailed(
  store: ManifestStore,
  id: string,
  reason: string,
  logger: Logger,
): Promise<void> {
  try {
    await store.update(id, (m) => {
      m.state = 'failed';
      m.failureReason = reason;
      delete m.progress;
    });
    logger.error('recording failed', { recordingId: id, reason });
  } catch (err) {
    logger.error('could not mark recording failed', { recordingId: id, reason, err });
  }
}

async function selectSegments(
  store: ManifestStore,
  manifest: RecordingManifest,
  paths: FfmpegPaths,
  logger: Logger,
): Promise<{ usable: Segment[]; skipped: number }> {
  const dir = store.pathOf(manifest.id, RECORDING_FILES.segmentsDir);
  const names = (await fs.readdir(dir).catch(() => [] as string[]))
    .filter((n) => SEGMENT_FILE_PATTERN.test(n))
    .sort((a, b) => segmentIndex(a) - segmentIndex(b));
  const usable: Segment[] = [];
  let skipped = 0;
  for (const [i, name] of names.entries()) {
    const problem = await segmentProblem(path.join(dir, name), paths);
    if (typeof problem !== 'string') {
      usable.push({ name, ...problem });
      continue;
    }
    const isLast = i === names.length - 1;
    if (!(manifest.interrupted || isLast)) {
      throw new UnrecoverableError(
        `segment ${name} is ${problem} in a recording that was not interrupted; ` +
          'set interrupted=true in the manifest and re-finalize to keep the other segments',
      );
    }
    skipped++;
    logger.warn('skipping unusable segment', { segment: name, problem, isLast });
  }
  if (usable.length === 0) {
    const why =
      names.length === 0 ? 'no segments were recorded' : `none of ${names.length} segment(s) is readable`;
    throw new UnrecoverableError(`no usable segment: ${why}`);
  }
  return { usable, skipped };
}

/** A problem description, or the segment's timing if it is usable. */
async function segmentProblem(file: string, paths: FfmpegPaths): Promise<string | Omit<Segment, 'name'>> {
  const stat = await fs.stat(file);
  if (stat.size === 0) return 'empty';
  try {
    const p = await probe(file, paths, { format: 'mpegts' });
    if (!p.video && !p.audio) return 'without audio or video';
    if (!(p.durationSec > 0)) return 'without a duration';
    return { durationSec: p.durationSec, startSec: p.startSec, sizeBytes: stat.size };
  } catch (err) {
    if (err instanceof FfmpegError && err.signal) throw err; // ffprobe killed: transient, retry
    return `unreadable (${(err as Error).message})`;
  }
}

function segmentIndex(name: string): number {
  return Number(SEGMENT_FILE_PATTERN.exec(name)?.[1] ?? -1);
}

async function concatToMp4(
  store: ManifestStore,
  id: string,
  segments: Segment[],
  mp4: string,
  totalSec: number,
  paths: FfmpegPaths,
  onFraction: (f: number) => Promise<void>,
): Promise<void> {
  // Paths relative to the list file are "safe" for the concat demuxer; no -safe 0 needed.
  const list = ['ffconcat version 1.0'];
  for (const [i, s] of segments.entries()) {
    let file = `${RECORDING_FILES.segmentsDir}/${s.name}`;
    if (s.sizeBytes < MIN_DETECTABLE_TS_BYTES) file = await writePaddedCopy(store, id, s);
    list.push(`file '${file}'`);
    // The concat demuxer places each file after the previous one's duration as it estimates it:
    // the end of its longest stream. A TS segment's audio runs up to an AAC frame past its video,
    // so every boundary where it did inserted that overshoot as a gap in both streams; a player
    // (and any decoder) plays the audio gaplessly, so the sound crept ahead of the picture
    // (measured: 10.7-16 ms at one boundary in three, -18 to -46 ms/min). Segments of one
    // capture share one timeline: the next one's start time is this one's exact duration.
    // Not after a skipped segment (the gap is then collapsed, in both streams alike).
    const next = segments[i + 1];
    const exact = next ? next.startSec - s.startSec : NaN;
    if (exact > 0 && exact <= s.durationSec + 0.5) list.push(`duration ${exact.toFixed(6)}`);
  }
  await fs.writeFile(store.pathOf(id, CONCAT_LIST), list.join('\n') + '\n');
  const part = `${mp4}.part`;
  const command = newCommand(paths, store.pathOf(id, CONCAT_LIST))
    .inputOptions(['-f concat'])
    .outputOptions([
      '-map 0:v?',
      '-map 0:a?',
      '-c copy',
      '-bsf:a aac_adtstoasc',
      '-movflags +faststart',
      '-f mp4',
    ])
    .output(part);
  await runFfmpeg(command, {
    timeoutMs: Math.max(120_000, totalSec * 1000),
    onTime: (t) => void onFraction(totalSec > 0 ? Math.min(1, t / totalSec) : 0),
  });
  await fs.rename(part, mp4);
}

const PADDED_PREFIX = 'padded-';

/** A copy of a too-short segment with null TS packets appended; its path relative to the list. */
async function writePaddedCopy(store: ManifestStore, id: string, s: Segment): Promise<string> {
  const bytes = await fs.readFile(store.pathOf(id, path.join(RECORDING_FILES.segmentsDir, s.name)));
  const packets = Math.ceil((MIN_DETECTABLE_TS_BYTES - bytes.length) / TS_PACKET);
  const pad = Buffer.alloc(packets * TS_PACKET, 0xff);
  for (let p = 0; p < packets; p++) {
    const o = p * TS_PACKET;
    pad[o] = 0x47; // sync byte
    pad[o + 1] = 0x1f; // PID 0x1FFF (null packet), no flags
    pad[o + 2] = 0xff;
    pad[o + 3] = 0x10; // payload only, continuity counter 0
  }
  const name = `${PADDED_PREFIX}${s.name}`;
  await fs.writeFile(store.pathOf(id, name), Buffer.concat([bytes, pad]));
  return name;
}

async function removePaddedCopies(store: ManifestStore, id: string): Promise<void> {
  const names = await fs.readdir(store.dirOf(id)).catch(() => [] as string[]);
  for (const n of names) {
    if (n.startsWith(PADDED_PREFIX) && SEGMENT_FILE_PATTERN.test(n.slice(PADDED_PREFIX.length)))
      await fs.rm(store.pathOf(id, n), { force: true });
  }
}

async function makeThumbnail(
  store: ManifestStore,
  id: string,
  mp4: string,
  durationSec: number,
  paths: FfmpegPaths,
) {
  const at = durationSec >= 2 ? 1 : durationSec / 2;
  const target = store.pathOf(id, RECORDING_FILES.thumbnail);
  const command = newCommand(paths, mp4)
    .inputOptions([`-ss ${at.toFixed(3)}`])
    .outputOptions(['-frames:v 1', `-vf scale=${THUMBNAIL_WIDTH}:-2`, '-q:v 4', '-f mjpeg'])
    .output(`${target}.part`);
  await runFfmpeg(command, { timeoutMs: 60_000 });
  await fs.rename(`${target}.part`, target);
}

async function transcodeWebm(
  target: string,
  mp4: string,
  manifest: RecordingManifest,
  durationSec: number,
  paths: FfmpegPaths,
  onFraction: (f: number) => Promise<void>,
): Promise<void> {
  const { width, height, fps } = manifest.profile;
  // About 0.08 bit per pixel per frame: 720p30 → ~2.2 Mbit/s, enough for VP8 in realtime mode.
  const kbps = Math.max(300, Math.round((width * height * fps * 0.08) / 1000));
  const command = newCommand(paths, mp4)
    .outputOptions([
      '-c:v libvpx',
      '-deadline realtime',
      '-cpu-used 8',
      `-b:v ${kbps}k`,
      '-c:a libopus',
      '-b:a 64k',
      '-f webm',
    ])
    .output(`${target}.part`);
  await runFfmpeg(command, {
    timeoutMs: Math.max(120_000, durationSec * 4000),
    onTime: (t) => void onFraction(Math.min(1, t / durationSec)),
  });
  await fs.rename(`${target}.part`, target);
}

async function describe(
  store: ManifestStore,
  id: string,
  name: string,
  kind: RecordingFile['kind'],
): Promise<RecordingFile> {
  const file = store.pathOf(id, name);
  const stat = await fs.stat(file);
  return { name, kind, sizeBytes: stat.size, sha256: await store.sha256(file) };
}

/** Reports every whole percent to the job, and to the manifest at most once per interval. */
class ProgressReporter {
  private lastJob = -1;
  private lastManifestAt = 0;
  private pending: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly job: FinalizeJob,
    private readonly store: ManifestStore,
    private readonly id: string,
    private readonly intervalMs: number,
  ) {}

  /** Progress callbacks of ffmpeg are fire-and-forget; reports are chained so they stay ordered. */
  report(percent: number): Promise<void> {
    const p = Math.max(0, Math.min(100, Math.floor(percent)));
    if (this.closed || p <= this.lastJob) return this.pending.then(() => undefined);
    this.lastJob = p;
    const writeManifest = Date.now() - this.lastManifestAt >= this.intervalMs;
    if (writeManifest) this.lastManifestAt = Date.now();
    this.pending = this.pending.then(async () => {
      // Progress is informative: a failed report must never fail the finalize.
      await this.job.updateProgress(p).catch(() => undefined);
      if (!writeManifest || this.closed) return;
      await this.store
        .update(this.id, (m) => {
          if (m.state === 'finalizing') m.progress = p;
        })
        .catch(() => undefined);
    });
    return this.pending.then(() => undefined);
  }

  /** No more reports; resolves when the queued ones are written (before the final manifest update). */
  close(): Promise<void> {
    this.closed = true;
    return this.pending.then(() => undefined);
  }
}
