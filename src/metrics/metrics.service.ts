import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Counter, Gauge, Registry } from 'prom-client';
import type { RoomStats } from '../../workers/protocol/media';
import { DOWNLINK_CHANGE_REASONS, DOWNLINK_PROFILES, UPLINK_STATES } from '../../workers/protocol/media';
import { FINALIZE_QUEUE } from '../../workers/protocol/recording';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { Logger } from '../common/logger';
import { NODE_STATES, NodeStateService } from '../cluster/node-state';
import { unhandledRejectionCount } from '../common/process-faults';
import { withTimeout } from '../common/timeout';
import type { EmbeddedRedis } from '../redis/embedded-redis';
import { RecordingsService } from '../recordings/recordings.service';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { WorkerDeaths } from '../media/worker-deaths';
import { EMBEDDED_REDIS, REDIS_URL } from '../redis/redis.module';
import { RoomsRepository } from '../rooms/rooms.repository';
import { SessionsService } from '../rooms/sessions.service';
import { WebhooksService } from '../webhooks/webhooks.service';
import { LoadService } from '../load/load.service';

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
    private readonly recordings: RecordingsService,
    @Inject(EMBEDDED_REDIS) private readonly embeddedRedis: EmbeddedRedis | null,
    private readonly deaths: WorkerDeaths,
    private readonly load: LoadService,
    private readonly nodeState: NodeStateService,
  ) {}

  /** Quality shedding level per room, as the workers last reported it (steps and load reports). */
  private readonly qualityLevels = new Map<string, number>();

  onModuleInit(): void {
    const r = this.registry;
    r.registerMetric(this.deaths.counter);
    this.registerLoadMetrics();
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
    const { nodeState } = this;
    new Gauge({
      name: 'mcu_node_state',
      help: "This node's state: 1 for the current one (active, or draining: no new rooms)",
      labelNames: ['state'],
      registers: [r],
      collect() {
        for (const s of NODE_STATES) this.set({ state: s }, nodeState.state === s ? 1 : 0);
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
      'mcu_av_sync_video_delay_ms',
      "Lip sync: how long a participant's video is held back to meet its later audio (docs/lip-sync.md)",
      (s, set) => {
        for (const p of s.avSync ?? []) set({ participant: p.participantId }, p.videoDelayMs);
      },
      ['participant'],
    );
    this.perRoom(
      'mcu_av_sync_estimate_ms',
      'Lip sync: the video delay the receive-path estimate asks for, before limits and smoothing steps',
      (s, set) => {
        for (const p of s.avSync ?? [])
          if (p.estimatedMs !== null) set({ participant: p.participantId }, p.estimatedMs);
      },
      ['participant'],
    );
    this.perRoom(
      'mcu_av_sync_sender_clock',
      "Lip sync: 1 while a participant's estimate is measured on its own clock (RTCP sender reports), 0 while modelled from receive stats",
      (s, set) => {
        for (const p of s.avSync ?? [])
          set({ participant: p.participantId }, p.basis === 'sender-reports' ? 1 : 0);
      },
      ['participant'],
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
    this.perRoom(
      'mcu_shared_encoder_receivers',
      'Receivers of each shared composite encoder (one series per encoder: H.264 endpoints share one per profile)',
      (s, set) => {
        for (const e of s.sharedEncoders ?? []) set({ profile: e.profile, codec: e.codec }, e.receivers);
      },
      ['profile', 'codec'],
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
    const { recordings, embeddedRedis } = this;
    new Gauge({
      name: 'mcu_recordings_disk_free_bytes',
      help: 'Free space on the recordings disk (new recordings are refused below RECORDING_MIN_FREE_MB)',
      registers: [r],
      async collect() {
        const free = await recordings.freeBytes().catch(() => null);
        if (free !== null) this.set(free);
      },
    });
    new Counter({
      name: 'mcu_unhandled_rejections_total',
      help: 'Promise rejections no code path caught (logged; each one is a bug to fix)',
      registers: [r],
      collect() {
        this.reset();
        this.inc(unhandledRejectionCount());
      },
    });
    new Counter({
      name: 'mcu_embedded_redis_restarts_total',
      help: 'Times the embedded redis-server died and was restarted on the same data',
      registers: [r],
      collect() {
        this.reset();
        this.inc(embeddedRedis?.restarts ?? 0);
      },
    });
    this.timer = setInterval(() => void this.poll(), this.config.metricsPollMs);
    this.timer.unref();
  }

  /** Admission control (LoadService) and quality shedding (the workers' room.quality steps). */
  private registerLoadMetrics(): void {
    const r = this.registry;
    const { load, supervisor, qualityLevels } = this;
    new Gauge({
      name: 'mcu_node_full',
      help: '1 while this node refuses standard joins (server_busy): capacity, CPU or worker lag',
      registers: [r],
      collect() {
        this.set(load.snapshot().full ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mcu_node_load_units',
      help: 'Capacity model in standard participant units: capacity (NODE_CAPACITY) and committed',
      labelNames: ['kind'],
      registers: [r],
      collect() {
        const s = load.snapshot();
        this.set({ kind: 'capacity' }, s.capacity);
        this.set({ kind: 'committed' }, s.committed);
      },
    });
    new Gauge({
      name: 'mcu_node_cpu_load',
      help: "CPU of the server's process tree as a fraction of the machine (0..1)",
      registers: [r],
      collect() {
        this.set(load.snapshot().cpuLoad);
      },
    });
    new Gauge({
      name: 'mcu_quality_level',
      help: 'Quality shedding level of a room (0 = full quality; each step sheds frame rate, then profile)',
      labelNames: ['room'],
      registers: [r],
      collect() {
        this.reset();
        const live = new Set(supervisor.roomIds());
        for (const [room, level] of qualityLevels) {
          if (live.has(room)) this.set({ room }, level);
          else qualityLevels.delete(room);
        }
      },
    });
    const steps = new Counter({
      name: 'mcu_quality_steps_total',
      help: 'Quality shedding steps taken by the media workers, by direction (down = shed, up = restore)',
      labelNames: ['direction'],
      registers: [r],
    });
    steps.inc({ direction: 'down' }, 0);
    steps.inc({ direction: 'up' }, 0);
    const downlinkChanges = new Counter({
      name: 'mcu_downlink_profile_changes_total',
      help: "Changes of a participant's served downlink profile, by reason (bandwidth = adaptive downlink) and direction",
      labelNames: ['reason', 'direction'],
      registers: [r],
    });
    for (const reason of DOWNLINK_CHANGE_REASONS)
      for (const direction of ['down', 'up']) downlinkChanges.inc({ reason, direction }, 0);
    const uplinkChanges = new Counter({
      name: 'mcu_uplink_changes_total',
      help: "A participant's uplink turned weak (loss or a low frame rate) or good again, as the server receives it",
      labelNames: ['state'],
      registers: [r],
    });
    for (const state of UPLINK_STATES) uplinkChanges.inc({ state }, 0);
    this.supervisor.on('notification', (roomId, n) => {
      if (n.event === 'participant.uplink') {
        if (n.data.changed) uplinkChanges.inc({ state: n.data.state });
      } else if (n.event === 'participant.downlink') {
        if (n.data.from === n.data.profile) return; // an answer to a request that changed nothing
        const up = DOWNLINK_PROFILES.indexOf(n.data.profile) > DOWNLINK_PROFILES.indexOf(n.data.from);
        downlinkChanges.inc({ reason: n.data.reason, direction: up ? 'up' : 'down' });
      } else if (n.event === 'room.quality') {
        steps.inc({ direction: n.data.direction });
        qualityLevels.set(roomId, n.data.level);
      } else if (n.event === 'room.load') qualityLevels.set(roomId, n.data.qualityLevel);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const closing = this.recordingQueue?.close() ?? Promise.resolve();
    await withTimeout(closing, 1000, 'closing the metrics queue').catch(() => undefined);
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
