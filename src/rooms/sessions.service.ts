import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type {
  IceCandidateInit,
  MediaEvent,
  MediaNotificationMap,
  ParticipantRole,
  Profile,
  RoomMediaSettings,
} from '../../workers/protocol/media';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config';
import { BadRequestError, ParticipantNotFoundError, RoomFullError } from '../common/errors';
import { Logger } from '../common/logger';
import { MediaSupervisor } from '../media/media-supervisor.service';
import type { JoinedPayload, ParticipantView, RoomEndReason, ServerToClientEvents } from '../signaling/signaling.types';

export interface ParticipantSession {
  participantId: string;
  displayName: string;
  role: ParticipantRole;
  profile: Profile;
  /** The signaling connection that speaks for this participant. */
  connectionId: string;
  joinedAt: string;
}

interface RoomSession {
  roomId: string;
  settings: RoomMediaSettings;
  participants: Map<string, ParticipantSession>;
  activeSpeakerId: string | null;
}

type Outbound = {
  [E in keyof ServerToClientEvents]: [connectionId: string, event: E, data: Parameters<ServerToClientEvents[E]>[0]];
}[keyof ServerToClientEvents];

export interface SessionEvents {
  /** Something to deliver to one participant's signaling connection. */
  send: Outbound;
  /** The room is over for these connections (worker died, room deleted...). */
  ended: [roomId: string, connectionIds: string[], reason: RoomEndReason, message: string];
}

const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Live sessions: who is in which room and through which connection, and the bridge between
 * signaling and the room's media worker. Transport-agnostic: the gateway turns its events into
 * socket emits.
 */
@Injectable()
export class SessionsService extends EventEmitter<SessionEvents> implements OnModuleInit {
  private readonly rooms = new Map<string, RoomSession>();
  private readonly log = new Logger('sessions');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly supervisor: MediaSupervisor,
  ) {
    super();
  }

  onModuleInit(): void {
    this.supervisor.on('notification', (roomId, event, data) => this.onWorkerNotification(roomId, event, data));
    this.supervisor.on('died', (roomId, reason) =>
      this.endRoom(roomId, 'media-worker-died', `the room's media worker ${reason}; join again to restart the room`),
    );
  }

  async join(
    roomId: string,
    req: { displayName: string; role: ParticipantRole; profile?: Profile; connectionId: string },
  ): Promise<JoinedPayload> {
    if (!ROOM_ID.test(roomId)) throw new BadRequestError('roomId must be 1-64 characters of A-Z a-z 0-9 _ -');
    const displayName = String(req.displayName ?? '').trim().slice(0, 64);
    if (!displayName) throw new BadRequestError('displayName is required');
    const room = this.roomOrCreate(roomId);
    const publishers = [...room.participants.values()].filter((p) => p.role === 'publisher').length;
    if (req.role === 'publisher' && publishers >= room.settings.maxParticipants) {
      throw new RoomFullError(`room ${roomId} is full (${room.settings.maxParticipants} publishers)`);
    }
    const participant: ParticipantSession = {
      participantId: `p_${randomBytes(8).toString('hex')}`,
      displayName,
      role: req.role,
      profile: req.profile ?? this.config.media.defaultProfile,
      connectionId: req.connectionId,
      joinedAt: new Date().toISOString(),
    };
    try {
      const worker = await this.supervisor.acquire(roomId, room.settings);
      await worker.request('participant.join', {
        participantId: participant.participantId,
        displayName,
        role: participant.role,
        profile: participant.profile,
      });
    } catch (err) {
      if (room.participants.size === 0 && this.rooms.get(roomId) === room) this.rooms.delete(roomId);
      throw err;
    }
    const others = [...room.participants.values()];
    room.participants.set(participant.participantId, participant);
    for (const o of others) this.emit('send', o.connectionId, 'participant-joined', view(participant));
    this.log.info('participant joined', { roomId, participantId: participant.participantId, role: participant.role });
    return {
      participantId: participant.participantId,
      iceServers: room.settings.iceServers,
      room: {
        roomId,
        layout: room.settings.layout,
        participants: [...room.participants.values()].map(view),
        activeSpeakerId: room.activeSpeakerId,
      },
    };
  }

  async offer(roomId: string, participantId: string, sdp: string): Promise<string> {
    this.participant(roomId, participantId);
    const res = await this.worker(roomId).request('participant.offer', { participantId, sdp });
    return res.sdp;
  }

  async answer(roomId: string, participantId: string, sdp: string): Promise<void> {
    this.participant(roomId, participantId);
    await this.worker(roomId).request('participant.answer', { participantId, sdp });
  }

  async ice(roomId: string, participantId: string, candidate: IceCandidateInit | null): Promise<void> {
    this.participant(roomId, participantId);
    await this.worker(roomId).request('participant.ice', { participantId, candidate });
  }

  async setProfile(roomId: string, participantId: string, profile: Profile): Promise<void> {
    const p = this.participant(roomId, participantId);
    await this.worker(roomId).request('participant.setProfile', { participantId, profile });
    p.profile = profile;
  }

  /** Idempotent: leaving twice, or after the room ended, is not an error. */
  async leave(roomId: string, participantId: string): Promise<void> {
    const room = this.rooms.get(roomId);
    const p = room?.participants.get(participantId);
    if (!room || !p) return;
    room.participants.delete(participantId);
    for (const o of room.participants.values()) this.emit('send', o.connectionId, 'participant-left', { participantId });
    this.log.info('participant left', { roomId, participantId });
    const worker = this.supervisor.get(roomId);
    if (worker) await worker.request('participant.leave', { participantId }).catch(() => undefined);
    if (room.participants.size === 0) {
      this.rooms.delete(roomId);
      this.supervisor.scheduleIdle(roomId);
    }
  }

  listRooms(): { roomId: string; participants: ParticipantView[] }[] {
    return [...this.rooms.values()].map((r) => ({ roomId: r.roomId, participants: [...r.participants.values()].map(view) }));
  }

  private endRoom(roomId: string, reason: RoomEndReason, message: string): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    this.rooms.delete(roomId);
    const connections = [...room.participants.values()].map((p) => p.connectionId);
    this.log.warn('room ended', { roomId, reason, participants: connections.length });
    this.emit('ended', roomId, connections, reason, message);
  }

  private onWorkerNotification(roomId: string, event: MediaEvent, data: MediaNotificationMap[MediaEvent]): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    const to = (participantId: string) => room.participants.get(participantId)?.connectionId;
    switch (event) {
      case 'participant.ice': {
        const d = data as MediaNotificationMap['participant.ice'];
        const c = to(d.participantId);
        if (c) this.emit('send', c, 'ice', { candidate: d.candidate });
        return;
      }
      case 'participant.offer': {
        const d = data as MediaNotificationMap['participant.offer'];
        const c = to(d.participantId);
        if (c) this.emit('send', c, 'offer', { sdp: d.sdp });
        return;
      }
      case 'participant.connectionState': {
        const d = data as MediaNotificationMap['participant.connectionState'];
        const c = to(d.participantId);
        if (c) this.emit('send', c, 'connection-state', { state: d.state });
        return;
      }
      case 'room.activeSpeaker': {
        const d = data as MediaNotificationMap['room.activeSpeaker'];
        room.activeSpeakerId = d.participantId;
        for (const p of room.participants.values()) this.emit('send', p.connectionId, 'active-speaker', d);
        return;
      }
      case 'recording.ended':
        return;
    }
  }

  private roomOrCreate(roomId: string): RoomSession {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = {
        roomId,
        settings: {
          layout: this.config.media.defaultLayout,
          fit: 'crop',
          pinnedParticipantId: null,
          maxParticipants: this.config.media.maxParticipants,
          iceServers: [...this.config.media.iceServers],
          maxSdpBytes: 64 * 1024,
          maxIceCandidatesPerParticipant: 64,
        },
        participants: new Map(),
        activeSpeakerId: null,
      };
      this.rooms.set(roomId, room);
    }
    return room;
  }

  private participant(roomId: string, participantId: string): ParticipantSession {
    const p = this.rooms.get(roomId)?.participants.get(participantId);
    if (!p) throw new ParticipantNotFoundError(`participant ${participantId} is not in room ${roomId}`);
    return p;
  }

  private worker(roomId: string) {
    const w = this.supervisor.get(roomId);
    if (!w) throw new ParticipantNotFoundError(`room ${roomId} has no running media worker`);
    return w;
  }
}

function view(p: ParticipantSession): ParticipantView {
  return { participantId: p.participantId, displayName: p.displayName, role: p.role };
}
