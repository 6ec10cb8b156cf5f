import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Queue, QueueEvents } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { OUTPUT_PROFILES } from '../../workers/protocol/media';
import {
  FINAL_RECORDING_STATES,
  FINALIZE_QUEUE,
  type FinalizeJobData,
  type FinalizeResult,
  type RecordingManifest,
  type RecordingState,
} from '../../workers/protocol/recording';
import { ManifestStore } from '../../workers/recording/manifest-store';
import { enqueueFinalize } from '../../workers/recording/queue';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config';
import { ConflictError } from '../common/errors';
import { Logger } from '../common/logger';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { REDIS_URL } from '../redis/redis.module';
import { RoomsService } from '../rooms/rooms.service';
import { SessionsService } from '../rooms/sessions.service';
import { WebhooksService } from '../webhooks/webhooks.service';
import type { ListRecordingsQuery } from './recordings.schemas';

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
  /** Stops under way (from REST, room end or shutdown): shutdown waits for all of them. */
  private readonly stopping = new Map<string, Promise<RecordingManifest>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_URL) redisUrl: string,
    private readonly supervisor: MediaSupervisor,
    private readonly sessions: SessionsService,
    private readonly rooms: RoomsService,
    private readonly webhooks: WebhooksService,
  ) {
    this.store = new ManifestStore(config.recordingsDir);
    this.queue = new Queue(FINALIZE_QUEUE, { connection: { url: redisUrl } });
    this.queueEvents = new QueueEvents(FINALIZE_QUEUE, { connection: { url: redisUrl } });
    this.queue.on('error', (err) => this.log.warn('finalize queue error', { err }));
    this.queueEvents.on('error', (err) => this.log.warn('finalize queue events error', { err }));
  }

  async onModuleInit(): Promise<void> {
    this.supervisor.on('notification', (roomId, event, data) => {
      if (event !== 'recording.ended') return;
      const d = data as { recordingId: string; interrupted: boolean; reason: string };
      // Only unexpected ends arrive here without a stop() in progress (ffmpeg died).
      if (d.interrupted && this.active.get(roomId) === d.recordingId) {
        void this.captureEnded(roomId, d.recordingId, true, d.reason);
      }
    });
    this.supervisor.on('died', (roomId, reason) => {
      const id = this.active.get(roomId);
      if (id) void this.captureEnded(roomId, id, true, `media worker ${reason}`);
    });
    this.sessions.on('session-started', (room) => {
      // After the join that started the session has completed, so its participant is listed.
      if (room.autoRecord) setImmediate(() => void this.autoStart(room.id));
    });
    this.sessions.on('session-ended', (roomId) => {
      const id = this.active.get(roomId);
      if (id) void this.stop(id).catch((err) => this.log.error('stopping a recording at room end failed', { roomId, recordingId: id, err }));
    });
    this.sessions.on('participant-joined', (roomId, p) => {
      const id = this.active.get(roomId);
      if (!id) return;
      // Someone joining mid-recording must learn that the call is being recorded.
      this.sessions.broadcast(roomId, 'recording-state', { recordingId: id, state: 'recording' });
      void this.store
        .update(id, (m) => {
          if (m.participantsSeen.some((s) => s.participantId === p.participantId)) return m;
          const seen = { participantId: p.participantId, displayName: p.displayName, firstSeenAt: new Date().toISOString() };
          return { ...m, participantsSeen: [...m.participantsSeen, seen] };
        })
        .catch((err) => this.log.warn('could not add a participant to the manifest', { recordingId: id, err }));
    });
    this.queueEvents.on('completed', ({ jobId }) => void this.announceFinal(jobId));
    this.queueEvents.on('failed', ({ jobId }) => void this.announceFinal(jobId));
    await this.recover();
  }

  /** Stops every capture (their last segment is closed) and queues their finalize before exit. */
  async beforeApplicationShutdown(): Promise<void> {
    for (const id of this.active.values()) {
      this.stop(id).catch((err) => this.log.error('stop at shutdown failed', { recordingId: id, err }));
    }
    await Promise.allSettled([...this.stopping.values()]);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queueEvents.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
  }

  async start(roomId: string, opts: { webm?: boolean } = {}): Promise<RecordingManifest> {
    await this.rooms.room(roomId); // 404 for an unknown room
    if (this.active.has(roomId)) throw new ConflictError(`room ${roomId} is already being recorded (${this.active.get(roomId)})`);
    const worker = this.supervisor.get(roomId);
    if (!worker) throw new ConflictError(`room ${roomId} has no live session to record; recording starts when someone is in it`);
    const id = `rec_${randomBytes(9).toString('base64url')}`;
    this.active.set(roomId, id);
    const profile = OUTPUT_PROFILES[this.config.recording.profile];
    const now = new Date().toISOString();
    const log = this.log.child({ roomId, recordingId: id });
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
      log.error('recording could not start', { err });
      await this.store
        .update(id, (m) => ({ ...m, state: 'failed', failureReason: `capture did not start: ${(err as Error).message}` }))
        .catch(() => undefined);
      throw err;
    }
  }

  stop(recordingId: string): Promise<RecordingManifest> {
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
    const worker = this.supervisor.get(roomId);
    try {
      if (!worker) throw new Error('the room has no media worker');
      interrupted = (await worker.request('recording.stop', { recordingId })).interrupted;
    } catch (err) {
      // The capture is gone either way; what reached disk is finalized and marked interrupted.
      interrupted = true;
      reason = `stop failed: ${(err as Error).message}`;
    }
    return this.captureEnded(roomId, recordingId, interrupted, reason);
  }

  /** Queues a finalize again, e.g. to add a WebM copy to a finished recording. */
  async refinalize(recordingId: string, opts: { webm: boolean }): Promise<RecordingManifest> {
    const m = await this.store.read(recordingId);
    if (!FINAL_RECORDING_STATES.includes(m.state) || m.state === 'failed') {
      throw new ConflictError(`recording ${recordingId} is ${m.state}; only ready or interrupted recordings can be transcoded`);
    }
    const next = await this.store.update(recordingId, (x) => ({ ...x, webmRequested: x.webmRequested || opts.webm }));
    await enqueueFinalize(this.queue, { recordingId, webm: opts.webm });
    return next;
  }

  async get(recordingId: string): Promise<RecordingView> {
    const m = await this.store.read(recordingId);
    if (m.state !== 'finalizing') return m;
    const job = await this.queue.getJob(recordingId).catch(() => undefined);
    const progress = typeof job?.progress === 'number' ? job.progress : m.progress;
    return { ...m, progress };
  }

  async list(q: ListRecordingsQuery): Promise<{ items: RecordingManifest[]; total: number; limit: number; offset: number }> {
    const from = q.from ? Date.parse(q.from) : -Infinity;
    const to = q.to ? Date.parse(q.to) : Infinity;
    const all = (await this.store.list())
      .filter((m) => (!q.roomId || m.roomId === q.roomId) && (!q.state || m.state === q.state))
      .filter((m) => {
        const t = Date.parse(m.startedAt);
        return t >= from && t <= to;
      })
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || a.id.localeCompare(b.id));
    return { items: all.slice(q.offset, q.offset + q.limit), total: all.length, limit: q.limit, offset: q.offset };
  }

  async remove(recordingId: string): Promise<void> {
    const m = await this.store.read(recordingId);
    if (m.state === 'recording' || m.state === 'finalizing') {
      throw new ConflictError(`recording ${recordingId} is ${m.state}; stop it and wait for the finalize before deleting`);
    }
    await this.store.remove(recordingId);
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

  private async captureEnded(roomId: string, recordingId: string, interrupted: boolean, reason: string): Promise<RecordingManifest> {
    if (this.active.get(roomId) === recordingId) this.active.delete(roomId);
    const manifest = await this.store.update(recordingId, (m) =>
      m.state === 'recording'
        ? { ...m, state: 'finalizing', endedAt: new Date().toISOString(), interrupted: m.interrupted || interrupted }
        : m,
    );
    this.log.info('recording capture ended; finalize queued', { roomId, recordingId, interrupted, reason });
    await enqueueFinalize(this.queue, { recordingId });
    this.webhooks.publish('recording.ended', { roomId, recordingId, interrupted, reason });
    this.sessions.broadcast(roomId, 'recording-state', { recordingId, state: 'finalizing' });
    return manifest;
  }

  /**
   * At start-up no capture is live: a manifest still in 'recording' belongs to a capture that
   * died with the previous process. It is marked interrupted and finalized; 'finalizing' ones
   * are queued again (a no-op when their job is still in Redis).
   */
  private async recover(): Promise<void> {
    for (const m of await this.store.list()) {
      if (m.state === 'recording') {
        await this.store.update(m.id, (x) => ({ ...x, state: 'finalizing', interrupted: true, endedAt: x.endedAt ?? new Date().toISOString() }));
        this.log.warn('recording left behind by a previous run; finalizing it as interrupted', { recordingId: m.id, roomId: m.roomId });
        await enqueueFinalize(this.queue, { recordingId: m.id });
      } else if (m.state === 'finalizing') {
        await enqueueFinalize(this.queue, { recordingId: m.id });
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
    if (state === 'ready' || state === 'interrupted') {
      this.webhooks.publish('recording.ready', { roomId: m.roomId, recordingId, state });
    } else if (state === 'failed') {
      this.webhooks.publish('recording.failed', { roomId: m.roomId, recordingId, reason: m.failureReason ?? 'unknown' });
    } else {
      return; // a retry is coming
    }
    this.sessions.broadcast(m.roomId, 'recording-state', { recordingId, state });
  }
}
