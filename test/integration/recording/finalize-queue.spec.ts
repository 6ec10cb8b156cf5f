import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import type { FinalizeJobData, FinalizeResult } from '../../../workers/protocol/recording';
import { finalizeRecording } from '../../../workers/recording/finalize';
import { ManifestStore } from '../../../workers/kernel/recordings/manifest-store';
import { enqueueFinalize, FINALIZE_JOB_OPTIONS } from '../../../workers/kernel/recordings/finalize-queue';
import { loadRecordingWorkerConfig } from '../../../workers/recording/config';
import {
  startRecordingWorker,
  type RecordingWorkerHandle,
} from '../../../workers/recording/recording-worker';
import {
  captureLogs,
  manifestFor,
  newRecordingId,
  tempRecordingsDir,
  writeTestSegments,
} from './media-fixtures';

const logger = captureLogs();
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const profile = { width: 320, height: 180, fps: 15 };

describe('finalize through a real BullMQ queue and recording worker', () => {
  let root: string;
  let store: ManifestStore;
  let queueName: string;
  let prefix: string;
  let queue: Queue<FinalizeJobData, FinalizeResult>;
  let events: QueueEvents;
  let worker: RecordingWorkerHandle;

  beforeEach(async () => {
    root = await tempRecordingsDir();
    store = new ManifestStore(root, logger);
    const suffix = randomBytes(4).toString('hex');
    queueName = `recording-finalize-test-${suffix}`;
    prefix = `test-${suffix}`;
    const connection = { url: redisUrl };
    queue = new Queue<FinalizeJobData, FinalizeResult>(queueName, { connection, prefix });
    events = new QueueEvents(queueName, { connection, prefix });
    await events.waitUntilReady();
    const config = loadRecordingWorkerConfig({
      REDIS_URL: redisUrl,
      RECORDINGS_DIR: root,
      RECORDING_CONCURRENCY: '2',
    });
    worker = await startRecordingWorker(config, logger, { queueName, prefix });
  });

  afterEach(async () => {
    await worker.close();
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('fails a recording whose only segment is garbage exactly once, despite attempts: 5', async () => {
    const id = newRecordingId();
    await store.create(manifestFor(id, profile));
    await fs.mkdir(store.pathOf(id, 'segments'));
    await fs.writeFile(store.pathOf(id, 'segments/seg-00000.ts'), randomBytes(64 * 1024));

    const job = await enqueueFinalize(queue, { recordingId: id });
    expect(job.id).toBe(id);
    expect(job.opts.attempts).toBe(FINALIZE_JOB_OPTIONS.attempts);
    await expect(job.waitUntilFinished(events)).rejects.toThrow(/no usable segment/);

    const failed = (await queue.getJob(id))!;
    expect(await failed.getState()).toBe('failed');
    expect(failed.attemptsMade).toBe(1);
    const manifest = await store.read(id);
    expect(manifest.state).toBe('failed');
    expect(manifest.failureReason).toMatch(/no usable segment: none of 1 segment\(s\) is readable/);
  });

  it('finalizes a good recording, reports progress, and can be re-finalized under the same job id', async () => {
    const id = newRecordingId();
    await store.create(manifestFor(id, profile));
    await writeTestSegments(store.dirOf(id), 4);
    const progress: number[] = [];
    events.on('progress', ({ jobId, data }) => {
      if (jobId === id) progress.push(Number(data));
    });

    const job = await enqueueFinalize(queue, { recordingId: id });
    const result = await job.waitUntilFinished(events);
    expect(result).toMatchObject({ recordingId: id, state: 'ready', segmentsUsed: 4, segmentsSkipped: 0 });
    expect((await store.read(id)).state).toBe('ready');
    // Events arrive asynchronously; wait until the last one is in.
    for (let i = 0; i < 50 && progress[progress.length - 1] !== 100; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(progress[0]).toBe(0);
    expect(progress[progress.length - 1]).toBe(100);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);

    // The completed job is kept (removeOnComplete: 1000); enqueueFinalize replaces it.
    const again = await enqueueFinalize(queue, { recordingId: id, webm: true });
    await again.waitUntilFinished(events);
    expect((await store.read(id)).files.map((f) => f.kind).sort()).toEqual(['mp4', 'thumbnail', 'webm']);
  });

  it('does not enqueue a second job while one for the recording is waiting', async () => {
    const id = newRecordingId();
    await queue.pause();
    const a = await enqueueFinalize(queue, { recordingId: id });
    const b = await enqueueFinalize(queue, { recordingId: id });
    expect(b.id).toBe(a.id);
    expect(await queue.count()).toBe(1);
  });
});

describe('finalizeRecording edge cases', () => {
  it('skips a truncated last segment and throws UnrecoverableError for a missing manifest', async () => {
    const root = await tempRecordingsDir();
    const store = new ManifestStore(root, logger);
    try {
      const id = newRecordingId();
      await store.create(manifestFor(id, profile));
      await writeTestSegments(store.dirOf(id), 3);
      // A crash leaves the last segment cut mid-packet: here, empty.
      await fs.writeFile(store.pathOf(id, 'segments/seg-00003.ts'), '');
      const result = await finalizeRecording(
        { data: { recordingId: id }, updateProgress: async () => undefined },
        { store, logger },
      );
      expect(result).toMatchObject({ state: 'ready', segmentsUsed: 3, segmentsSkipped: 1 });

      await expect(
        finalizeRecording(
          { data: { recordingId: 'rec_doesnotexist' }, updateProgress: async () => undefined },
          { store, logger },
        ),
      ).rejects.toMatchObject({ name: 'UnrecoverableError' });
      await expect(
        finalizeRecording(
          { data: { recordingId: '../etc' }, updateProgress: async () => undefined },
          { store, logger },
        ),
      ).rejects.toMatchObject({ name: 'UnrecoverableError' });
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it('fails unrecoverably on a garbage segment in the middle of a complete recording', async () => {
    const root = await tempRecordingsDir();
    const store = new ManifestStore(root, logger);
    try {
      const id = newRecordingId();
      await store.create(manifestFor(id, profile));
      await writeTestSegments(store.dirOf(id), 3);
      await fs.writeFile(path.join(store.dirOf(id), 'segments/seg-00001.ts'), randomBytes(4096));
      await expect(
        finalizeRecording(
          { data: { recordingId: id }, updateProgress: async () => undefined },
          { store, logger },
        ),
      ).rejects.toThrow(/seg-00001.ts is unreadable/);
      expect(await store.read(id)).toMatchObject({ state: 'failed' });
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});

describe('transient failures', () => {
  let root: string;
  let killedProbe: string;

  beforeEach(async () => {
    root = await tempRecordingsDir();
    // An ffprobe that is killed by a signal every time, like an OOM kill would.
    killedProbe = path.join(root, 'ffprobe-killed.sh');
    await fs.writeFile(killedProbe, '#!/bin/sh\nkill -9 $$\n', { mode: 0o755 });
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('throw a retryable error and leave the manifest finalizing', async () => {
    const store = new ManifestStore(root, logger);
    const id = newRecordingId();
    await store.create(manifestFor(id, profile));
    await writeTestSegments(store.dirOf(id), 1);
    const attempt = finalizeRecording(
      { data: { recordingId: id }, updateProgress: async () => undefined },
      { store, logger, ffprobePath: killedProbe },
    );
    await expect(attempt).rejects.toMatchObject({ name: 'FfmpegError', signal: 'SIGKILL' });
    expect((await store.read(id)).state).toBe('finalizing');
  });

  it('are retried by the worker, which marks the recording failed after the last attempt', async () => {
    const store = new ManifestStore(root, logger);
    const id = newRecordingId();
    await store.create(manifestFor(id, profile));
    await writeTestSegments(store.dirOf(id), 1);
    const suffix = randomBytes(4).toString('hex');
    const queueName = `recording-finalize-test-${suffix}`;
    const prefix = `test-${suffix}`;
    const queue = new Queue<FinalizeJobData, FinalizeResult>(queueName, {
      connection: { url: redisUrl },
      prefix,
    });
    const events = new QueueEvents(queueName, { connection: { url: redisUrl }, prefix });
    const config = loadRecordingWorkerConfig({ REDIS_URL: redisUrl, RECORDINGS_DIR: root });
    const worker = await startRecordingWorker(config, logger, {
      queueName,
      prefix,
      ffprobePath: killedProbe,
    });
    try {
      await events.waitUntilReady();
      const job = await queue.add('finalize', { recordingId: id }, { jobId: id, attempts: 2, backoff: 10 });
      await expect(job.waitUntilFinished(events)).rejects.toThrow(/killed by SIGKILL/);
      expect((await queue.getJob(id))!.attemptsMade).toBe(2);
      // The worker's 'failed' handler writes the manifest right after the event; give it a moment.
      let manifest = await store.read(id);
      for (let i = 0; i < 50 && manifest.state !== 'failed'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        manifest = await store.read(id);
      }
      expect(manifest).toMatchObject({
        state: 'failed',
        failureReason: expect.stringMatching(/after 2 attempts/),
      });
    } finally {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
