import { Worker, type Job } from 'bullmq';
import type { AppConfig } from '../../src/config/config';
import type { Logger } from '../../src/common/logger';
import {
  FINAL_RECORDING_STATES,
  FINALIZE_QUEUE,
  type FinalizeJobData,
  type FinalizeResult,
} from '../protocol/recording';
import { RecordingNotFoundError } from './errors';
import { finalizeRecording, markFailed } from './finalize';
import { ManifestStore } from './manifest-store';

export class RedisUrlMissingError extends Error {
  override readonly name = 'RedisUrlMissingError';
  constructor() {
    super(
      'REDIS_URL is required for a standalone recording worker; the server passes it when it starts the worker',
    );
  }
}

export interface RecordingWorkerOptions {
  /** Tests use a random queue name and key prefix; production uses the defaults. */
  queueName?: string;
  prefix?: string;
  ffmpegPath?: string;
  ffprobePath?: string;
  retentionSweepIntervalMs?: number;
}

export interface RecordingWorkerHandle {
  /** Stops taking jobs, lets the running ones finish, then disconnects. */
  close(): Promise<void>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * The recording worker process minus its process plumbing (main.ts): a BullMQ worker running
 * finalizeRecording, plus the optional retention sweep. Several of these may run against one
 * Redis, on one machine or several; BullMQ hands each job to exactly one of them.
 */
export async function startRecordingWorker(
  config: AppConfig,
  logger: Logger,
  options: RecordingWorkerOptions = {},
): Promise<RecordingWorkerHandle> {
  if (!config.redisUrl) throw new RedisUrlMissingError();
  const store = new ManifestStore(config.recordingsDir, logger);
  const paths = { ffmpegPath: options.ffmpegPath, ffprobePath: options.ffprobePath };

  const worker = new Worker<FinalizeJobData, FinalizeResult>(
    options.queueName ?? FINALIZE_QUEUE,
    (job) => finalizeRecording(job, { store, logger, ...paths }),
    {
      connection: { url: config.redisUrl },
      prefix: options.prefix,
      concurrency: config.recording.concurrency,
    },
  );
  worker.on('active', (job) =>
    logger.info('finalize job active', {
      recordingId: job.data.recordingId,
      jobId: job.id,
      attempt: job.attemptsMade + 1,
    }),
  );
  worker.on('progress', (job, progress) =>
    logger.debug('finalize job progress', { recordingId: job.data.recordingId, jobId: job.id, progress }),
  );
  worker.on('completed', (job, result) =>
    logger.info('finalize job completed', {
      recordingId: job.data.recordingId,
      jobId: job.id,
      state: result.state,
      durationSec: result.durationSec,
      segmentsUsed: result.segmentsUsed,
      segmentsSkipped: result.segmentsSkipped,
    }),
  );
  worker.on('failed', (job, err) => void onFailed(job, err, store, logger));
  worker.on('error', (err) => logger.error('recording worker error', { err }));
  await worker.waitUntilReady();
  logger.info('recording worker started', {
    queue: worker.name,
    concurrency: config.recording.concurrency,
    recordingsDir: config.recordingsDir,
  });

  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> = Promise.resolve();
  const retentionDays = config.recording.retentionDays;
  if (retentionDays > 0) {
    const sweep = () => {
      sweeping = sweepRetention(store, retentionDays, logger).catch((err) =>
        logger.error('retention sweep failed', { err }),
      );
    };
    sweep();
    sweepTimer = setInterval(sweep, options.retentionSweepIntervalMs ?? HOUR_MS);
    sweepTimer.unref();
  }

  return {
    async close() {
      clearInterval(sweepTimer);
      await worker.close();
      await sweeping;
      logger.info('recording worker stopped');
    },
  };
}

async function onFailed(
  job: Job<FinalizeJobData, FinalizeResult> | undefined,
  err: Error,
  store: ManifestStore,
  logger: Logger,
): Promise<void> {
  if (!job) return;
  const recordingId = job.data.recordingId;
  const unrecoverable = err.name === 'UnrecoverableError';
  const attempts = job.opts.attempts ?? 1;
  const final = unrecoverable || job.attemptsMade >= attempts;
  logger.warn('finalize job failed', {
    recordingId,
    jobId: job.id,
    attemptsMade: job.attemptsMade,
    final,
    reason: err.message,
  });
  // finalizeRecording marks unrecoverable failures itself; after the last retry nobody else will.
  if (final && !unrecoverable && store.isValidId(recordingId)) {
    await markFailed(
      store,
      recordingId,
      `finalize failed after ${job.attemptsMade} attempts: ${err.message}`,
      logger,
    );
  }
}

/**
 * Deletes recordings in a final state whose last change (finalizedAt, else endedAt, else
 * createdAt) is older than `retentionDays`. Segments go with them. Safe to run from several
 * workers at once: a recording another worker already removed is skipped.
 */
export async function sweepRetention(
  store: ManifestStore,
  retentionDays: number,
  logger: Logger,
  now = Date.now(),
): Promise<string[]> {
  const cutoff = now - retentionDays * DAY_MS;
  const removed: string[] = [];
  for (const m of await store.list()) {
    if (!FINAL_RECORDING_STATES.includes(m.state)) continue;
    const at = Date.parse(m.finalizedAt ?? m.endedAt ?? m.createdAt);
    if (!(at < cutoff)) continue;
    try {
      await store.remove(m.id);
      removed.push(m.id);
      logger.info('recording deleted by retention', {
        recordingId: m.id,
        roomId: m.roomId,
        state: m.state,
        retentionDays,
      });
    } catch (err) {
      if (!(err instanceof RecordingNotFoundError)) throw err;
    }
  }
  return removed;
}
