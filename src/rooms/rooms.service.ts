import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import {
  ConflictError,
  LimitReachedError,
  ParticipantNotFoundError,
  RoomFullError,
  RoomNotFoundError,
  UnprocessableError,
} from '../common/errors';
import { Logger } from '../common/logger';
import { TokenService, type IssuedToken } from '../auth/token.service';
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

/** The rules behind the rooms REST API: configuration in Redis, live state in SessionsService. */
@Injectable()
export class RoomsService {
  private readonly log = new Logger('rooms');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: RoomsRepository,
    private readonly sessions: SessionsService,
    private readonly supervisor: MediaSupervisor,
    private readonly tokens: TokenService,
  ) {}

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
    return (await this.repo.list()).map((r) => {
      const live = this.sessions.live(r.id);
      return { ...r, active: live.active, participantCount: live.total };
    });
  }

  async get(id: string): Promise<RoomDetail> {
    const room = await this.room(id);
    const live = this.sessions.live(id);
    return {
      ...room,
      active: live.active,
      activeSpeakerId: live.activeSpeakerId,
      participants: this.sessions.participants(id),
    };
  }

  async update(id: string, body: UpdateRoomBody): Promise<Room> {
    const room = await this.room(id);
    if (
      body.pinnedParticipantId &&
      !this.sessions.participants(id).some((p) => p.participantId === body.pinnedParticipantId)
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
    if (layoutChanged) await this.sessions.applyLayout(next);
    return next;
  }

  /** Ends the session for everyone, stops the room's worker (and with it any recording), forgets the room. */
  async delete(id: string): Promise<void> {
    await this.room(id);
    // Deleted first, so that a join racing this call finds no room.
    if (!(await this.repo.delete(id))) throw new RoomNotFoundError(`room ${id} does not exist`);
    this.sessions.endRoom(id, 'deleted', `room ${id} was deleted`);
    await this.supervisor.stop(id);
    this.log.info('room deleted', { roomId: id });
  }

  async issueToken(id: string, body: CreateTokenBody): Promise<IssuedToken> {
    const room = await this.room(id);
    const live = this.sessions.live(id);
    const rejoin = this.sessions.hasIdentity(id, body.identity);
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
    return this.sessions.participants(id);
  }

  async kick(id: string, participantId: string): Promise<void> {
    await this.room(id);
    await this.sessions.kick(id, participantId);
  }

  async setMuted(
    id: string,
    participantId: string,
    kind: 'audio' | 'video',
    muted: boolean,
  ): Promise<ParticipantInfo> {
    await this.room(id);
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
