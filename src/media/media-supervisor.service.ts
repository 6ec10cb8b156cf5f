import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { MediaNotification, RoomMediaSettings } from '../../workers/protocol/media';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config';
import { NodeDrainingError, UnavailableError } from '../common/errors';
import { Logger } from '../common/logger';
import { NodeStateService } from '../cluster/node-state';
import { MediaWorker } from './media-worker';
import { WorkerDeaths } from './worker-deaths';

export interface SupervisorEvents {
  /** A room's worker spoke: signaling relays it to the participant, recordings follow captures. */
  notification: [roomId: string, n: MediaNotification];
  died: [roomId: string, reason: string];
}

/**
 * Forks one media worker per room and owns their lifecycles. A worker that dies ends only its
 * room (the 'died' event lets the signaling layer tell that room's participants) and is counted
 * in mcu_worker_deaths_total; a room with nobody left is closed after an idle delay; on shutdown
 * every worker is stopped and awaited, so no process outlives the server.
 */
@Injectable()
export class MediaSupervisor extends EventEmitter<SupervisorEvents> implements OnApplicationShutdown {
  private readonly workers = new Map<string, MediaWorker>();
  private readonly starting = new Map<string, Promise<MediaWorker>>();
  private readonly idleTimers = new Map<string, NodeJS.Timeout>();
  private readonly log = new Logger('media-supervisor');
  private shuttingDown = false;
  /** Tests point this at a misbehaving worker fixture; the default is the compiled worker. */
  workerEntry: string | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deaths: WorkerDeaths,
    private readonly nodeState: NodeStateService,
  ) {
    super();
  }

  /** The running worker of a room, or undefined. */
  get(roomId: string): MediaWorker | undefined {
    const w = this.workers.get(roomId);
    return w && w.state === 'running' ? w : undefined;
  }

  /** Returns the room's worker, starting it when needed (concurrent callers share one start). */
  async acquire(roomId: string, settings: RoomMediaSettings): Promise<MediaWorker> {
    if (this.shuttingDown) throw new UnavailableError('the server is shutting down');
    this.cancelIdle(roomId);
    const running = this.get(roomId);
    if (running) return running;
    let pending = this.starting.get(roomId);
    if (!pending) {
      this.checkCanStartRoom(roomId);
      pending = this.startWorker(roomId, settings).finally(() => this.starting.delete(roomId));
      this.starting.set(roomId, pending);
    }
    return pending;
  }

  /** Called when a room has nobody left: its worker exits after the idle delay. */
  scheduleIdle(roomId: string): void {
    this.cancelIdle(roomId);
    // A draining node waits for its rooms to end: an empty one ends now, not after the delay.
    if (this.nodeState.state === 'draining') {
      this.log.info('closing an empty room worker: the node is draining', { roomId });
      void this.stop(roomId);
      return;
    }
    const t = setTimeout(() => {
      this.idleTimers.delete(roomId);
      this.log.info('closing idle room worker', { roomId });
      void this.stop(roomId);
    }, this.config.media.idleTimeoutMs);
    t.unref();
    this.idleTimers.set(roomId, t);
  }

  async stop(roomId: string): Promise<void> {
    this.cancelIdle(roomId);
    const w = this.workers.get(roomId);
    if (!w) return;
    await w.close();
    if (this.workers.get(roomId) === w) this.workers.delete(roomId);
  }

  /** Starts a throw-away worker and closes it: proves that rooms can be hosted (readiness). */
  async probe(): Promise<void> {
    const w = new MediaWorker({
      roomId: '__probe__',
      settings: defaultProbeSettings(this.config),
      entry: this.workerEntry,
      requestTimeoutMs: this.config.media.requestTimeoutMs,
      startTimeoutMs: this.config.media.workerStartTimeoutMs,
      logLevel: 'warn',
    });
    w.once('died', (d) => this.deaths.record('media', d.signal));
    await w.start();
    await w.close();
  }

  roomIds(): string[] {
    return [...this.workers.keys()];
  }

  /** Whether a room's worker is waiting out its idle delay (nobody in it). */
  isIdle(roomId: string): boolean {
    return this.idleTimers.has(roomId);
  }

  /** Workers running or starting on this node (a drain waits for none to be left). */
  get size(): number {
    return new Set([...this.workers.keys(), ...this.starting.keys()]).size;
  }

  /** Whether this node may host rooms at all (NODE_ROLES has `media`). */
  get hostsRooms(): boolean {
    return this.config.node.roles.has('media');
  }

  /** A room that is not running here may start only on an active media node. */
  private checkCanStartRoom(roomId: string): void {
    if (!this.hostsRooms)
      throw new UnavailableError(
        `node ${this.config.node.id} hosts no rooms (NODE_ROLES has no media); room ${roomId} cannot start here`,
      );
    if (this.nodeState.state === 'draining')
      throw new NodeDrainingError(
        `node ${this.config.node.id} is draining and starts no new rooms; room ${roomId} cannot start here`,
      );
  }

  workerPids(): number[] {
    return [...this.workers.values()].map((w) => w.pid).filter((p): p is number => typeof p === 'number');
  }

  async onApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const t of this.idleTimers.values()) clearTimeout(t);
    this.idleTimers.clear();
    await Promise.allSettled([...this.starting.values()]);
    await Promise.allSettled([...this.workers.values()].map((w) => w.close()));
    this.workers.clear();
  }

  private async startWorker(roomId: string, settings: RoomMediaSettings): Promise<MediaWorker> {
    const w = new MediaWorker(
      {
        roomId,
        settings,
        network: {
          announcedIp: this.config.network.announcedIp,
          portRange: this.config.network.rtcPortRange,
        },
        entry: this.workerEntry,
        requestTimeoutMs: this.config.media.requestTimeoutMs,
        startTimeoutMs: this.config.media.workerStartTimeoutMs,
        logLevel: this.config.logLevel,
      },
      (n) => this.emit('notification', roomId, n),
    );
    w.once('died', (d) => {
      this.deaths.record('media', d.signal);
      if (this.workers.get(roomId) === w) this.workers.delete(roomId);
      this.cancelIdle(roomId);
      this.emit('died', roomId, d.reason);
    });
    w.once('closed', () => {
      if (this.workers.get(roomId) === w) this.workers.delete(roomId);
    });
    this.workers.set(roomId, w);
    try {
      await w.start();
    } catch (err) {
      if (this.workers.get(roomId) === w) this.workers.delete(roomId);
      this.log.error('media worker failed to start', { roomId, err });
      throw err;
    }
    return w;
  }

  private cancelIdle(roomId: string): void {
    const t = this.idleTimers.get(roomId);
    if (t) clearTimeout(t);
    this.idleTimers.delete(roomId);
  }
}

export function defaultProbeSettings(config: AppConfig): RoomMediaSettings {
  return {
    layout: config.media.defaultLayout,
    fit: 'crop',
    pinnedParticipantId: null,
    maxParticipants: 1,
    iceServers: [],
    maxSdpBytes: 64 * 1024,
    maxIceCandidatesPerParticipant: 64,
    qualityRecoverMs: config.load.qualityRecoverMs,
    qualityShedding: config.load.qualityShedding,
    downlink: { ...config.load.downlink },
    audioOnlyStack: config.media.audioOnlyStack,
    videoEncode: config.media.videoEncode,
    avSync: config.media.avSync,
    downlinkVideoHoldMs: config.media.downlinkVideoHoldMs,
    peerVideoHoldMs: config.media.peerVideoHoldMs,
  };
}
