import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { HLS_FORWARD_MAX_BYTES } from '../../workers/protocol/cluster';
import {
  EGRESS_HLS_PLAYLIST,
  EGRESS_KEYFRAME_SECONDS,
  FINAL_EGRESS_STATES,
  type EgressState,
  type EgressTarget,
} from '../../workers/protocol/media';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config';
import { ClusterBus } from '../cluster/cluster-bus';
import { Janitor } from '../cluster/janitor.service';
import { NodeRegistry } from '../cluster/node-registry.service';
import { RoomDirectory } from '../cluster/room-directory.service';
import { SharedRecords } from '../cluster/shared-records';
import {
  ConflictError,
  LimitReachedError,
  NotFoundError,
  UnavailableError,
  WorkerClosedError,
  WorkerTimeoutError,
} from '../common/errors';
import { Logger } from '../common/logger';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { ABANDONED_STOP_ATTEMPTS, ABANDONED_STOP_MS, type MediaWorker } from '../media/media-worker';
import { RedisService } from '../redis/redis.module';
import { RoomsService } from '../rooms/rooms.service';
import { SessionsService } from '../rooms/sessions.service';
import { WebhooksService } from '../webhooks/webhooks.service';
import { HlsForwardCache } from './hls-forward-cache';
import {
  EGRESS_ID_PATTERN,
  HLS_FILE_PATTERN,
  HLS_TOKEN_PATTERN,
  type EgressView,
  type StartEgressBody,
} from './egress.schemas';

/** A sliding live playlist of this many segments (12 s at 2 s segments). */
const HLS_LIST_SIZE = 6;
/** Finished egresses stay listed this long (then GET /api/egress/:id is 404). */
const KEEP_FINISHED_MS = 24 * 3600 * 1000;
/**
 * HLS files fetched from the hosting node and kept here: a segment never changes (kept until
 * evicted), a playlist for as long as its Cache-Control lets a CDN keep it (1 s). Enough for
 * the live windows of a few egresses, so that N viewers on this node cost one forward each.
 */
const HLS_CACHE_ENTRIES = 64;
const HLS_PLAYLIST_CACHE_MS = 1000;
/** Bus and Redis time on top of the hosting node's media worker request. */
const FORWARD_MARGIN_MS = 5000;

/** Where an HLS file is: on this node's disk, or its bytes fetched from the hosting node. */
export type HlsFile = { path: string } | { data: Buffer };

interface EgressRecord {
  view: EgressView;
  /** HLS: the unguessable path segment and the folder it maps to. */
  hlsToken: string | null;
  hlsDir: string | null;
  retention: NodeJS.Timeout | null;
  finishedAt: number;
}

/**
 * Live egress rules: start/stop a room's RTMP and HLS outputs in its media worker, follow their
 * states (webhook `egress.updated` per change), serve HLS files by their unguessable token and
 * remove them EGRESS_HLS_RETENTION_S after the egress ended.
 *
 * The node hosting the room owns its egresses, in memory: an egress exists only as long as its
 * room's media worker, which that node supervises, so there is nothing to recover after a
 * restart. In a cluster (docs/scale-out.md, "Egress and ingress"), the REST calls of any node
 * are forwarded to the owner over the ClusterBus (`egress.start`, `egress.stop`), every record
 * is mirrored to Redis (SharedRecords) so that GET /api/egress answers anywhere, HLS reads are
 * forwarded to the owner (`egress.hlsFile`, cached here), and the egresses of a node that dies
 * become `failed` (the janitor's `rooms-lost`, announced once).
 */
@Injectable()
export class EgressService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('egress');
  private readonly records = new Map<string, EgressRecord>();
  private readonly byToken = new Map<string, EgressRecord>();
  private readonly shared: SharedRecords<EgressView>;
  /** `${prefix}egress-hls`: HLS token → egress id, while its files are served. */
  private readonly tokenKey: string;
  private readonly hlsCache = new HlsForwardCache({
    maxEntries: HLS_CACHE_ENTRIES,
    playlistMs: HLS_PLAYLIST_CACHE_MS,
    isPlaylist: (file) => file === EGRESS_HLS_PLAYLIST,
  });

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly supervisor: MediaSupervisor,
    private readonly rooms: RoomsService,
    private readonly sessions: SessionsService,
    private readonly webhooks: WebhooksService,
    private readonly directory: RoomDirectory,
    private readonly bus: ClusterBus,
    private readonly janitor: Janitor,
    private readonly registry: NodeRegistry,
    private readonly redis: RedisService,
  ) {
    this.shared = new SharedRecords(redis.client, config.redisKeyPrefix, 'egress', this.log);
    this.tokenKey = `${config.redisKeyPrefix}egress-hls`;
  }

  private get clustered(): boolean {
    return this.config.node.clustered;
  }

  /**
   * A forwarded start or stop waits for the host's own request to its media worker: longer than
   * that request's timeout, so the host's answer (success or its timeout error) always arrives
   * rather than this node giving up while the host goes on.
   */
  private get forwardTimeoutMs(): number {
    return this.config.media.requestTimeoutMs + FORWARD_MARGIN_MS;
  }

  async onModuleInit(): Promise<void> {
    await this.removeLeftovers();
    // The hosting node's side of the calls other nodes forward.
    this.bus.handle('egress.start', ({ roomId, body }) => this.startHere(roomId, body));
    this.bus.handle('egress.stop', ({ egressId }) => this.stopHere(egressId));
    this.bus.handle('egress.hlsFile', async ({ token, file }) => {
      const p = await this.localHlsFile(token, file);
      const st = await fs.stat(p).catch(() => null);
      if (!st) throw new NotFoundError('no such HLS file');
      if (st.size > HLS_FORWARD_MAX_BYTES)
        throw new UnavailableError(
          `HLS file of ${st.size} bytes is too large to forward; route /hls to its node`,
        );
      const data = await fs.readFile(p).catch(() => null);
      if (!data) throw new NotFoundError('no such HLS file');
      return { base64: data.toString('base64') };
    });
    // Once per cluster (the node that cleaned up after the lost node).
    this.janitor.on('rooms-lost', (nodeId, _rooms, lost) => {
      this.failLost(nodeId, lost.bootId).catch((err) =>
        this.log.error('failing the egresses of a lost node failed', { nodeId, err }),
      );
    });
    // The shared copies of live egresses are written again every registry tick: a write lost
    // to a Redis blip (or a Redis that restarted empty) is repaired within NODE_REFRESH_MS.
    if (this.clustered)
      this.registry.onTick(async () => {
        for (const r of this.records.values()) if (!FINAL_EGRESS_STATES.includes(r.view.state)) this.save(r);
      });
    this.supervisor.on('notification', (roomId, n) => {
      if (n.event !== 'egress.state') return;
      const r = this.records.get(n.data.egressId);
      if (r && r.view.roomId === roomId) this.setState(r, n.data.state, n.data.error);
    });
    this.supervisor.on('died', (roomId, reason) => {
      for (const r of this.liveIn(roomId)) this.setState(r, 'failed', `media worker ${reason}`);
    });
    this.sessions.on('session-ended', (roomId) => {
      // The room's worker lingers for MEDIA_IDLE_TIMEOUT_MS: its encodes stop now, not then.
      for (const r of this.liveIn(roomId))
        this.stop(r.view.id).catch((err) =>
          this.log.warn('stopping an egress at room end failed', { roomId, egressId: r.view.id, err }),
        );
    });
  }

  onApplicationShutdown(): void {
    // The workers (and their ffmpeg processes) are stopped by the supervisor.
    for (const r of this.records.values()) if (r.retention) clearTimeout(r.retention);
  }

  /** The node hosting a room when it is another one than this (cluster only), else null. */
  private async remoteHost(roomId: string): Promise<string | null> {
    if (!this.clustered) return null;
    const host = await this.directory.hostOf(roomId);
    return host && host !== this.directory.selfId ? host : null;
  }

  async start(roomId: string, body: StartEgressBody): Promise<EgressView> {
    await this.rooms.room(roomId); // 404 for an unknown room
    const host = await this.remoteHost(roomId);
    // The encode runs in the room's media worker: on the hosting node, which owns the egress.
    if (host) return this.bus.request(host, 'egress.start', { roomId, body }, this.forwardTimeoutMs);
    return this.startHere(roomId, body);
  }

  private async startHere(roomId: string, body: StartEgressBody): Promise<EgressView> {
    await this.rooms.room(roomId);
    const worker = this.supervisor.get(roomId);
    if (!worker)
      throw new ConflictError(`room ${roomId} has no live session; egress starts when someone is in it`);
    const live = this.liveIn(roomId).length;
    if (live >= this.config.egress.maxPerRoom)
      throw new LimitReachedError(
        `room ${roomId} already has ${live} egresses (MAX_EGRESS_PER_ROOM=${this.config.egress.maxPerRoom})`,
      );
    const id = `eg_${randomBytes(9).toString('base64url')}`;
    const profile = body.profile ?? this.config.recording.profile;
    const layout = body.layout ?? null;
    let target: EgressTarget;
    let hlsToken: string | null = null;
    let hlsDir: string | null = null;
    if (body.type === 'rtmp') {
      target = { type: 'rtmp', url: body.url, reconnectSeconds: this.config.egress.rtmpReconnectSeconds };
    } else {
      hlsToken = randomBytes(24).toString('base64url');
      hlsDir = path.join(this.config.egress.hlsDir, id);
      target = { type: 'hls', dir: hlsDir, segmentSeconds: EGRESS_KEYFRAME_SECONDS, listSize: HLS_LIST_SIZE };
    }
    const view: EgressView = {
      id,
      roomId,
      type: body.type,
      state: 'starting',
      profile,
      layout,
      ...(body.type === 'rtmp'
        ? { url: body.url }
        : { playlistUrl: `/hls/${hlsToken}/${EGRESS_HLS_PLAYLIST}` }),
      error: null,
      createdAt: new Date().toISOString(),
      endedAt: null,
    };
    const record: EgressRecord = { view, hlsToken, hlsDir, retention: null, finishedAt: 0 };
    this.prune();
    this.records.set(id, record);
    if (hlsToken) this.byToken.set(hlsToken, record);
    this.publish(record);
    try {
      await worker.request('egress.start', { egressId: id, profile, layout, target });
    } catch (err) {
      this.log.error('egress could not start', { roomId, egressId: id, err });
      this.setState(record, 'failed', `could not start: ${(err as Error).message}`);
      // No answer in time: the worker may still carry the start out when it catches up.
      if (err instanceof WorkerTimeoutError) this.abandon(worker, roomId, id);
      throw err;
    }
    this.log.info('egress started', { roomId, egressId: id, type: body.type, profile, layout });
    return { ...record.view };
  }

  /**
   * A start given up on is followed by a stop of that id, so that an encode the worker starts
   * late does not stream on under a `failed` egress nobody can stop (found for recordings by the
   * soak benchmark; egress has the same shape). IPC keeps the order, so the stop reaches the
   * worker after the start: it stops a running egress, cancels one whose encode is still
   * starting, or finds none (NotFoundError: the start failed there too). Sent again while
   * unanswered, a bounded number of times.
   */
  private abandon(worker: MediaWorker, roomId: string, egressId: string): void {
    const log = this.log.child({ roomId, egressId });
    const attempt = async (n: number): Promise<void> => {
      try {
        await worker.request('egress.stop', { egressId }, ABANDONED_STOP_MS);
        log.warn('the media worker had begun an egress start given up on; it is stopped');
      } catch (err) {
        if (err instanceof NotFoundError)
          log.warn('an egress start given up on never ran in the media worker');
        else if (err instanceof WorkerClosedError)
          log.warn('the media worker of an egress start given up on is gone');
        else if (n < ABANDONED_STOP_ATTEMPTS) {
          log.warn('no answer to the stop of an abandoned egress start; sending it again', { err });
          await attempt(n + 1);
        } else log.error('the stop of an abandoned egress start was never answered', { err });
      }
    };
    attempt(1).catch((err) => log.error('stopping an abandoned egress start failed', { err }));
  }

  async stop(id: string): Promise<EgressView> {
    if (this.records.has(id) || !this.clustered) return this.stopHere(id);
    const shared = await this.shared.get(id);
    if (!shared) throw new NotFoundError(`egress ${id} not found`);
    if (FINAL_EGRESS_STATES.includes(shared.view.state))
      throw new ConflictError(`egress ${id} is already ${shared.view.state}`);
    // Owned by a node that restarted under the same id: its encodes ended with it.
    if (shared.node === this.directory.selfId)
      throw new ConflictError(`egress ${id} ended with a previous run of this node`);
    return this.bus.request(shared.node, 'egress.stop', { egressId: id }, this.forwardTimeoutMs);
  }

  private async stopHere(id: string): Promise<EgressView> {
    const r = this.record(id);
    if (FINAL_EGRESS_STATES.includes(r.view.state))
      throw new ConflictError(`egress ${id} is already ${r.view.state}`);
    const worker = this.supervisor.get(r.view.roomId);
    if (worker) {
      try {
        await worker.request('egress.stop', { egressId: id });
      } catch (err) {
        // Already gone in the worker (it failed a moment ago): its notification decides the state.
        this.log.warn('egress stop request failed', { egressId: id, roomId: r.view.roomId, err });
      }
    }
    this.setState(r, 'stopped', null);
    return { ...r.view };
  }

  async get(id: string): Promise<EgressView> {
    const local = this.records.get(id);
    if (local) return { ...local.view };
    const shared = this.clustered ? await this.shared.get(id) : null;
    if (!shared) throw new NotFoundError(`egress ${id} not found`);
    return shared.view;
  }

  async list(roomId?: string): Promise<EgressView[]> {
    this.prune();
    const byId = new Map<string, EgressView>();
    if (this.clustered) {
      const before = Date.now() - KEEP_FINISHED_MS;
      const old: string[] = [];
      for (const r of await this.shared.all()) {
        if (r.view.endedAt && Date.parse(r.view.endedAt) < before) old.push(r.view.id);
        else byId.set(r.view.id, r.view);
      }
      await this.shared.remove(old);
    }
    // This node's own records are the freshest (their Redis copy is written after the change).
    for (const r of this.records.values()) byId.set(r.view.id, { ...r.view });
    return [...byId.values()]
      .filter((v) => !roomId || v.roomId === roomId)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
  }

  /**
   * The file behind /hls/:token/:file, or NotFoundError (unknown token, expired, bad name). In a
   * cluster, an egress owned by another node: its bytes, forwarded by that node over the bus.
   */
  async hlsFile(token: string, file: string): Promise<HlsFile> {
    if (!HLS_TOKEN_PATTERN.test(token) || !HLS_FILE_PATTERN.test(file))
      throw new NotFoundError('no such HLS file');
    if (this.byToken.has(token) || !this.clustered) return { path: await this.localHlsFile(token, file) };
    const egressId = await this.redis.client.hget(this.tokenKey, token);
    const shared = egressId ? await this.shared.get(egressId) : null;
    if (!shared || shared.node === this.directory.selfId) throw new NotFoundError('no such HLS file');
    return { data: await this.forwardedHlsFile(shared.node, token, file) };
  }

  private forwardedHlsFile(node: string, token: string, file: string): Promise<Buffer> {
    return this.hlsCache.get(token, file, async () => {
      const { base64 } = await this.bus.request(node, 'egress.hlsFile', { token, file });
      return Buffer.from(base64, 'base64');
    });
  }

  /** An HLS file of an egress of this node, on this node's disk. */
  private async localHlsFile(token: string, file: string): Promise<string> {
    const r = HLS_TOKEN_PATTERN.test(token) ? this.byToken.get(token) : undefined;
    if (!r || !r.hlsDir || !HLS_FILE_PATTERN.test(file)) throw new NotFoundError('no such HLS file');
    const p = path.join(r.hlsDir, file);
    try {
      await fs.access(p);
    } catch {
      throw new NotFoundError('no such HLS file');
    }
    return p;
  }

  private record(id: string): EgressRecord {
    const r = this.records.get(id);
    if (!r) throw new NotFoundError(`egress ${id} not found`);
    return r;
  }

  private liveIn(roomId: string): EgressRecord[] {
    return [...this.records.values()].filter(
      (r) => r.view.roomId === roomId && !FINAL_EGRESS_STATES.includes(r.view.state),
    );
  }

  private setState(r: EgressRecord, state: EgressState, error: string | null): void {
    const v = r.view;
    if (v.state === state || FINAL_EGRESS_STATES.includes(v.state)) return;
    v.state = state;
    if (error !== null || state === 'active') v.error = error;
    const log = { roomId: v.roomId, egressId: v.id, type: v.type, state, error };
    if (state === 'failed') this.log.error('egress failed', log);
    else this.log.info('egress state', log);
    if (FINAL_EGRESS_STATES.includes(state)) {
      v.endedAt = new Date().toISOString();
      r.finishedAt = Date.now();
      if (r.hlsDir) this.scheduleHlsRemoval(r);
    }
    this.publish(r);
  }

  private publish(r: EgressRecord): void {
    const v = r.view;
    this.save(r);
    this.webhooks.publish('egress.updated', {
      roomId: v.roomId,
      egressId: v.id,
      type: v.type,
      state: v.state,
      error: v.error,
    });
  }

  /** Mirrors a record (and its HLS token while its files are served) to the cluster's Redis. */
  private save(r: EgressRecord): void {
    if (!this.clustered) return;
    const v = r.view;
    this.shared.put({
      node: this.directory.selfId,
      bootId: this.directory.selfBootId,
      view: { ...v },
      hlsToken: r.hlsToken,
    });
    if (r.hlsToken && r.retention === null && !FINAL_EGRESS_STATES.includes(v.state))
      this.redis.client
        .hset(this.tokenKey, r.hlsToken, v.id)
        .catch((err: unknown) => this.log.warn('could not index an HLS token', { egressId: v.id, err }));
  }

  /** Viewers may finish the last segments; then the playlist is 404 and the files are removed. */
  private scheduleHlsRemoval(r: EgressRecord): void {
    const t = setTimeout(() => {
      r.retention = null;
      if (r.hlsToken) {
        this.byToken.delete(r.hlsToken);
        if (this.clustered) this.redis.client.hdel(this.tokenKey, r.hlsToken).catch(() => undefined);
      }
      const dir = r.hlsDir;
      if (dir)
        fs.rm(dir, { recursive: true, force: true }).catch((err) =>
          this.log.warn('could not remove HLS files', { egressId: r.view.id, err }),
        );
    }, this.config.egress.hlsRetentionSeconds * 1000);
    t.unref();
    r.retention = t;
  }

  /**
   * A node died with its rooms: its live egresses are over, their HLS files gone with its disk.
   * Each becomes `failed` in the shared records, announced once (publishOnce) even if another
   * node's janitor got here too.
   */
  private async failLost(nodeId: string, bootId: string): Promise<void> {
    const endedAt = new Date().toISOString();
    for (const r of await this.shared.all()) {
      if (r.node !== nodeId || r.bootId !== bootId || FINAL_EGRESS_STATES.includes(r.view.state)) continue;
      const error = `media node ${nodeId} was lost`;
      const view: EgressView = { ...r.view, state: 'failed', error, endedAt };
      this.shared.put({ ...r, view });
      if (r.hlsToken) await this.redis.client.hdel(this.tokenKey, r.hlsToken);
      this.log.error('egress failed', { roomId: view.roomId, egressId: view.id, nodeId, error });
      await this.webhooks.publishOnce(`${view.id}:node-lost`, 'egress.updated', {
        roomId: view.roomId,
        egressId: view.id,
        type: view.type,
        state: 'failed',
        error,
      });
    }
  }

  /** HLS folders of a previous run: their tokens died with it, nobody can fetch them. */
  private async removeLeftovers(): Promise<void> {
    const dir = this.config.egress.hlsDir;
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (EGRESS_ID_PATTERN.test(name)) await fs.rm(path.join(dir, name), { recursive: true, force: true });
    }
  }

  private prune(): void {
    const before = Date.now() - KEEP_FINISHED_MS;
    for (const [id, r] of this.records) {
      if (r.finishedAt !== 0 && r.finishedAt < before && !r.retention) this.records.delete(id);
    }
  }
}
