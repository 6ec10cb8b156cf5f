import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type {
  IceCandidateInit,
  MediaEvent,
  MediaKind,
  MediaNotificationMap,
  ParticipantRole,
  Profile,
} from '../../workers/protocol/media';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config';
import {
  ForbiddenError,
  ParticipantNotFoundError,
  PayloadTooLargeError,
  RoomNotFoundError,
} from '../common/errors';
import { Logger } from '../common/logger';
import { MediaSupervisor } from '../media/media-supervisor.service';
import type { JoinedPayload, RoomEndReason, ServerToClientEvents } from '../signaling/signaling.types';
import type { WebhookEventMap } from '../webhooks/webhook-events';
import { WebhooksService } from '../webhooks/webhooks.service';
import { RoomsRepository } from './rooms.repository';
import type { ParticipantInfo, Room } from './rooms.schemas';
import {
  checkCapacity,
  info,
  KeyedSerialQueue,
  leftOf,
  newRoomSession,
  pick,
  view,
  type ParticipantSession,
  type RoomSession,
} from './room-session';
import { sdpSendsMedia } from './sdp-direction';

type Outbound = {
  [E in keyof ServerToClientEvents]: [
    connectionId: string,
    event: E,
    data: Parameters<ServerToClientEvents[E]>[0],
  ];
}[keyof ServerToClientEvents];

export interface SessionEvents {
  /** Something to deliver to one participant's signaling connection. */
  send: Outbound;
  /** Close this signaling connection (after what was sent to it): kicked or replaced. */
  drop: [connectionId: string];
  /** The room is over for these connections (worker died, room deleted...). */
  ended: [roomId: string, connectionIds: string[], reason: RoomEndReason, message: string];
  /** Someone joined a live room (recordings adds them to the manifest's participants seen). */
  'participant-joined': [roomId: string, participant: ParticipantInfo];
  /** A room's first participant joined (recordings starts auto-record rooms on this). */
  'session-started': [room: Room];
  /** A room's session is over (last participant left, deleted, worker died, shutdown). */
  'session-ended': [roomId: string, reason: WebhookEventMap['room.ended']['reason']];
}

type LeaveReason = WebhookEventMap['participant.left']['reason'];

/**
 * Live sessions: who is in which room and through which connection, and the bridge between
 * signaling and the room's media worker. Transport-agnostic: the gateway turns its events into
 * socket emits. Joins, leaves and kicks of one room run one at a time (see serial), so a
 * reconnect racing the old connection's disconnect cannot leave two sessions for one identity.
 */
@Injectable()
export class SessionsService
  extends EventEmitter<SessionEvents>
  implements OnModuleInit, BeforeApplicationShutdown
{
  private readonly rooms = new Map<string, RoomSession>();
  private readonly locks = new KeyedSerialQueue();
  private readonly log = new Logger('sessions');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly supervisor: MediaSupervisor,
    private readonly repo: RoomsRepository,
    private readonly webhooks: WebhooksService,
  ) {
    super();
  }

  onModuleInit(): void {
    this.supervisor.on('notification', (roomId, event, data) =>
      this.onWorkerNotification(roomId, event, data),
    );
    this.supervisor.on('died', (roomId, reason) =>
      this.endRoom(
        roomId,
        'media-worker-died',
        `the room's media worker ${reason}; join again to restart the room`,
      ),
    );
  }

  beforeApplicationShutdown(): void {
    for (const roomId of [...this.rooms.keys()])
      this.endRoom(roomId, 'server-shutdown', 'the server is shutting down');
  }

  /** Joins `identity` to a room that exists; the same identity joining again replaces its old session. */
  join(
    roomId: string,
    req: {
      identity: string;
      displayName: string;
      role: ParticipantRole;
      profile?: Profile;
      connectionId: string;
    },
  ): Promise<JoinedPayload> {
    return this.locks.run(roomId, async () => {
      const record = await this.repo.get(roomId);
      if (!record) throw new RoomNotFoundError(`room ${roomId} does not exist`);
      const session = this.rooms.get(roomId) ?? newRoomSession(record, this.config);
      const old = [...session.participants.values()].find((p) => p.identity === req.identity);
      checkCapacity(session, req.role, old);
      const participant: ParticipantSession = {
        participantId: old?.participantId ?? `p_${randomBytes(8).toString('hex')}`,
        identity: req.identity,
        displayName: req.displayName,
        role: req.role,
        profile: req.profile ?? record.defaultProfile,
        // A server mute outlives a reconnect: reconnecting must not be a way to unmute.
        audioMuted: old?.audioMuted ?? false,
        videoMuted: old?.videoMuted ?? false,
        connectionId: req.connectionId,
        joinedAt: new Date().toISOString(),
      };
      const worker = await this.supervisor.acquire(roomId, session.settings);
      if (old) {
        this.emit('send', old.connectionId, 'kicked', {
          reason: 'replaced',
          message: 'the same identity joined again',
        });
        this.emit('drop', old.connectionId);
        await this.remove(session, old, 'replaced');
      }
      try {
        await worker.request('participant.join', {
          participantId: participant.participantId,
          displayName: participant.displayName,
          role: participant.role,
          profile: participant.profile,
        });
        for (const kind of ['audio', 'video'] as const) {
          if (participant[`${kind}Muted`]) {
            await worker.request('participant.setMuted', {
              participantId: participant.participantId,
              kind,
              muted: true,
            });
          }
        }
      } catch (err) {
        this.closeIfEmpty(session);
        if (session.participants.size === 0) this.supervisor.scheduleIdle(roomId);
        throw err;
      }
      if (!this.rooms.has(roomId)) {
        this.rooms.set(roomId, session);
        this.webhooks.publish('room.started', { roomId });
        this.emit('session-started', record);
      }
      for (const o of session.participants.values())
        this.emit('send', o.connectionId, 'participant-joined', view(participant));
      session.participants.set(participant.participantId, participant);
      this.webhooks.publish('participant.joined', { roomId, ...pick(participant) });
      this.emit('participant-joined', roomId, info(participant));
      this.log.info('participant joined', {
        roomId,
        participantId: participant.participantId,
        role: participant.role,
      });
      return {
        participantId: participant.participantId,
        iceServers: session.settings.iceServers,
        room: {
          roomId,
          name: record.name,
          layout: session.settings.layout,
          fit: session.settings.fit,
          pinnedParticipantId: session.settings.pinnedParticipantId,
          participants: [...session.participants.values()].map(view),
          activeSpeakerId: session.activeSpeakerId,
        },
      };
    });
  }

  async offer(roomId: string, participantId: string, sdp: string): Promise<string> {
    this.checkSdp(this.participant(roomId, participantId), sdp);
    const res = await this.worker(roomId).request('participant.offer', { participantId, sdp });
    return res.sdp;
  }

  async answer(roomId: string, participantId: string, sdp: string): Promise<void> {
    this.checkSdp(this.participant(roomId, participantId), sdp);
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

  /**
   * Idempotent: leaving twice, or after the room ended, is not an error. With a connectionId,
   * only that connection's session leaves (an old socket closing after a reconnect is a no-op).
   */
  leave(
    roomId: string,
    participantId: string,
    connectionId?: string,
    reason: LeaveReason = 'left',
  ): Promise<void> {
    return this.locks.run(roomId, async () => {
      const session = this.rooms.get(roomId);
      const p = session?.participants.get(participantId);
      if (!session || !p || (connectionId !== undefined && p.connectionId !== connectionId)) return;
      await this.remove(session, p, reason);
    });
  }

  /** Removes a participant at the server's request: it gets `kicked` and its connection closes. */
  kick(roomId: string, participantId: string): Promise<void> {
    return this.locks.run(roomId, async () => {
      const session = this.rooms.get(roomId);
      const p = this.participant(roomId, participantId);
      this.emit('send', p.connectionId, 'kicked', {
        reason: 'kicked',
        message: 'removed from the room by an administrator',
      });
      this.emit('drop', p.connectionId);
      if (session) await this.remove(session, p, 'kicked');
    });
  }

  /** Server-side mute: the worker drops the track from the mix / picture on its next tick. */
  async setMuted(
    roomId: string,
    participantId: string,
    kind: MediaKind,
    muted: boolean,
  ): Promise<ParticipantInfo> {
    const p = this.participant(roomId, participantId);
    await this.worker(roomId).request('participant.setMuted', { participantId, kind, muted });
    p[`${kind}Muted`] = muted;
    this.broadcast(roomId, 'muted-by-server', { participantId, kind, muted });
    return info(p);
  }

  /** Applies a stored room's layout to its live worker and tells the participants. */
  async applyLayout(room: Room): Promise<void> {
    const patch = { layout: room.layout, fit: room.fit, pinnedParticipantId: room.pinnedParticipantId };
    const session = this.rooms.get(room.id);
    if (session) session.settings = { ...session.settings, ...patch };
    const worker = this.supervisor.get(room.id);
    if (worker) await worker.request('room.update', patch);
    this.broadcast(room.id, 'layout-changed', patch);
  }

  /** Sends an event to everyone in a room (recordings uses it for `recording-state`). */
  broadcast<E extends keyof ServerToClientEvents>(
    roomId: string,
    event: E,
    data: Parameters<ServerToClientEvents[E]>[0],
  ): void {
    const session = this.rooms.get(roomId);
    if (!session) return;
    for (const p of session.participants.values())
      (this.emit as (...a: unknown[]) => boolean)('send', p.connectionId, event, data);
  }

  /** Ends a room's session for everyone in it (worker died, room deleted, shutdown). */
  endRoom(roomId: string, reason: RoomEndReason, message: string): void {
    const session = this.rooms.get(roomId);
    if (!session) return;
    this.rooms.delete(roomId);
    const participants = [...session.participants.values()];
    this.log.warn('room ended', { roomId, reason, participants: participants.length });
    this.emit(
      'ended',
      roomId,
      participants.map((p) => p.connectionId),
      reason,
      message,
    );
    for (const p of participants)
      this.webhooks.publish('participant.left', { roomId, ...leftOf(p), reason: 'room-ended' });
    this.webhooks.publish('room.ended', { roomId, reason });
    this.emit('session-ended', roomId, reason);
  }

  participants(roomId: string): ParticipantInfo[] {
    return [...(this.rooms.get(roomId)?.participants.values() ?? [])].map(info);
  }

  live(roomId: string): {
    active: boolean;
    activeSpeakerId: string | null;
    publishers: number;
    total: number;
  } {
    const s = this.rooms.get(roomId);
    const all = [...(s?.participants.values() ?? [])];
    return {
      active: !!s,
      activeSpeakerId: s?.activeSpeakerId ?? null,
      publishers: all.filter((p) => p.role === 'publisher').length,
      total: all.length,
    };
  }

  /** Rooms with a live session and their participant counts by role (for /metrics). */
  liveCounts(): { rooms: number; publishers: number; viewers: number } {
    let publishers = 0;
    let viewers = 0;
    for (const s of this.rooms.values()) {
      for (const p of s.participants.values())
        if (p.role === 'publisher') publishers++;
        else viewers++;
    }
    return { rooms: this.rooms.size, publishers, viewers };
  }

  hasIdentity(roomId: string, identity: string): boolean {
    return [...(this.rooms.get(roomId)?.participants.values() ?? [])].some((p) => p.identity === identity);
  }

  private async remove(session: RoomSession, p: ParticipantSession, reason: LeaveReason): Promise<void> {
    const roomId = session.roomId;
    session.participants.delete(p.participantId);
    for (const o of session.participants.values()) {
      this.emit('send', o.connectionId, 'participant-left', { participantId: p.participantId, reason });
    }
    this.webhooks.publish('participant.left', { roomId, ...leftOf(p), reason });
    this.log.info('participant left', { roomId, participantId: p.participantId, reason });
    const worker = this.supervisor.get(roomId);
    if (worker)
      await worker.request('participant.leave', { participantId: p.participantId }).catch(() => undefined);
    // A replaced participant's successor joins right after: the session goes on.
    if (reason !== 'replaced') this.closeIfEmpty(session);
  }

  private closeIfEmpty(session: RoomSession): void {
    if (session.participants.size > 0 || this.rooms.get(session.roomId) !== session) return;
    this.rooms.delete(session.roomId);
    this.supervisor.scheduleIdle(session.roomId);
    this.webhooks.publish('room.ended', { roomId: session.roomId, reason: 'empty' });
    this.emit('session-ended', session.roomId, 'empty');
  }

  private checkSdp(p: ParticipantSession, sdp: string): void {
    if (Buffer.byteLength(sdp) > this.config.limits.maxSdpBytes) {
      throw new PayloadTooLargeError(`sdp is larger than ${this.config.limits.maxSdpBytes} bytes`);
    }
    if (p.role === 'viewer' && sdpSendsMedia(sdp)) {
      throw new ForbiddenError('viewers cannot publish: offer recvonly audio and video');
    }
  }

  private onWorkerNotification(
    roomId: string,
    event: MediaEvent,
    data: MediaNotificationMap[MediaEvent],
  ): void {
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
        this.broadcast(roomId, 'active-speaker', d);
        return;
      }
      case 'recording.ended':
        return; // the recordings module listens to the supervisor itself
    }
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
