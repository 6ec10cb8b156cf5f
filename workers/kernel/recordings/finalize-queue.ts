import type { Job, Queue } from 'bullmq';
import { FINALIZE_QUEUE, type FinalizeJobData, type FinalizeResult } from '../../protocol/recording';

/**
 * The finalize queue's contract, shared by who enqueues (the control plane) and who works it
 * (the recording worker): the queue's name, the job options and the one-job-per-recording rule.
 */
export { FINALIZE_QUEUE };

/**
 * Options of every finalize job. Transient failures (ffmpeg killed, disk full) are retried with
 * exponential backoff (2 s, 4 s, 8 s, 16 s); corrupt input throws UnrecoverableError and fails at
 * once. Finished jobs are kept (up to 1000 of each) so their outcome can be inspected.
 */
export const FINALIZE_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: 1000,
  removeOnFail: 1000,
} as const;

export type FinalizeQueue = Queue<FinalizeJobData, FinalizeResult>;

/**
 * Enqueues a finalize job whose jobId is the recording id, so one recording is never finalized by
 * two workers at once: BullMQ ignores an add whose jobId already exists (waiting, active, delayed,
 * or kept after completion/failure).
 *
 * Re-finalizing (e.g. after setting interrupted=true by hand, or to add a webm) therefore needs
 * the old job gone: if it is still active we return it unchanged; if it is finished (kept by
 * removeOnComplete/removeOnFail) it is removed first and a new job is added under the same id.
 */
export async function enqueueFinalize(
  queue: FinalizeQueue,
  data: FinalizeJobData,
): Promise<Job<FinalizeJobData, FinalizeResult>> {
  const jobId = data.recordingId;
  const existing = await queue.getJob(jobId);
  if (existing) {
    const state = await existing.getState();
    if (state === 'completed' || state === 'failed') {
      await existing.remove();
    } else {
      return existing; // waiting, delayed or active: that job will do the work
    }
  }
  return queue.add('finalize', data, {
    ...FINALIZE_JOB_OPTIONS,
    backoff: { ...FINALIZE_JOB_OPTIONS.backoff },
    jobId,
  });
}
