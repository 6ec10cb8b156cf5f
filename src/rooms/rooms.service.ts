import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import {
  ConflictError,
  LimitReachedError,
  ParticipantNotFoundError,
  RoomFullError,
  RoomNotFoundError,
  UnavailableError,
  UnprocessableError,
} from '../common/errors';
import { Logger } from '../common/logger';
import type { MediaKind } from '../../workers/protocol/media';
import { TokenService, type IssuedToken } from '../auth/token.service';
import { ClusterBus } from '../cluster/cluster-bus';
import { RoomDirectory } from '../cluster/room-directory.service';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { RoomsRepository } from './rooms.repository';
import {
  ROOM_ID_PATTERN,
  type CreateRoomBody,
  type CreateTokenBody,
  type ParticipantInfo,
  type Room,
  type RoomDetail,
  type RoomSummary,
  type UpdateRoomBody,
} from './rooms.schemas';
import { SessionsService } from './sessions.service';

/** A room's live state, wherever it is hosted. */
interface LiveRoom {
  active: boolean;
  activeSpeakerId: string | null;
  publishers: number;
  participants: ParticipantInfo[];
  /** The hosting node while the room is live. */
  node: string | null;
}

/**
 * The rules behind the rooms REST API: configuration in Redis, live state in SessionsService —
 * this node's, or in a cluster the one of the node hosting the room (asked over the ClusterBus;
 * docs/scale-out.md), so that every node's REST API acts on every room.
 */
@Injectable()
export class RoomsService implements OnModuleInit {
  private readonly log = new Logger('rooms');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: RoomsRepository,
    private readonly sessions: SessionsService,
    private readonly supervisor: MediaSupervisor,
    private readonly tokens: TokenService,
    private readonly directory: RoomDirectory,
    private readonly bus: ClusterBus,
  ) {}

  /** The hosting node's side of the REST calls other nodes forward. */
  onModuleInit(): void {
    this.bus.handle('room.live', async ({ roomId }) => {
      const live = this.sessions.live(roomId);
      return { ...live, participants: this.sessions.participants(roomId) };
    });
    this.bus.handle('room.kick', async (r) => {
      await this.sessions.kick(r.roomId, r.participantId);
      return null;
    });
    this.bus.handle('room.setMuted', (r) =>
      this.sessions.setMuted(r.roomId, r.participantId, r.kind, r.muted),
    );
    this.bus.handle('room.applyLayout', async ({ roomId, ...patch }) => {
      await this.sessions.applyLayout(roomId, patch);
      return null;
    });
    this.bus.handle('room.end', async (r) => {
      this.sessions.endRoom(r.roomId, r.reason, r.message);
      await this.supervisor.stop(r.roomId);
      return null;
    });
  }

  /** The node hosting a room when it is another one than this (cluster only), else null. */
  private async remoteHost(id: string): Promise<string | null> {
    if (!this.config.node.clustered) return null;
    const host = await this.directory.hostOf(id);
    return host && host !== this.directory.selfId ? host : null;
  }

  private async live(id: string): Promise<LiveRoom> {
    const host = await this.remoteHost(id);
    if (host) {
      try {
        const r = await this.bus.request(host, 'room.live', { roomId: id });
        return { ...r, node: r.active ? host : null };
      } catch (err) {
        // Its host is gone (not listening on the bus): the room is not live anywhere; the
        // janitor releases its claim within seconds.
        if (!(err instanceof UnavailableError)) throw err;
        return { active: false, activeSpeakerId: null, publishers: 0, participants: [], node: null };
      }
    }
    const live = this.sessions.live(id);
    return {
      active: live.active,
      activeSpeakerId: live.activeSpeakerId,
      publishers: live.publishers,
      participants: this.sessions.participants(id),
      node: live.active ? this.directory.selfId : null,
    };
  }

  async create(body: CreateRoomBody): Promise<Room> {
    const max = this.config.media.maxParticipants;
    if (body.maxParticipants !== undefined && body.maxParticipants > max) {
      throw new UnprocessableError(`maxParticipants: must be at most ${max} (MEDIA_MAX_PARTICIPANTS)`);
    }
    // Counted before the write: two concurrent creates may overshoot by one, which is harmless.
    if ((await this.repo.count()) >= this.config.limits.maxRooms) {
      throw new LimitReachedError(
        `the room limit is reached (${this.config.limits.maxRooms} rooms, MAX_ROOMS)`,
      );
    }
    const now = new Date().toISOString();
    const id = body.id ?? `room_${randomBytes(6).toString('hex')}`;
    const room: Room = {
      id,
      name: body.name ?? id,
      layout: body.layout ?? this.config.media.defaultLayout,
      fit: body.fit ?? 'crop',
      pinnedParticipantId: null,
      defaultProfile: body.defaultProfile ?? this.config.media.defaultProfile,
      maxParticipants: body.maxParticipants ?? max,
      autoRecord: body.autoRecord ?? false,
      metadata: body.metadata ?? {},
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.repo.create(room))) throw new ConflictError(`room ${id} already exists`);
    this.log.info('room created', { roomId: id });
    return room;
  }

  async list(): Promise<RoomSummary[]> {
    return Promise.all(
      (await this.repo.list()).map(async (r) => {
        const live = await this.live(r.id);
        return { ...r, active: live.active, participantCount: live.participants.length };
      }),
    );
  }

  async get(id: string): Promise<RoomDetail> {
    const room = await this.room(id);
    const live = await this.live(id);
    return {
      ...room,
      active: live.active,
      activeSpeakerId: live.activeSpeakerId,
      participants: live.participants,
      node: live.node,
    };
  }

  async update(id: string, body: UpdateRoomBody): Promise<Room> {
    const room = await this.room(id);
    if (
      body.pinnedParticipantId &&
      !(await this.live(id)).participants.some((p) => p.participantId === body.pinnedParticipantId)
    ) {
      throw new UnprocessableError(
        `pinnedParticipantId: participant ${body.pinnedParticipantId} is not in room ${id}`,
      );
    }
    const next: Room = { ...room, ...body, updatedAt: new Date().toISOString() };
    if (!(await this.repo.save(next))) throw new RoomNotFoundError(`room ${id} does not exist`);
    const layoutChanged = (['layout', 'fit', 'pinnedParticipantId'] as const).some(
      (k) => next[k] !== room[k],
    );
    if (layoutChanged) {
      const patch = { layout: next.layout, fit: next.fit, pinnedParticipantId: next.pinnedParticipantId };
      const host = await this.remoteHost(id);
      if (host) await this.bus.request(host, 'room.applyLayout', { roomId: id, ...patch });
      else await this.sessions.applyLayout(id, patch);
    }
    return next;
  }

  /** Ends the session for everyone, stops the room's worker (and with it any recording), forgets the room. */
  async delete(id: string): Promise<void> {
    await this.room(id);
    // Deleted first, so that a join racing this call finds no room.
    if (!(await this.repo.delete(id))) throw new RoomNotFoundError(`room ${id} does not exist`);
    const host = await this.remoteHost(id);
    if (host)
      await this.bus.request(host, 'room.end', {
        roomId: id,
        reason: 'deleted',
        message: `room ${id} was deleted`,
      });
    else {
      this.sessions.endRoom(id, 'deleted', `room ${id} was deleted`);
      await this.supervisor.stop(id);
    }
    this.log.info('room deleted', { roomId: id });
  }

  async issueToken(id: string, body: CreateTokenBody): Promise<IssuedToken> {
    const room = await this.room(id);
    const live = await this.live(id);
    const rejoin = live.participants.some((p) => p.identity === body.identity);
    if (body.role === 'publisher' && !rejoin && live.publishers >= room.maxParticipants) {
      throw new RoomFullError(`room ${id} is full (${room.maxParticipants} publishers)`);
    }
    return this.tokens.issue({
      roomId: id,
      identity: body.identity,
      displayName: body.displayName ?? body.identity,
      role: body.role,
      ttlSeconds: body.ttlSeconds,
    });
  }

  async participants(id: string): Promise<ParticipantInfo[]> {
    await this.room(id);
    return (await this.live(id)).participants;
  }

  async kick(id: string, participantId: string): Promise<void> {
    await this.room(id);
    const host = await this.remoteHost(id);
    if (host) await this.bus.request(host, 'room.kick', { roomId: id, participantId });
    else await this.sessions.kick(id, participantId);
  }

  async setMuted(
    id: string,
    participantId: string,
    kind: MediaKind,
    muted: boolean,
  ): Promise<ParticipantInfo> {
    await this.room(id);
    const host = await this.remoteHost(id);
    if (host) return this.bus.request(host, 'room.setMuted', { roomId: id, participantId, kind, muted });
    if (!this.sessions.participants(id).some((p) => p.participantId === participantId)) {
      throw new ParticipantNotFoundError(`participant ${participantId} is not in room ${id}`);
    }
    return this.sessions.setMuted(id, participantId, kind, muted);
  }

  /** For other modules (recordings): the stored room or RoomNotFoundError. */
  async room(id: string): Promise<Room> {
    const room = ROOM_ID_PATTERN.test(id) ? await this.repo.get(id) : null;
    if (!room) throw new RoomNotFoundError(`room ${id} does not exist`);
    return room;
  }
}
