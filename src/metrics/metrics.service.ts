import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Gauge, Registry } from 'prom-client';
import type { RoomStats } from '../../workers/protocol/media';
import { FINALIZE_QUEUE } from '../../workers/protocol/recording';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { Logger } from '../common/logger';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { REDIS_URL } from '../redis/redis.module';
import { RoomsRepository } from '../rooms/rooms.repository';
import { SessionsService } from '../rooms/sessions.service';
import { WebhooksService } from '../webhooks/webhooks.service';

/**
 * Until the worker reports it (see the report to the lead), frames handed to the encoders per
 * second are not in RoomStats; read it when present so the gauge fills in without a change here.
 */
type StatsWithDelivery = RoomStats;

const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

/**
 * Prometheus metrics on a registry of its own (several servers can live in one test process).
 * Per-worker figures come from `room.stats`, polled every METRICS_POLL_MS off the request path;
 * a scrape only reads the last poll, so scraping never touches a media worker.
 */
@Injectable()
export class MetricsService implements OnModuleInit, OnApplicationShutdown {
  readonly registry = new Registry();
  private readonly stats = new Map<string, StatsWithDelivery>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private recordingQueue: Queue | null = null;
  private readonly log = new Logger('metrics');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_URL) private readonly redisUrl: string,
    private readonly supervisor: MediaSupervisor,
    private readonly sessions: SessionsService,
    private readonly rooms: RoomsRepository,
    private readonly webhooks: WebhooksService,
  ) {}

  onModuleInit(): void {
    const r = this.registry;
    // collect() runs with `this` bound to the gauge, so the services are captured here.
    const { rooms, sessions, supervisor, webhooks } = this;
    const recordingQueue = () => this.recordingQueue;
    new Gauge({
      name: 'mcu_rooms',
      help: 'Rooms by state: configured (in Redis) and active (with a live session on this node)',
      labelNames: ['state'],
      registers: [r],
      async collect() {
        this.set({ state: 'configured' }, await rooms.count().catch(() => 0));
        this.set({ state: 'active' }, sessions.liveCounts().rooms);
      },
    });
    new Gauge({
      name: 'mcu_participants',
      help: 'Live participants on this node by role',
      labelNames: ['role'],
      registers: [r],
      collect() {
        const c = sessions.liveCounts();
        this.set({ role: 'publisher' }, c.publishers);
        this.set({ role: 'viewer' }, c.viewers);
      },
    });
    new Gauge({
      name: 'mcu_media_workers',
      help: 'Running media worker processes',
      registers: [r],
      collect() {
        this.set(supervisor.roomIds().length);
      },
    });
    this.perRoom(
      'mcu_media_worker_cpu_seconds',
      'CPU time used by a media worker (user + system), cumulative',
      (s, set) => set({}, (s.cpuUserMicros + s.cpuSystemMicros) / 1e6),
    );
    this.perRoom('mcu_media_worker_rss_bytes', 'Resident memory of a media worker', (s, set) =>
      set({}, s.rssBytes),
    );
    this.perRoom(
      'mcu_audio_underruns',
      'Audio ticks where a publisher had no data (cumulative, per room)',
      (s, set) => set({}, s.audioUnderruns),
    );
    this.perRoom(
      'mcu_media_worker_event_loop_delay_ms',
      "p99 delay of a media worker's event loop since the last poll: above ~20 ms its clocks run late",
      (s, set) => set({}, s.eventLoopDelayP99Ms),
    );
    this.perRoom(
      'mcu_composed_fps',
      'Composite frames per second by output profile',
      (s, set) => {
        for (const [profile, fps] of Object.entries(s.composedFps)) set({ profile }, fps ?? 0);
      },
      ['profile'],
    );
    this.perRoom(
      'mcu_delivered_fps',
      'Frames per second delivered to peers by output profile',
      (s, set) => {
        for (const [profile, fps] of Object.entries(s.deliveredFps ?? {})) set({ profile }, fps ?? 0);
      },
      ['profile'],
    );
    this.recordingQueue = new Queue(FINALIZE_QUEUE, { connection: { url: this.redisUrl } });
    this.recordingQueue.on('error', () => undefined);
    new Gauge({
      name: 'mcu_recording_jobs',
      help: 'Recording finalize jobs by state',
      labelNames: ['state'],
      registers: [r],
      async collect() {
        const counts = await recordingQueue()
          ?.getJobCounts(...JOB_STATES)
          .catch(() => null);
        for (const s of JOB_STATES) this.set({ state: s }, counts?.[s] ?? 0);
      },
    });
    new Gauge({
      name: 'mcu_webhook_jobs',
      help: 'Webhook deliveries by state',
      labelNames: ['state'],
      registers: [r],
      async collect() {
        const counts = await webhooks.jobCounts().catch(() => ({}) as Record<string, number>);
        for (const s of JOB_STATES) this.set({ state: s }, counts[s] ?? 0);
      },
    });
    this.timer = setInterval(() => void this.poll(), this.config.metricsPollMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.recordingQueue?.close().catch(() => undefined);
  }

  /** Asks every running worker for its stats; one at a time, skipped if the last poll still runs. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const live = new Set(this.supervisor.roomIds());
      for (const id of this.stats.keys()) if (!live.has(id)) this.stats.delete(id);
      for (const roomId of live) {
        const worker = this.supervisor.get(roomId);
        if (!worker) continue;
        try {
          this.stats.set(roomId, (await worker.request('room.stats', {})) as StatsWithDelivery);
        } catch (err) {
          this.log.debug('room.stats failed', { roomId, err });
        }
      }
    } finally {
      this.polling = false;
    }
  }

  private perRoom(
    name: string,
    help: string,
    fill: (s: StatsWithDelivery, set: (labels: Record<string, string>, v: number) => void) => void,
    extraLabels: string[] = [],
  ): void {
    const stats = this.stats;
    new Gauge({
      name,
      help,
      labelNames: ['room', ...extraLabels],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [room, s] of stats) fill(s, (labels, v) => this.set({ room, ...labels }, v));
      },
    });
  }
}
