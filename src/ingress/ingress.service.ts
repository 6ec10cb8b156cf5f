import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import {
  RtmpPublishServer,
  type PublishDecision,
  type PublisherHandle,
} from '../../workers/kernel/rtmp/rtmp-server';
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
  UnprocessableError,
} from '../common/errors';
import { Logger } from '../common/logger';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { RedisService } from '../redis/redis.module';
import { RoomsService } from '../rooms/rooms.service';
import { SessionsService } from '../rooms/sessions.service';
import { PULL_SCHEMES, type IngressView, type StartIngressBody } from './ingress.schemas';

/** The RTMP application publishers push to: rtmp://host:port/live/<key>. */
const RTMP_APP = 'live';
/** Bytes the relay may hold for a worker that does not read (~10 s at 6 Mbit/s). */
const MAX_RELAY_BUFFER = 8 * 1024 * 1024;
/** Ended ingresses stay listed in a cluster's shared records this long. */
const KEEP_FINISHED_MS = 24 * 3600 * 1000;
const isFinal = (state: IngressView['state']): boolean => state === 'ended' || state === 'failed';

interface IngressRecord {
  view: IngressView;
  streamKey: string;
  /** The worker's loopback port that takes the FLV. */
  port: number;
  publisher: PublisherHandle | null;
}

/**
 * RTMP ingest: each ingress is a participant of its room (role `ingress`, in the roster, mixed,
 * mutable, kickable) whose stream a publisher pushes to this node's RTMP port. The RTMP server
 * here checks the stream key before taking any media, then relays the stream, still encoded
 * (FLV), to the room's media worker over loopback, where ffmpeg decodes it into the engine.
 * Like signaling, this is a relay: nothing is decoded in the control plane (docs/ingress.md).
 *
 * State is in memory, as for egress: an ingress lives as long as its room's session on the node
 * hosting the room, which owns it. In a cluster (docs/scale-out.md, "Egress and ingress") a
 * REST call on any node is forwarded there (`ingress.start` places the room first, as a join
 * does; `ingress.remove`), so the RTMP URL returned names the hosting node's RTMP_PUBLIC_HOST
 * and port, where the publisher must push; records are mirrored to Redis for GET from any node,
 * and those of a node that dies become `failed`.
 */
@Injectable()
export class IngressService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('ingress');
  private readonly records = new Map<string, IngressRecord>();
  private readonly byKey = new Map<string, IngressRecord>();
  private rtmp: RtmpPublishServer | null = null;
  private readonly shared: SharedRecords<IngressView>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly supervisor: MediaSupervisor,
    private readonly rooms: RoomsService,
    private readonly sessions: SessionsService,
    private readonly directory: RoomDirectory,
    private readonly bus: ClusterBus,
    private readonly janitor: Janitor,
    private readonly registry: NodeRegistry,
    redis: RedisService,
  ) {
    this.shared = new SharedRecords(redis.client, config.redisKeyPrefix, 'ingress', this.log);
  }

  private get clustered(): boolean {
    return this.config.node.clustered;
  }

  async onModuleInit(): Promise<void> {
    // The hosting node's side of the calls other nodes forward.
    this.bus.handle('ingress.start', ({ roomId, body }) => this.startHere(roomId, body));
    this.bus.handle('ingress.remove', ({ ingressId }) => this.removeHere(ingressId));
    this.janitor.on('rooms-lost', (nodeId, _rooms, lost) => {
      this.failLost(nodeId, lost.bootId).catch((err) =>
        this.log.error('failing the ingresses of a lost node failed', { nodeId, err }),
      );
    });
    // Live records are written again every registry tick (a write lost to a Redis blip).
    if (this.clustered)
      this.registry.onTick(async () => {
        for (const r of this.records.values()) if (!isFinal(r.view.state)) this.save(r);
      });
    this.sessions.on('session-ended', (roomId) => {
      for (const r of this.records.values()) if (r.view.roomId === roomId) this.end(r, 'room ended');
    });
    this.sessions.on('participant-left', (roomId, participantId) => {
      // Kicked through the participants API (or replaced): the ingress ends with its participant.
      for (const r of this.records.values())
        if (r.view.roomId === roomId && r.view.participantId === participantId)
          this.end(r, 'participant left');
    });
    const port = this.config.ingress.rtmpPort;
    if (port === 0) return;
    this.rtmp = new RtmpPublishServer({
      logger: this.log,
      onPublish: (app, key, remote, publisher) => this.onPublish(app, key, remote, publisher),
    });
    // A port that cannot be bound stops the boot, as the HTTP port does; a second node on the
    // same machine needs its own RTMP_PORT (or 0), so the message names the setting.
    await this.rtmp.listen(port, this.config.host).catch((err: unknown) => {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(
        `RTMP ingest cannot listen on RTMP_PORT=${port} (${why}); set another RTMP_PORT, or 0 to turn RTMP ingest off`,
      );
    });
    this.log.info('RTMP ingest listening', { port, host: this.config.host });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.rtmp?.close();
  }

  async start(roomId: string, body: StartIngressBody): Promise<IngressView> {
    if (this.clustered) {
      await this.rooms.room(roomId); // 404 for an unknown room
      // The ingress joins the room, which starts it if nobody is in it: placed like a join.
      const host = await this.directory.place(roomId);
      if (host !== this.directory.selfId) {
        const { workerStartTimeoutMs, requestTimeoutMs } = this.config.media;
        return this.bus.request(
          host,
          'ingress.start',
          { roomId, body },
          workerStartTimeoutMs + 3 * requestTimeoutMs,
        );
      }
    }
    return this.startHere(roomId, body);
  }

  /** Creates the ingress on this node, which hosts (or now starts) the room. */
  private async startHere(roomId: string, body: StartIngressBody): Promise<IngressView> {
    if (body.type === 'rtmp' && !this.rtmp)
      throw new UnavailableError('RTMP ingest is off on this server (RTMP_PORT=0)');
    // A bad source is refused before anyone joins the room.
    const source = body.type === 'url' ? await this.pullSource(body.url) : null;
    if (body.type === 'url' && body.rtspTransport && !/^rtsps?:/i.test(body.url))
      throw new UnprocessableError('rtspTransport: only for rtsp:// and rtsps:// sources');
    await this.rooms.room(roomId); // 404 for an unknown room
    const live = [...this.records.values()].filter(
      (r) => r.view.roomId === roomId && r.view.state !== 'ended',
    );
    if (live.length >= this.config.ingress.maxPerRoom)
      throw new LimitReachedError(
        `room ${roomId} already has ${live.length} ingresses (MAX_INGRESS_PER_ROOM=${this.config.ingress.maxPerRoom})`,
      );
    const id = `in_${randomBytes(9).toString('base64url')}`;
    const streamKey = randomBytes(24).toString('base64url');
    // Joining starts the room's session (and worker) if nobody was in it: the ingress is a participant.
    const joined = await this.sessions.join(roomId, {
      identity: id,
      displayName: body.displayName,
      role: 'ingress',
      connectionId: `ingress:${id}`,
    });
    const participantId = joined.participantId;
    let port = 0;
    try {
      const worker = this.sessions.worker(roomId);
      if (source) {
        await worker.request('ingress.pull', {
          participantId,
          url: source.url,
          realtime: source.realtime,
          loop: body.type === 'url' && body.loop === true,
          rtspTransport: (body.type === 'url' && body.rtspTransport) || null,
        });
      } else {
        port = (await worker.request('ingress.listen', { participantId })).port;
      }
    } catch (err) {
      await this.sessions.leave(roomId, participantId).catch(() => undefined);
      throw err;
    }
    const { rtmpPublicHost, rtmpPort } = this.config.ingress;
    const view: IngressView = {
      id,
      roomId,
      type: body.type,
      displayName: body.displayName,
      participantId,
      url: body.type === 'url' ? body.url : `rtmp://${rtmpPublicHost}:${rtmpPort}/${RTMP_APP}/${streamKey}`,
      ...(body.type === 'url' ? { loop: body.loop === true } : {}),
      ...(body.type === 'url' && body.rtspTransport ? { rtspTransport: body.rtspTransport } : {}),
      state: source ? 'publishing' : 'waiting',
      createdAt: new Date().toISOString(),
    };
    const record: IngressRecord = { view, streamKey, port, publisher: null };
    this.records.set(id, record);
    this.save(record);
    if (!source) this.byKey.set(streamKey, record);
    this.log.info('ingress created', { roomId, ingressId: id, participantId, type: body.type });
    return { ...view };
  }

  /**
   * What ffmpeg may pull: rtsp(s), srt and http(s) URLs with a host, or a regular file inside
   * INGRESS_FILES_DIR (after resolving `..` and symbolic links). Anything else is 422.
   */
  private async pullSource(raw: string): Promise<{ url: string; realtime: boolean }> {
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(raw)?.[1].toLowerCase();
    if (scheme) {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new UnprocessableError(`url: not a valid URL`);
      }
      if (!(PULL_SCHEMES as readonly string[]).includes(u.protocol) || !u.hostname)
        throw new UnprocessableError(`url: must be rtsp://, srt://, http(s):// with a host, or a file path`);
      // ffmpeg gets the URL as parsed and checked here (`http:///x` is `http://x/` to the WHATWG
      // parser; ffmpeg would read it differently). Files over HTTP (MP4, HLS) would be read as
      // fast as the network allows: pace them.
      return { url: u.href, realtime: u.protocol === 'http:' || u.protocol === 'https:' };
    }
    const dir = this.config.ingress.filesDir;
    if (!dir) throw new UnprocessableError('url: file ingest is off (INGRESS_FILES_DIR is not set)');
    const realDir = await fs.realpath(dir).catch(() => dir);
    const inside = (p: string): boolean => p.startsWith(realDir + path.sep);
    const real = await fs.realpath(path.resolve(realDir, raw)).catch(() => null);
    if (!real || !inside(real)) throw new UnprocessableError('url: no such file in INGRESS_FILES_DIR');
    if (!(await fs.stat(real)).isFile()) throw new UnprocessableError('url: not a regular file');
    return { url: real, realtime: true };
  }

  /** An ingress of this node (tests watch its state in-process). */
  get(id: string): IngressView {
    return { ...this.record(id).view };
  }

  /** An ingress of any node of the cluster (REST). */
  async find(id: string): Promise<IngressView> {
    const local = this.records.get(id);
    if (local) return { ...local.view };
    const shared = this.clustered ? await this.shared.get(id) : null;
    if (!shared) throw new NotFoundError(`ingress ${id} not found`);
    return shared.view;
  }

  async list(roomId?: string): Promise<IngressView[]> {
    const byId = new Map<string, IngressView>();
    if (this.clustered) {
      const before = Date.now() - KEEP_FINISHED_MS;
      const old: string[] = [];
      for (const r of await this.shared.all()) {
        if (r.finishedAt !== undefined && r.finishedAt < before) old.push(r.view.id);
        else byId.set(r.view.id, r.view);
      }
      await this.shared.remove(old);
    }
    for (const r of this.records.values()) byId.set(r.view.id, { ...r.view });
    return [...byId.values()]
      .filter((v) => !roomId || v.roomId === roomId)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
  }

  /** Ends the ingress: its publisher is disconnected and its participant leaves the room. */
  async remove(id: string): Promise<IngressView> {
    if (this.records.has(id) || !this.clustered) return this.removeHere(id);
    const shared = await this.shared.get(id);
    if (!shared) throw new NotFoundError(`ingress ${id} not found`);
    if (isFinal(shared.view.state)) throw new ConflictError(`ingress ${id} has already ${shared.view.state}`);
    if (shared.node === this.directory.selfId)
      throw new ConflictError(`ingress ${id} ended with a previous run of this node`);
    // The host's leave may wait on its media worker (MEDIA_REQUEST_TIMEOUT_MS).
    return this.bus.request(
      shared.node,
      'ingress.remove',
      { ingressId: id },
      this.config.media.requestTimeoutMs + 5000,
    );
  }

  private async removeHere(id: string): Promise<IngressView> {
    const r = this.record(id);
    if (r.view.state === 'ended') throw new ConflictError(`ingress ${id} has already ended`);
    this.end(r, 'deleted');
    await this.sessions.leave(r.view.roomId, r.view.participantId);
    return { ...r.view };
  }

  private end(r: IngressRecord, reason: string): void {
    if (r.view.state === 'ended') return;
    r.view.state = 'ended';
    this.byKey.delete(r.streamKey);
    r.publisher?.close(reason);
    r.publisher = null;
    this.save(r);
    this.log.info('ingress ended', { roomId: r.view.roomId, ingressId: r.view.id, reason });
  }

  /** Mirrors a change to the cluster's shared records. */
  private save(r: IngressRecord): void {
    if (!this.clustered) return;
    const finishedAt = isFinal(r.view.state) ? Date.now() : undefined;
    this.shared.put({
      node: this.directory.selfId,
      bootId: this.directory.selfBootId,
      view: { ...r.view },
      finishedAt,
    });
  }

  /** A node died with its rooms: its ingresses are over (their participants left with it). */
  private async failLost(nodeId: string, bootId: string): Promise<void> {
    for (const r of await this.shared.all()) {
      if (r.node !== nodeId || r.bootId !== bootId || isFinal(r.view.state)) continue;
      const error = `media node ${nodeId} was lost`;
      this.shared.put({ ...r, view: { ...r.view, state: 'failed', error }, finishedAt: Date.now() });
      this.log.error('ingress failed', { roomId: r.view.roomId, ingressId: r.view.id, nodeId, error });
    }
  }

  private record(id: string): IngressRecord {
    const r = this.records.get(id);
    if (!r) throw new NotFoundError(`ingress ${id} not found`);
    return r;
  }

  private onPublish(app: string, key: string, remote: string, publisher: PublisherHandle): PublishDecision {
    const r = app === RTMP_APP ? this.byKey.get(key) : undefined;
    if (!r) {
      this.log.warn('RTMP publish with an unknown stream key refused', { remote, app });
      return { refuse: 'unknown stream key' };
    }
    if (r.publisher) return { refuse: 'this ingress already has a publisher' };
    const log = this.log.child({ roomId: r.view.roomId, ingressId: r.view.id, remote });
    const relay = net.connect(r.port, '127.0.0.1');
    relay.setNoDelay(true);
    r.publisher = publisher;
    r.view.state = 'publishing';
    this.save(r);
    const ended = (why: string): void => {
      if (r.publisher !== publisher) return;
      r.publisher = null;
      if (r.view.state === 'publishing') {
        r.view.state = 'waiting';
        this.save(r);
      }
      log.info('RTMP publish ended', { why });
    };
    relay.on('error', (err) => {
      log.warn('ingress relay to the media worker failed', { err });
      publisher.close('media worker unreachable');
      ended('relay failed');
    });
    relay.on('close', () => publisher.close('relay closed'));
    log.info('RTMP publish accepted', { participantId: r.view.participantId });
    return {
      sink: {
        write: (flv) => {
          if (relay.writableLength > MAX_RELAY_BUFFER) {
            log.warn('media worker is not reading the ingest; dropping the publisher');
            publisher.close('media worker not keeping up');
            return;
          }
          relay.write(flv);
        },
        end: (why) => {
          relay.end();
          ended(why);
        },
      },
    };
  }
}
