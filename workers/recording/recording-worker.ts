import { Worker, type Job } from 'bullmq';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { Logger } from '../kernel/logger';
import {
  FINAL_RECORDING_STATES,
  FINALIZE_QUEUE,
  type FinalizeJobData,
  type FinalizeResult,
} from '../protocol/recording';
import { RecordingNotFoundError } from '../kernel/recordings/errors';
import { ManifestStore } from '../kernel/recordings/manifest-store';
import type { RecordingWorkerConfig } from './config';
import { finalizeRecording, markFailed } from './finalize';

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
/** How long an idle worker waits for Redis to acknowledge its close. */
const IDLE_CLOSE_MS = 2000;

/**
 * The recording worker process minus its process plumbing (main.ts): a BullMQ worker running
 * finalizeRecording, plus the optional retention sweep. Several of these may run against one
 * Redis, on one machine or several; BullMQ hands each job to exactly one of them.
 */
export async function startRecordingWorker(
  config: RecordingWorkerConfig,
  logger: Logger,
  options: RecordingWorkerOptions = {},
): Promise<RecordingWorkerHandle> {
  const store = new ManifestStore(config.recordingsDir, logger);
  const paths = { ffmpegPath: options.ffmpegPath, ffprobePath: options.ffprobePath };

  // Jobs this process is running right now: close() waits for them, and only for them.
  let running = 0;
  const worker = new Worker<FinalizeJobData, FinalizeResult>(
    options.queueName ?? FINALIZE_QUEUE,
    async (job) => {
      running++;
      try {
        return await finalizeRecording(job, { store, logger, ...paths });
      } finally {
        running--;
      }
    },
    {
      connection: { url: config.redisUrl },
      prefix: options.prefix,
      concurrency: config.concurrency,
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
    concurrency: config.concurrency,
    recordingsDir: config.recordingsDir,
  });

  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> = Promise.resolve();
  let lockClient: Redis | null = null;
  const retentionDays = config.retentionDays;
  if (retentionDays > 0) {
    const intervalMs = options.retentionSweepIntervalMs ?? HOUR_MS;
    lockClient = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
    lockClient.on('error', () => undefined);
    // Same namespace as the queue: the workers that share its jobs share the sweep.
    const lock = new SweepLock(
      lockClient,
      `${options.prefix ?? 'bull'}:${worker.name}:retention-sweep`,
      intervalMs,
    );
    const sweep = () => {
      sweeping = (async () => {
        if (!(await lock.take())) {
          logger.debug('retention sweep skipped: another worker swept in this interval');
          return;
        }
        logger.info('retention sweep started', { retentionDays });
        await sweepRetention(store, retentionDays, logger);
      })().catch((err) => logger.error('retention sweep failed', { err }));
    };
    sweep();
    sweepTimer = setInterval(sweep, intervalMs);
    sweepTimer.unref();
  }

  return {
    async close() {
      clearInterval(sweepTimer);
      await sweeping;
      lockClient?.disconnect();
      if (running > 0) {
        await worker.close();
      } else {
        // No job in hand, but a fetch in flight may just have moved one to active (a finalize
        // queued as the server shuts down). A graceful close hands it to us and lets it finish;
        // a forced one left it locked, and the next start's worker took it up only after the
        // lock expired and its stalled check ran: 60 s later (measured). During a Redis outage a
        // graceful close never returns and no job can arrive: give up after IDLE_CLOSE_MS unless
        // one did arrive meanwhile.
        const closing = worker.close().then(
          () => true,
          () => true,
        );
        let closed = await Promise.race([
          closing,
          new Promise<false>((r) => setTimeout(() => r(false), IDLE_CLOSE_MS).unref()),
        ]);
        if (!closed && running > 0) closed = await closing;
        if (!closed) logger.warn('Redis did not answer while closing; leaving without it');
      }
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
 * At most one retention sweep per interval in the whole cluster: several recording workers
 * (on several machines) run the same timer, and the first to take the key sweeps. The key is
 * never released, it expires with the interval, so a worker that dies mid-sweep blocks nobody
 * for longer than that. A sweep that ran twice would be harmless (sweepRetention skips what is
 * gone) but would double the disk scans of a large shared volume.
 */
export class SweepLock {
  private readonly owner = randomUUID();

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  async take(): Promise<boolean> {
    return (await this.redis.set(this.key, this.owner, 'PX', this.ttlMs, 'NX')) === 'OK';
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
