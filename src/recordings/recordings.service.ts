import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Queue, QueueEvents } from 'bullmq';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { OUTPUT_PROFILES, RECORDING_STOP_REQUEST_MS } from '../../workers/protocol/media';
import {
  type CaptureLosses,
  DISK_FULL,
  FINAL_RECORDING_STATES,
  FINALIZE_QUEUE,
  type FinalizeJobData,
  type FinalizeResult,
  RECORDING_FILES,
  type RecordingManifest,
  type RecordingState,
} from '../../workers/protocol/recording';
import { ManifestStore } from '../../workers/kernel/recordings/manifest-store';
import { enqueueFinalize } from '../../workers/kernel/recordings/finalize-queue';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config';
import { ConflictError, InsufficientStorageError, WorkerClosedError } from '../common/errors';
import { withTimeout } from '../common/timeout';
import { Logger } from '../common/logger';
import { ClusterBus } from '../cluster/cluster-bus';
import { Janitor } from '../cluster/janitor.service';
import { NodeRegistry } from '../cluster/node-registry.service';
import { RoomDirectory } from '../cluster/room-directory.service';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { ABANDONED_STOP_ATTEMPTS, type MediaWorker } from '../media/media-worker';
import { REDIS_URL } from '../redis/redis.module';
import { RoomsService } from '../rooms/rooms.service';
import { SessionsService } from '../rooms/sessions.service';
import { WebhooksService } from '../webhooks/webhooks.service';
import { DurableManifests } from './durable-manifests';
import type { ListRecordingsQuery } from './recordings.schemas';

/** Bound on one call into BullMQ from a request or shutdown path (Redis may be down). */
const QUEUE_CALL_MS = 3000;
const FINALIZE_RETRY_MS = 5000;
/** Part of the shutdown bound (SHUTDOWN_TIMEOUT_MS) given to stopping captures. */
const SHUTDOWN_STOP_MS = 6000;

/** What became of the capture of a start the control plane gave up on. */
type AbandonedOutcome =
  | { kind: 'never-ran' }
  | { kind: 'ended'; diskFull: boolean; how: string }
  | { kind: 'unknown'; how: string };

export interface RecordingView extends RecordingManifest {
  /** Finalize progress from the live job while finalizing (0-100), else the manifest's. */
  progress?: number;
}

/**
 * Recording rules: start/stop a room's capture in its media worker, keep the manifest (the
 * source of truth, beside the media) in step, and hand every ended capture to the finalize
 * queue. Whatever ends a capture (stop, room end, ffmpeg death, worker death, shutdown, a crash
 * found at the next start) ends in a finalize job, so nothing recorded is orphaned.
 */
@Injectable()
export class RecordingsService implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  readonly store: ManifestStore;
  private readonly log = new Logger('recordings');
  private readonly queue: Queue<FinalizeJobData, FinalizeResult>;
  private readonly queueEvents: QueueEvents;
  /** roomId → recordingId of the capture running in that room's worker. */
  private readonly active = new Map<string, string>();
  /**
   * recordingId → roomId of starts given up on (timed out, or failed after the request left)
   * until the worker has said what became of their capture; see abandon().
   */
  private readonly abandoned = new Map<string, string>();
  /** Stops under way (from REST, room end or shutdown): shutdown waits for all of them. */
  private readonly stopping = new Map<string, Promise<RecordingManifest>>();
  /** Manifest writes that survive a full disk (kept in memory and retried). */
  private readonly manifests: DurableManifests;
  /** Finalize jobs that could not be queued yet (Redis unreachable): retried until they are. */
  private readonly unqueued = new Set<string>();
  private finalizeRetry: NodeJS.Timeout | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_URL) redisUrl: string,
    private readonly supervisor: MediaSupervisor,
    private readonly sessions: SessionsService,
    private readonly rooms: RoomsService,
    private readonly webhooks: WebhooksService,
    private readonly janitor: Janitor,
    private readonly directory: RoomDirectory,
    private readonly bus: ClusterBus,
    private readonly registry: NodeRegistry,
  ) {
    this.store = new ManifestStore(config.recordingsDir);
    this.manifests = new DurableManifests(this.store);
    this.queue = new Queue(FINALIZE_QUEUE, { connection: { url: redisUrl } });
    this.queueEvents = new QueueEvents(FINALIZE_QUEUE, { connection: { url: redisUrl } });
    this.queue.on('error', (err) => this.log.warn('finalize queue error', { err }));
    this.queueEvents.on('error', (err) => this.log.warn('finalize queue events error', { err }));
  }

  /**
   * Every handler below runs off any request: each catches its own errors (a full disk, Redis
   * down), so none of them can end the control plane (see common/process-faults.ts).
   */
  async onModuleInit(): Promise<void> {
    this.supervisor.on('notification', (roomId, n) => {
      if (n.event !== 'recording.ended') return;
      const d = n.data;
      if (this.abandoned.has(d.recordingId)) {
        // The capture of a start given up on ran after all, and has now ended.
        const outcome: AbandonedOutcome = {
          kind: 'ended',
          diskFull: d.reason === 'disk_full',
          how: d.detail,
        };
        this.background(
          this.settleAbandoned(d.recordingId, outcome),
          'settling an abandoned recording',
          roomId,
        );
        return;
      }
      // Only unexpected ends arrive here without a stop() in progress (ffmpeg died).
      if (d.interrupted && this.active.get(roomId) === d.recordingId) {
        const reason = d.reason === 'disk_full' ? DISK_FULL : d.detail;
        this.background(
          this.captureEnded(roomId, d.recordingId, true, reason, d.losses),
          'ending a capture',
          roomId,
        );
      }
    });
    this.supervisor.on('died', (roomId, reason) => {
      for (const [abandonedId, room] of this.abandoned) {
        if (room !== roomId) continue;
        const outcome: AbandonedOutcome = { kind: 'unknown', how: `the media worker ${reason}` };
        this.background(
          this.settleAbandoned(abandonedId, outcome),
          'settling an abandoned recording',
          roomId,
        );
      }
      const id = this.active.get(roomId);
      if (id)
        this.background(
          this.captureEnded(roomId, id, true, `media worker ${reason}`),
          'ending a capture',
          roomId,
        );
    });
    this.sessions.on('session-started', (room) => {
      // After the join that started the session has completed, so its participant is listed.
      if (room.autoRecord)
        setImmediate(() => this.background(this.autoStart(room.id), 'auto-record', room.id));
    });
    this.sessions.on('session-ended', (roomId) => {
      const id = this.active.get(roomId);
      if (id) this.background(this.stop(id), 'stopping a recording at room end', roomId);
    });
    this.sessions.on('participant-joined', (roomId, p) => {
      const id = this.active.get(roomId);
      if (!id) return;
      // Someone joining mid-recording must learn that the call is being recorded.
      this.sessions.broadcast(roomId, 'recording-state', { recordingId: id, state: 'recording' });
      const seen = {
        participantId: p.participantId,
        displayName: p.displayName,
        firstSeenAt: new Date().toISOString(),
      };
      const added = this.manifests.update(id, (m) =>
        m.participantsSeen.some((s) => s.participantId === p.participantId)
          ? m
          : { ...m, participantsSeen: [...m.participantsSeen, seen] },
      );
      this.background(added, 'adding a participant to the manifest', roomId);
    });
    this.queueEvents.on('completed', ({ jobId }) =>
      this.background(this.announceFinal(jobId), 'announcing a finalize'),
    );
    this.queueEvents.on('failed', ({ jobId }) =>
      this.background(this.announceFinal(jobId), 'announcing a finalize'),
    );
    this.bus.handle('recording.start', ({ roomId, webm }) => this.start(roomId, { webm }));
    this.bus.handle('recording.stop', ({ recordingId }) => this.stop(recordingId));
    this.janitor.on('rooms-lost', (nodeId, roomIds) =>
      this.background(this.interruptLost(nodeId, roomIds), 'interrupting the recordings of a lost node'),
    );
    await this.recover();
  }

  private background(p: Promise<unknown>, what: string, roomId?: string): void {
    p.catch((err) => this.log.error(`${what} failed`, { roomId, err }));
  }

  /**
   * Stops every capture (their last segment is closed) and queues their finalize before exit,
   * within a bound: a capture that cannot stop in time stays 'recording' on disk and the next
   * start finalizes it as interrupted.
   */
  async beforeApplicationShutdown(): Promise<void> {
    for (const id of this.active.values()) {
      this.stop(id).catch((err) => this.log.error('stop at shutdown failed', { recordingId: id, err }));
    }
    await withTimeout(
      Promise.allSettled([...this.stopping.values()]),
      SHUTDOWN_STOP_MS,
      'stopping recordings',
    ).catch((err) =>
      this.log.error('recordings did not stop in time at shutdown; the next start recovers them', { err }),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.finalizeRetry) clearTimeout(this.finalizeRetry);
    await this.manifests.close();
    // Manifests left in 'finalizing' are queued again by the next start (recover()).
    await Promise.all([
      withTimeout(this.queueEvents.close(), 1500, 'closing queue events').catch(() => undefined),
      withTimeout(this.queue.close(), 1500, 'closing the finalize queue').catch(() => undefined),
    ]);
  }

  /** In a cluster, the node hosting a room when it is another one than this, else null. */
  private async remoteHost(roomId: string): Promise<string | null> {
    if (!this.config.node.clustered) return null;
    const host = await this.directory.hostOf(roomId);
    return host && host !== this.directory.selfId ? host : null;
  }

  async start(roomId: string, opts: { webm?: boolean } = {}): Promise<RecordingManifest> {
    await this.rooms.room(roomId); // 404 for an unknown room
    const host = await this.remoteHost(roomId);
    if (host) return this.bus.request(host, 'recording.start', { roomId, webm: opts.webm });
    if (this.active.has(roomId))
      throw new ConflictError(`room ${roomId} is already being recorded (${this.active.get(roomId)})`);
    const worker = this.supervisor.get(roomId);
    if (!worker)
      throw new ConflictError(
        `room ${roomId} has no live session to record; recording starts when someone is in it`,
      );
    await this.checkFreeSpace();
    const id = `rec_${randomBytes(9).toString('base64url')}`;
    this.active.set(roomId, id);
    const profile = OUTPUT_PROFILES[this.config.recording.profile];
    const now = new Date().toISOString();
    const log = this.log.child({ roomId, recordingId: id });
    let requested = false;
    try {
      await this.store.create({
        id,
        roomId,
        state: 'recording',
        createdAt: now,
        startedAt: now,
        participantsSeen: this.sessions.participants(roomId).map((p) => ({
          participantId: p.participantId,
          displayName: p.displayName,
          firstSeenAt: now,
        })),
        profile: { width: profile.width, height: profile.height, fps: profile.fps },
        interrupted: false,
        files: [],
        webmRequested: opts.webm ?? false,
      });
      requested = true;
      const res = await worker.request('recording.start', {
        recordingId: id,
        dir: this.store.dirOf(id),
        profile: profile.name,
        segmentSeconds: this.config.recording.segmentSeconds,
      });
      const manifest = await this.store.update(id, (m) => ({ ...m, startedAt: res.startedAt }));
      log.info('recording started', { profile: profile.name });
      this.webhooks.publish('recording.started', { roomId, recordingId: id });
      this.sessions.broadcast(roomId, 'recording-state', { recordingId: id, state: 'recording' });
      return manifest;
    } catch (err) {
      this.active.delete(roomId);
      // The worker may still carry the start out (it answered too late, or the manifest write
      // after its answer failed): a stop follows it, before anything else can reach the worker.
      if (requested) this.abandon(worker, roomId, id);
      log.error('recording could not start', { err });
      const diskFull = isDiskFull(err);
      const failureReason = diskFull ? DISK_FULL : `capture did not start: ${(err as Error).message}`;
      await this.manifests
        .update(id, (m) => ({ ...m, state: 'failed', failureReason }))
        .catch(() => undefined);
      if (diskFull)
        throw new InsufficientStorageError(`the recordings disk is full: ${(err as Error).message}`);
      throw err;
    }
  }

  async stop(recordingId: string): Promise<RecordingManifest> {
    if (this.config.node.clustered) {
      // The capture runs on the node hosting the room; the manifest on shared storage says which.
      const { roomId } = await this.store.read(recordingId);
      const host = this.active.has(roomId) ? null : await this.remoteHost(roomId);
      // As long as the host may wait for its capture to finish (RECORDING_STOP_REQUEST_MS).
      if (host)
        return this.bus.request(host, 'recording.stop', { recordingId }, RECORDING_STOP_REQUEST_MS + 5000);
    }
    const inFlight = this.stopping.get(recordingId);
    if (inFlight) return inFlight;
    const p = this.doStop(recordingId).finally(() => this.stopping.delete(recordingId));
    this.stopping.set(recordingId, p);
    return p;
  }

  private async doStop(recordingId: string): Promise<RecordingManifest> {
    const manifest = await this.store.read(recordingId);
    const roomId = manifest.roomId;
    if (manifest.state !== 'recording' || this.active.get(roomId) !== recordingId) {
      throw new ConflictError(`recording ${recordingId} is not recording (state ${manifest.state})`);
    }
    let interrupted = false;
    let reason = 'stopped';
    let losses: CaptureLosses | null = null;
    const worker = this.supervisor.get(roomId);
    try {
      if (!worker) throw new Error('the room has no media worker');
      // A capture behind real time encodes its backlog before it ends: its worker bounds that
      // wait, and this one is longer, so segments are never finalized while ffmpeg still writes.
      ({ interrupted, losses } = await worker.request(
        'recording.stop',
        { recordingId },
        RECORDING_STOP_REQUEST_MS,
      ));
    } catch (err) {
      // The capture is gone either way; what reached disk is finalized and marked interrupted.
      interrupted = true;
      reason = `stop failed: ${(err as Error).message}`;
    }
    return this.captureEnded(roomId, recordingId, interrupted, reason, losses);
  }

  /** Queues a finalize again, e.g. to add a WebM copy to a finished recording. */
  async refinalize(recordingId: string, opts: { webm: boolean }): Promise<RecordingManifest> {
    const m = this.manifests.view(await this.store.read(recordingId));
    if (!FINAL_RECORDING_STATES.includes(m.state) || m.state === 'failed') {
      throw new ConflictError(
        `recording ${recordingId} is ${m.state}; only ready or interrupted recordings can be transcoded`,
      );
    }
    const next = await this.store.update(recordingId, (x) => ({
      ...x,
      webmRequested: x.webmRequested || opts.webm,
    }));
    await withTimeout(
      enqueueFinalize(this.queue, { recordingId, webm: opts.webm }),
      QUEUE_CALL_MS,
      'queueing a finalize',
    );
    return next;
  }

  /**
   * Finalizes a recording whose disk filled up, once there is space again: its segments were
   * kept, and what they hold becomes an `interrupted` (playable) recording.
   */
  async retryFinalize(recordingId: string): Promise<RecordingManifest> {
    const m = this.manifests.view(await this.store.read(recordingId));
    if (m.state !== 'failed' || m.failureReason !== DISK_FULL) {
      throw new ConflictError(
        `recording ${recordingId} is ${m.state}; only recordings that failed with ${DISK_FULL} can be finalized again`,
      );
    }
    await this.checkFreeSpace();
    const next = await this.manifests.update(recordingId, (x) => ({
      ...x,
      state: 'finalizing',
      interrupted: true,
    }));
    await withTimeout(enqueueFinalize(this.queue, { recordingId }), QUEUE_CALL_MS, 'queueing a finalize');
    this.log.info('finalize of a disk-full recording queued again', { recordingId, roomId: m.roomId });
    return next;
  }

  /** Free bytes on the recordings disk (for /metrics and /readyz). */
  async freeBytes(): Promise<number> {
    const st = await fs.statfs(this.config.recordingsDir);
    return st.bavail * st.bsize;
  }

  async get(recordingId: string): Promise<RecordingView> {
    const m = this.manifests.view(await this.store.read(recordingId));
    if (m.state !== 'finalizing') return m;
    // Live progress is a nicety: with Redis down the manifest's figure is shown instead.
    const job = await withTimeout(this.queue.getJob(recordingId), 1000, 'reading a finalize job').catch(
      () => undefined,
    );
    const progress = typeof job?.progress === 'number' ? job.progress : m.progress;
    return { ...m, progress };
  }

  async list(
    q: ListRecordingsQuery,
  ): Promise<{ items: RecordingManifest[]; total: number; limit: number; offset: number }> {
    const from = q.from ? Date.parse(q.from) : -Infinity;
    const to = q.to ? Date.parse(q.to) : Infinity;
    const all = (await this.store.list())
      .map((m) => this.manifests.view(m))
      .filter((m) => (!q.roomId || m.roomId === q.roomId) && (!q.state || m.state === q.state))
      .filter((m) => {
        const t = Date.parse(m.startedAt);
        return t >= from && t <= to;
      })
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || a.id.localeCompare(b.id));
    return {
      items: all.slice(q.offset, q.offset + q.limit),
      total: all.length,
      limit: q.limit,
      offset: q.offset,
    };
  }

  async remove(recordingId: string): Promise<void> {
    const m = this.manifests.view(await this.store.read(recordingId));
    if (m.state === 'recording' || m.state === 'finalizing') {
      throw new ConflictError(
        `recording ${recordingId} is ${m.state}; stop it and wait for the finalize before deleting`,
      );
    }
    await this.store.remove(recordingId);
    // Its finished finalize job (kept for inspection, jobId = recording id) describes a recording
    // that no longer exists: without this, every deleted recording left a key in Redis (soak).
    try {
      const job = await this.queue.getJob(recordingId);
      const state = job ? await job.getState() : null;
      if (job && (state === 'completed' || state === 'failed')) await job.remove();
    } catch (err) {
      this.log.warn('finalize job of a deleted recording not removed', { err, recordingId });
    }
    this.log.info('recording deleted', { recordingId, roomId: m.roomId });
  }

  isActive(roomId: string): boolean {
    return this.active.has(roomId);
  }

  private async autoStart(roomId: string): Promise<void> {
    if (this.active.has(roomId)) return;
    try {
      await this.start(roomId);
    } catch (err) {
      this.log.error('auto-record could not start', { roomId, err });
    }
  }

  /**
   * A start given up on (its answer timed out, or what followed it failed) is followed by a
   * compensating recording.stop of that id. The worker handles requests in order, so the stop
   * reaches it after the start: if the capture is still starting it is ended as soon as ffmpeg is
   * up, if it runs it is stopped (its last segment closed), if it never ran the worker says so
   * (ConflictError). The manifest is already `failed`; settleAbandoned() gives it its final
   * reason, or finalizes what was captured as interrupted. Should the stop's answer itself not
   * arrive, it is sent again; the capture ends regardless (recording.ended, the worker's death, or
   * the room's next start, which ends any capture the control plane does not know of).
   */
  private abandon(worker: MediaWorker, roomId: string, recordingId: string): void {
    this.abandoned.set(recordingId, roomId);
    const attempt = async (n: number): Promise<void> => {
      try {
        // Like any recording stop, answered once ffmpeg has encoded what it was given.
        await worker.request('recording.stop', { recordingId }, RECORDING_STOP_REQUEST_MS);
        await this.settleAbandoned(recordingId, { kind: 'ended', diskFull: false, how: 'stopped' });
      } catch (err) {
        if (!this.abandoned.has(recordingId)) return; // settled meanwhile (recording.ended, death)
        if (err instanceof ConflictError) {
          await this.settleAbandoned(recordingId, { kind: 'never-ran' });
        } else if (err instanceof WorkerClosedError) {
          await this.settleAbandoned(recordingId, { kind: 'unknown', how: 'the media worker is gone' });
        } else if (n < ABANDONED_STOP_ATTEMPTS) {
          this.log.warn('no answer to the stop of an abandoned recording start; sending it again', {
            roomId,
            recordingId,
            err,
          });
          await attempt(n + 1);
        } else {
          this.abandoned.delete(recordingId);
          this.log.error('the stop of an abandoned recording start was never answered', {
            roomId,
            recordingId,
            err,
          });
        }
      }
    };
    this.background(attempt(1), 'stopping an abandoned recording start', roomId);
  }

  /**
   * The final word on an abandoned start (once per id). Nothing recorded is lost: when segments
   * exist the recording is finalized as interrupted (failed → finalizing → interrupted); else it
   * stays failed, its reason saying what became of the late capture.
   */
  private async settleAbandoned(recordingId: string, outcome: AbandonedOutcome): Promise<void> {
    const roomId = this.abandoned.get(recordingId);
    if (roomId === undefined || !this.abandoned.delete(recordingId)) return;
    const log = this.log.child({ roomId, recordingId });
    const captured = outcome.kind !== 'never-ran' && (await this.hasSegments(recordingId));
    if (outcome.kind === 'ended' && outcome.diskFull) {
      await this.manifests.update(recordingId, (m) =>
        m.state === 'failed' ? { ...m, failureReason: DISK_FULL, interrupted: true } : m,
      );
      log.error('the late capture of an abandoned start ended on a full disk; segments are kept');
      return;
    }
    if (captured) {
      const endedAt = new Date().toISOString();
      await this.manifests.update(recordingId, (m) =>
        m.state === 'failed' ? { ...m, state: 'finalizing', interrupted: true, endedAt } : m,
      );
      log.warn(
        'the media worker started a recording after its start was given up; it was stopped and what it captured is finalized as interrupted',
        {
          how: outcome.how,
        },
      );
      this.queueFinalize(recordingId);
      return;
    }
    const what =
      outcome.kind === 'never-ran'
        ? 'the media worker never started it'
        : `the media worker started it late; it ended (${outcome.how}) before recording anything`;
    // `disk_full` stays exactly that: it is what POST /finalize checks for.
    await this.manifests.update(recordingId, (m) =>
      m.state === 'failed' && m.failureReason !== DISK_FULL
        ? { ...m, failureReason: `${m.failureReason ?? 'capture did not start'}; ${what}` }
        : m,
    );
    log.info('abandoned recording start settled', { outcome: outcome.kind });
  }

  /** Whether a capture wrote anything: a non-empty segment (ffmpeg creates the first one empty). */
  private async hasSegments(recordingId: string): Promise<boolean> {
    const dir = path.join(this.store.dirOf(recordingId), RECORDING_FILES.segmentsDir);
    const names = await fs.readdir(dir).catch(() => []);
    for (const name of names) {
      const st = await fs.stat(path.join(dir, name)).catch(() => null);
      if (st && st.size > 0) return true;
    }
    return false;
  }

  /**
   * The one way a capture ends (stop, room end, ffmpeg or worker death, shutdown). It never
   * fails: a manifest write the disk refuses is kept and retried (DurableManifests), a finalize
   * that cannot be queued (Redis down) is retried until it is. A full disk fails this recording
   * only: its segments are kept and can be finalized later (retryFinalize).
   */
  private async captureEnded(
    roomId: string,
    recordingId: string,
    interrupted: boolean,
    reason: string,
    losses: CaptureLosses | null = null,
  ): Promise<RecordingManifest> {
    if (this.active.get(roomId) === recordingId) this.active.delete(roomId);
    const endedAt = new Date().toISOString();
    const diskFull = reason === DISK_FULL;
    const captureLosses = losses ? { captureLosses: losses } : {};
    const manifest = await this.manifests.update(recordingId, (m) => {
      if (m.state !== 'recording') return m;
      if (diskFull)
        return {
          ...m,
          ...captureLosses,
          state: 'failed',
          failureReason: DISK_FULL,
          endedAt,
          interrupted: true,
        };
      return {
        ...m,
        ...captureLosses,
        state: 'finalizing',
        endedAt,
        interrupted: m.interrupted || interrupted,
      };
    });
    if (losses && (losses.audioDroppedSec > 0 || losses.videoFramesDropped > 0))
      this.log.warn('recording lacks media its capture could not keep (the node was overloaded)', {
        roomId,
        recordingId,
        ...losses,
      });
    this.webhooks.publish('recording.ended', { roomId, recordingId, interrupted, reason, ...captureLosses });
    if (diskFull) {
      this.log.error('recording failed: the recordings disk is full (the room goes on; segments are kept)', {
        roomId,
        recordingId,
      });
      this.webhooks.publish('recording.failed', { roomId, recordingId, reason: DISK_FULL });
      this.sessions.broadcast(roomId, 'recording-state', { recordingId, state: 'failed' });
      return manifest;
    }
    this.log.info('recording capture ended; finalize queued', { roomId, recordingId, interrupted, reason });
    this.queueFinalize(recordingId);
    this.sessions.broadcast(roomId, 'recording-state', { recordingId, state: 'finalizing' });
    return manifest;
  }

  /** Queues a finalize without waiting on Redis; while Redis is unreachable it is retried. */
  private queueFinalize(recordingId: string): void {
    withTimeout(enqueueFinalize(this.queue, { recordingId }), QUEUE_CALL_MS, 'queueing a finalize').then(
      () => this.unqueued.delete(recordingId),
      (err) => {
        if (!this.unqueued.has(recordingId))
          this.log.warn('could not queue a finalize (Redis unreachable?); retrying', { recordingId, err });
        this.unqueued.add(recordingId);
        if (!this.finalizeRetry) {
          this.finalizeRetry = setTimeout(() => {
            this.finalizeRetry = null;
            for (const id of [...this.unqueued]) this.queueFinalize(id);
          }, FINALIZE_RETRY_MS);
          this.finalizeRetry.unref();
        }
      },
    );
  }

  private async checkFreeSpace(): Promise<void> {
    const min = this.config.recording.minFreeBytes;
    if (min === 0) return;
    const free = await this.freeBytes().catch(() => Infinity);
    if (free < min) {
      throw new InsufficientStorageError(
        `the recordings disk has ${Math.floor(free / 1048576)} MB free, less than RECORDING_MIN_FREE_MB (${Math.floor(min / 1048576)} MB)`,
      );
    }
  }

  /**
   * At start-up no capture is live: a manifest still in 'recording' belongs to a capture that
   * died with the previous process. It is marked interrupted and finalized; 'finalizing' ones
   * are queued again (a no-op when their job is still in Redis).
   */
  private async recover(): Promise<void> {
    // In a cluster the recordings storage is shared: a capture of a room that another live node
    // hosts is running there, not left behind (lost nodes' recordings are the janitor's).
    const liveElsewhere = new Set<string>();
    if (this.config.node.clustered) {
      const alive = new Set((await this.registry.list().catch(() => [])).map((n) => n.id));
      for (const m of await this.store.list()) {
        if (m.state !== 'recording') continue;
        const host = await this.directory.hostOf(m.roomId).catch(() => null);
        if (host && host !== this.directory.selfId && alive.has(host)) liveElsewhere.add(m.id);
      }
    }
    await this.interruptLeftBehind(
      (m) => !liveElsewhere.has(m.id),
      'recording left behind by a previous run; finalizing it as interrupted',
    );
  }

  /**
   * A cluster node died with its rooms (the janitor released them): their captures died with it.
   * Their manifests, on the shared recordings storage, are finalized here as interrupted.
   */
  private async interruptLost(nodeId: string, roomIds: string[]): Promise<void> {
    const lost = new Set(roomIds);
    await this.interruptLeftBehind(
      (m) => lost.has(m.roomId),
      `recording of a room on lost node ${nodeId}; finalizing it as interrupted`,
    );
  }

  private async interruptLeftBehind(which: (m: RecordingManifest) => boolean, why: string): Promise<void> {
    for (const m of await this.store.list()) {
      if (!which(m)) continue;
      if (m.state === 'recording') {
        // Through DurableManifests: a full disk at boot must not stop the server from starting.
        await this.manifests.update(m.id, (x) => ({
          ...x,
          state: 'finalizing',
          interrupted: true,
          endedAt: x.endedAt ?? new Date().toISOString(),
        }));
        this.log.warn(why, {
          recordingId: m.id,
          roomId: m.roomId,
        });
        this.queueFinalize(m.id);
      } else if (m.state === 'finalizing') {
        this.queueFinalize(m.id);
      }
    }
  }

  private async announceFinal(recordingId: string): Promise<void> {
    let m: RecordingManifest;
    try {
      m = await this.store.read(recordingId);
    } catch {
      return;
    }
    const state: RecordingState = m.state;
    // Every node hears a finalize job end (QueueEvents): the webhook leaves from one of them.
    if (state === 'ready' || state === 'interrupted') {
      await this.webhooks.publishOnce(recordingId, 'recording.ready', {
        roomId: m.roomId,
        recordingId,
        state,
      });
    } else if (state === 'failed') {
      await this.webhooks.publishOnce(recordingId, 'recording.failed', {
        roomId: m.roomId,
        recordingId,
        reason: m.failureReason ?? 'unknown',
      });
    } else {
      return; // a retry is coming
    }
    this.sessions.broadcast(m.roomId, 'recording-state', { recordingId, state });
  }
}

function isDiskFull(err: unknown): boolean {
  return err instanceof Error && /ENOSPC|No space left on device/i.test(err.message);
}
