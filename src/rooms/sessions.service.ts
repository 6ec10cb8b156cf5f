import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  MEDIA_KINDS,
  type MediaKind,
  type ParticipantRole,
  type DownlinkProfile,
  type Profile,
} from '../../workers/protocol/media';
import type {
  JoinedPayload,
  LayoutState,
  RoomEndReason,
  ServerEvent,
  ServerEventArgs,
} from '../../workers/protocol/signaling';
import { clientIceServers } from '../auth/turn-credentials';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config';
import { ParticipantNotFoundError, RoomNotFoundError } from '../common/errors';
import { Logger } from '../common/logger';
import { Janitor, type LostProcess } from '../cluster/janitor.service';
import { NodeRegistry } from '../cluster/node-registry.service';
import { RoomDirectory } from '../cluster/room-directory.service';
import { LoadService } from '../load/load.service';
import type { MediaWorker } from '../media/media-worker';
import { MediaSupervisor } from '../media/media-supervisor.service';
import type { WebhookEventMap } from '../webhooks/webhook-events';
import { WebhooksService } from '../webhooks/webhooks.service';
import type { ClientOutbox } from './client-outbox';
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

export interface SessionEvents {
  /** Someone joined a live room (recordings adds them to the manifest's participants seen). */
  'participant-joined': [roomId: string, participant: ParticipantInfo];
  /** Someone left a live room, for any reason (ingress ends the ingress of a kicked participant). */
  'participant-left': [roomId: string, participantId: string, reason: LeaveReason];
  /** A room's first participant joined (recordings starts auto-record rooms on this). */
  'session-started': [room: Room];
  /** A room's session is over (last participant left, deleted, worker died, shutdown). */
  'session-ended': [roomId: string, reason: WebhookEventMap['room.ended']['reason']];
}

type LeaveReason = WebhookEventMap['participant.left']['reason'];

/** Until the signaling gateway attaches: nobody is connected, so there is nobody to tell. */
const NO_OUTBOX: ClientOutbox = {
  send: () => undefined,
  drop: () => undefined,
  roomEnded: () => undefined,
};

/**
 * Live sessions: who is in which room and through which connection, the room state that goes
 * with them (mutes, profiles, layout, active speaker), and the rules of joining and leaving.
 * Transport-agnostic: what participants must hear goes to a ClientOutbox that signaling
 * provides; the SDP/ICE relay to the media worker lives in signaling (SignalingRelay). Joins,
 * leaves and kicks of one room run one at a time (see locks), so a reconnect racing the old
 * connection's disconnect cannot leave two sessions for one identity.
 */
@Injectable()
export class SessionsService
  extends EventEmitter<SessionEvents>
  implements OnModuleInit, BeforeApplicationShutdown
{
  private readonly rooms = new Map<string, RoomSession>();
  private readonly locks = new KeyedSerialQueue();
  private readonly log = new Logger('sessions');
  private outbox: ClientOutbox = NO_OUTBOX;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly supervisor: MediaSupervisor,
    private readonly repo: RoomsRepository,
    private readonly webhooks: WebhooksService,
    private readonly registry: NodeRegistry,
    private readonly directory: RoomDirectory,
    private readonly janitor: Janitor,
    private readonly load: LoadService,
  ) {
    super();
  }

  /** The signaling gateway: how messages reach a connection. */
  attachOutbox(outbox: ClientOutbox): void {
    this.outbox = outbox;
  }

  onModuleInit(): void {
    this.registry.attachHostedLoad(() => ({
      rooms: this.rooms.size,
      participants: [...this.rooms.values()].reduce((n, s) => n + s.participants.size, 0),
    }));
    // Once per cluster (the node that cleaned up after the lost node): its participants' leave
    // and its rooms' end are announced. publishOnce guards against a second announcement (two
    // janitors after a lock expired); the participant ids are unique per session.
    this.janitor.on('rooms-lost', (nodeId, roomIds, lost) => {
      this.announceLost(nodeId, roomIds, lost).catch((err) =>
        this.log.error('announcing the rooms of a lost node failed', { nodeId, err }),
      );
    });
    this.load.setCommittedSource(() => this.committedUnits());
    // Who is in each hosted room, for the webhooks if this node dies (RoomDirectory.syncMembers).
    if (this.config.node.clustered)
      this.registry.onTick(async () => {
        for (const s of this.rooms.values())
          this.directory.syncMembers(s.roomId, [...s.participants.values()].map(leftOf));
      });
    this.supervisor.on('died', (roomId, reason) =>
      this.endRoom(
        roomId,
        'media-worker-died',
        `the room's media worker ${reason}; join again to restart the room`,
      ),
    );
  }

  private async announceLost(nodeId: string, roomIds: string[], lost: LostProcess): Promise<void> {
    for (const [roomId, members] of lost.members) {
      for (const m of members) {
        await this.webhooks.publishOnce(`${roomId}:${m.participantId}:${lost.bootId}`, 'participant.left', {
          roomId,
          participantId: m.participantId,
          identity: m.identity,
          reason: 'room-ended',
        });
      }
      this.log.warn('participants of a lost node left', { roomId, nodeId, participants: members.length });
    }
    for (const roomId of new Set([...roomIds, ...lost.members.keys()]))
      await this.webhooks.publishOnce(`${roomId}:${nodeId}:${lost.bootId}`, 'room.ended', {
        roomId,
        reason: 'media-node-lost',
      });
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
      audioOnly?: boolean;
      connectionId: string;
    },
  ): Promise<JoinedPayload> {
    return this.locks.run(roomId, async () => {
      const record = await this.repo.get(roomId);
      if (!record) throw new RoomNotFoundError(`room ${roomId} does not exist`);
      // In a cluster the room's claim must be this node's (another node may have won a race).
      await this.directory.confirmHost(roomId);
      const session = this.rooms.get(roomId) ?? newRoomSession(record, this.config);
      const old = [...session.participants.values()].find((p) => p.identity === req.identity);
      checkCapacity(session, req.role, old);
      const profile = req.profile ?? record.defaultProfile;
      // Admission control: refused here, the join has touched nothing (no worker, no session).
      // What the room takes with the newcomer (in place of its old session) minus what it takes
      // now: a first receiver of a profile brings that profile's shared encode with it.
      const others = [...session.participants.values()].filter((p) => p !== old);
      const admission = this.load.admit(
        this.load.roomUnits([...others, { role: req.role, profile, audioOnly: req.audioOnly }]) -
          this.load.roomUnits(session.participants.values()),
        { roomId, identity: req.identity },
      );
      try {
        return await this.admitted(roomId, record, session, old, { ...req, profile });
      } finally {
        admission.release();
      }
    });
  }

  private async admitted(
    roomId: string,
    record: Room,
    session: RoomSession,
    old: ParticipantSession | undefined,
    req: {
      identity: string;
      displayName: string;
      role: ParticipantRole;
      profile: Profile;
      audioOnly?: boolean;
      connectionId: string;
    },
  ): Promise<JoinedPayload> {
    const participant: ParticipantSession = {
      audioOnly: req.audioOnly,
      participantId: old?.participantId ?? `p_${randomBytes(8).toString('hex')}`,
      identity: req.identity,
      displayName: req.displayName,
      role: req.role,
      profile: req.profile,
      // A server mute outlives a reconnect: reconnecting must not be a way to unmute.
      audioMuted: old?.audioMuted ?? false,
      videoMuted: old?.videoMuted ?? false,
      connectionId: req.connectionId,
      joinedAt: new Date().toISOString(),
    };
    const worker = await this.supervisor.acquire(roomId, session.settings);
    if (old) {
      this.outbox.send(old.connectionId, 'kicked', {
        reason: 'replaced',
        message: 'the same identity joined again',
      });
      this.outbox.drop(old.connectionId);
      await this.remove(session, old, 'replaced');
    }
    try {
      await worker.request('participant.join', {
        participantId: participant.participantId,
        displayName: participant.displayName,
        role: participant.role,
        profile: participant.profile,
      });
      for (const kind of MEDIA_KINDS) {
        if (participant[`${kind}Muted`]) {
          await worker.request('participant.setMuted', {
            participantId: participant.participantId,
            kind,
            muted: true,
          });
        }
      }
    } catch (err) {
      // A request that timed out is still carried out once the worker catches up: without this
      // the worker kept a member the control plane never knew (a ghost holding a publisher
      // place, and the room refused joins with room_full until it ended; found by the soak
      // benchmark on a loaded machine). The worker handles requests in order and a leave of an
      // unknown participant is a no-op, so this is safe after any failure.
      void worker
        .request('participant.leave', { participantId: participant.participantId })
        .catch(() => undefined);
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
      this.outbox.send(o.connectionId, 'participant-joined', view(participant));
    session.participants.set(participant.participantId, participant);
    this.directory.noteMember(roomId, participant.participantId, participant.identity);
    this.webhooks.publish('participant.joined', { roomId, ...pick(participant) });
    this.emit('participant-joined', roomId, info(participant));
    this.registry.nudge();
    this.log.info('participant joined', {
      roomId,
      participantId: participant.participantId,
      role: participant.role,
    });
    return {
      participantId: participant.participantId,
      iceServers: clientIceServers(
        session.settings.iceServers,
        this.config.network.turn,
        participant.identity,
      ),
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
  }

  /** The first offer says whether a participant has video at all (see offerReceivesVideo). */
  noteFirstOffer(roomId: string, participantId: string, audioOnly: boolean): void {
    const p = this.rooms.get(roomId)?.participants.get(participantId);
    if (!p || p.offered) return;
    p.offered = true;
    if (p.audioOnly && !audioOnly)
      this.log.warn('joined as audio-only but offered video: charged in full', { roomId, participantId });
    p.audioOnly = audioOnly;
  }

  /** Units the live participants of every room take on this node (LoadService's committed). */
  private committedUnits(): number {
    let units = 0;
    for (const s of this.rooms.values()) units += this.load.roomUnits(s.participants.values());
    return units;
  }

  /**
   * `audio` (data saver) keeps the participant's charge for its last video profile: it may go
   * back to it at any time, without a new admission. `pin`: no adaptive downlink for it.
   */
  async setProfile(
    roomId: string,
    participantId: string,
    profile: DownlinkProfile,
    pin = false,
  ): Promise<void> {
    const p = this.member(roomId, participantId);
    const charged = profile === 'audio' ? p.profile : profile;
    // A switch to a dearer profile (or to one the room does not encode yet) is a join of the
    // difference: refused when it does not fit.
    const members = [...(this.rooms.get(roomId)?.participants.values() ?? [])];
    const more =
      this.load.roomUnits(members.map((m) => (m === p ? { ...m, profile: charged } : m))) -
      this.load.roomUnits(members);
    const admission = more > 0 ? this.load.admit(more, { roomId, identity: p.identity }) : null;
    try {
      await this.worker(roomId).request('participant.setProfile', { participantId, profile, pin });
      p.profile = charged;
    } finally {
      admission?.release();
    }
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
      const p = this.member(roomId, participantId);
      this.outbox.send(p.connectionId, 'kicked', {
        reason: 'kicked',
        message: 'removed from the room by an administrator',
      });
      this.outbox.drop(p.connectionId);
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
    const p = this.member(roomId, participantId);
    await this.worker(roomId).request('participant.setMuted', { participantId, kind, muted });
    p[`${kind}Muted`] = muted;
    this.broadcast(roomId, 'muted-by-server', { participantId, kind, muted });
    return info(p);
  }

  /** Applies a stored room's layout to its live worker and tells the participants. */
  async applyLayout(roomId: string, patch: LayoutState): Promise<void> {
    const session = this.rooms.get(roomId);
    if (session) session.settings = { ...session.settings, ...patch };
    const worker = this.supervisor.get(roomId);
    if (worker) await worker.request('room.update', patch);
    this.broadcast(roomId, 'layout-changed', patch);
  }

  /** Sends an event to everyone in a room (recordings uses it for `recording-state`). */
  broadcast<E extends ServerEvent>(roomId: string, event: E, ...args: ServerEventArgs<E>): void {
    const session = this.rooms.get(roomId);
    if (!session) return;
    for (const p of session.participants.values()) this.outbox.send(p.connectionId, event, ...args);
  }

  /** The worker's active-speaker detector changed its mind: room state, and everyone is told. */
  setActiveSpeaker(roomId: string, participantId: string | null): void {
    const session = this.rooms.get(roomId);
    if (!session) return;
    session.activeSpeakerId = participantId;
    this.broadcast(roomId, 'active-speaker', { participantId });
  }

  /** The worker's latest figures for a participant's links (REST shows them); unknown ids are ignored. */
  noteLinks(
    roomId: string,
    participantId: string,
    links: Pick<ParticipantInfo, 'downlink'> | Pick<ParticipantInfo, 'uplink'>,
  ): void {
    const p = this.rooms.get(roomId)?.participants.get(participantId);
    if (p) Object.assign(p, links);
  }

  /** A participant of a live room, or ParticipantNotFoundError. */
  member(roomId: string, participantId: string): ParticipantSession {
    const p = this.rooms.get(roomId)?.participants.get(participantId);
    if (!p) throw new ParticipantNotFoundError(`participant ${participantId} is not in room ${roomId}`);
    return p;
  }

  /** The signaling connection that speaks for a participant, if it is (still) in the room. */
  connectionOf(roomId: string, participantId: string): string | undefined {
    return this.rooms.get(roomId)?.participants.get(participantId)?.connectionId;
  }

  /** The running media worker of a live room, or ParticipantNotFoundError (nobody can be in it). */
  worker(roomId: string): MediaWorker {
    const w = this.supervisor.get(roomId);
    if (!w) throw new ParticipantNotFoundError(`room ${roomId} has no running media worker`);
    return w;
  }

  /** Ends a room's session for everyone in it (worker died, room deleted, shutdown). */
  endRoom(roomId: string, reason: RoomEndReason, message: string): void {
    const session = this.rooms.get(roomId);
    if (!session) return;
    this.rooms.delete(roomId);
    this.directory.forgetRoom(roomId);
    const participants = [...session.participants.values()];
    this.log.warn('room ended', { roomId, reason, participants: participants.length });
    this.outbox.roomEnded(
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
        if (p.role === 'viewer') viewers++;
        else publishers++; // an ingress sends like a publisher
    }
    return { rooms: this.rooms.size, publishers, viewers };
  }

  hasIdentity(roomId: string, identity: string): boolean {
    return [...(this.rooms.get(roomId)?.participants.values() ?? [])].some((p) => p.identity === identity);
  }

  private async remove(session: RoomSession, p: ParticipantSession, reason: LeaveReason): Promise<void> {
    const roomId = session.roomId;
    session.participants.delete(p.participantId);
    this.directory.forgetMember(roomId, p.participantId);
    for (const o of session.participants.values()) {
      this.outbox.send(o.connectionId, 'participant-left', { participantId: p.participantId, reason });
    }
    this.webhooks.publish('participant.left', { roomId, ...leftOf(p), reason });
    this.log.info('participant left', { roomId, participantId: p.participantId, reason });
    this.registry.nudge();
    this.emit('participant-left', roomId, p.participantId, reason);
    const worker = this.supervisor.get(roomId);
    if (worker)
      await worker.request('participant.leave', { participantId: p.participantId }).catch(() => undefined);
    // A replaced participant's successor joins right after: the session goes on.
    if (reason !== 'replaced') this.closeIfEmpty(session);
  }

  private closeIfEmpty(session: RoomSession): void {
    if (session.participants.size > 0 || this.rooms.get(session.roomId) !== session) return;
    this.rooms.delete(session.roomId);
    this.directory.forgetRoom(session.roomId);
    this.supervisor.scheduleIdle(session.roomId);
    this.webhooks.publish('room.ended', { roomId: session.roomId, reason: 'empty' });
    this.emit('session-ended', session.roomId, 'empty');
  }
}
