import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type {
  DownlinkProfile,
  IceCandidateInit,
  ParticipantRole,
  Profile,
} from '../../workers/protocol/media';
import type { JoinedPayload, LeftReason } from '../../workers/protocol/signaling';
import { ClusterBus } from '../cluster/cluster-bus';
import { Janitor } from '../cluster/janitor.service';
import { RoomDirectory } from '../cluster/room-directory.service';
import { Logger } from '../common/logger';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { SessionsService } from '../rooms/sessions.service';
import { SignalingRelay } from './signaling-relay';

export interface JoinRequestFields {
  identity: string;
  displayName: string;
  role: ParticipantRole;
  profile?: Profile;
  audioOnly?: boolean;
  connectionId: string;
}

/**
 * Where a socket's session requests go: to this node's SessionsService and SignalingRelay when
 * the room is hosted here (today's direct path, the only one on a single node), or over the
 * ClusterBus to the node that hosts it, which runs the very same calls (docs/scale-out.md,
 * "Signaling relay"). What the hosting node sends the participant comes back through the
 * socket.io adapter, addressed to the socket's id.
 */
@Injectable()
export class SessionRouter implements OnModuleInit {
  private readonly log = new Logger('signaling');
  /** Participants of rooms hosted here whose socket is on another node, by connection id. */
  private readonly relayed = new Map<string, { via: string; roomId: string; participantId: string }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sessions: SessionsService,
    private readonly relay: SignalingRelay,
    private readonly directory: RoomDirectory,
    private readonly bus: ClusterBus,
    private readonly janitor: Janitor,
  ) {}

  onModuleInit(): void {
    this.bus.handle('session.join', async ({ roomId, via, ...req }) => {
      const joined = await this.sessions.join(roomId, req);
      this.forgetOtherConnections(roomId, joined.participantId, req.connectionId);
      this.relayed.set(req.connectionId, { via, roomId, participantId: joined.participantId });
      return joined;
    });
    // A node holding sockets died: their participants here are disconnected (the clients
    // reconnect through another node and join again).
    this.janitor.on('node-lost', (nodeId) => void this.dropSocketsOf(nodeId));
    this.sessions.on('session-ended', (roomId) => {
      for (const [id, r] of this.relayed) if (r.roomId === roomId) this.relayed.delete(id);
    });
    this.bus.handle('session.offer', async (r) => ({
      sdp: await this.relay.offer(r.roomId, r.participantId, r.sdp),
    }));
    this.bus.handle('session.answer', async (r) => {
      await this.relay.answer(r.roomId, r.participantId, r.sdp);
      return null;
    });
    this.bus.handle('session.ice', async (r) => {
      await this.relay.ice(r.roomId, r.participantId, r.candidate);
      return null;
    });
    this.bus.handle('session.setProfile', async (r) => {
      await this.sessions.setProfile(r.roomId, r.participantId, r.profile, r.pin ?? false);
      return null;
    });
    this.bus.handle('session.leave', async (r) => {
      this.relayed.delete(r.connectionId);
      await this.sessions.leave(r.roomId, r.participantId, r.connectionId, r.reason);
      return null;
    });
  }

  /**
   * A rejoin (same identity, same participant id) replaced the session of an older connection,
   * maybe one on a node that has since died: that connection no longer speaks for the
   * participant, and the node's loss must not be taken for this participant's.
   */
  private forgetOtherConnections(roomId: string, participantId: string, connectionId: string): void {
    for (const [id, r] of this.relayed)
      if (id !== connectionId && r.roomId === roomId && r.participantId === participantId)
        this.relayed.delete(id);
  }

  private async dropSocketsOf(nodeId: string): Promise<void> {
    for (const [connectionId, r] of [...this.relayed]) {
      if (r.via !== nodeId) continue;
      this.relayed.delete(connectionId);
      this.log.warn('participant disconnected: the node holding its socket was lost', {
        roomId: r.roomId,
        participantId: r.participantId,
        nodeId,
      });
      await this.sessions.leave(r.roomId, r.participantId, connectionId, 'disconnected');
    }
  }

  private isLocal(host: string): boolean {
    return host === this.directory.selfId;
  }

  /** Places the room if needed and joins there; `host` is where the socket's session lives. */
  async join(roomId: string, req: JoinRequestFields): Promise<{ joined: JoinedPayload; host: string }> {
    const host = await this.directory.place(roomId);
    // The host may have to start the room's worker first.
    const timeoutMs = this.config.media.workerStartTimeoutMs + 2 * this.config.media.requestTimeoutMs;
    if (this.isLocal(host)) {
      const joined = await this.sessions.join(roomId, req);
      this.forgetOtherConnections(roomId, joined.participantId, req.connectionId);
      return { joined, host };
    }
    const joined = await this.bus.request(
      host,
      'session.join',
      { roomId, via: this.directory.selfId, ...req },
      timeoutMs,
    );
    return { joined, host };
  }

  async offer(host: string, roomId: string, participantId: string, sdp: string): Promise<string> {
    if (this.isLocal(host)) return this.relay.offer(roomId, participantId, sdp);
    return (await this.bus.request(host, 'session.offer', { roomId, participantId, sdp })).sdp;
  }

  async answer(host: string, roomId: string, participantId: string, sdp: string): Promise<void> {
    if (this.isLocal(host)) return this.relay.answer(roomId, participantId, sdp);
    await this.bus.request(host, 'session.answer', { roomId, participantId, sdp });
  }

  async ice(
    host: string,
    roomId: string,
    participantId: string,
    candidate: IceCandidateInit | null,
  ): Promise<void> {
    if (this.isLocal(host)) return this.relay.ice(roomId, participantId, candidate);
    await this.bus.request(host, 'session.ice', { roomId, participantId, candidate });
  }

  async setProfile(
    host: string,
    roomId: string,
    participantId: string,
    profile: DownlinkProfile,
    pin: boolean,
  ): Promise<void> {
    if (this.isLocal(host)) return this.sessions.setProfile(roomId, participantId, profile, pin);
    await this.bus.request(host, 'session.setProfile', { roomId, participantId, profile, pin });
  }

  async leave(
    host: string,
    roomId: string,
    participantId: string,
    connectionId: string,
    reason: LeftReason,
  ): Promise<void> {
    if (this.isLocal(host)) return this.sessions.leave(roomId, participantId, connectionId, reason);
    await this.bus.request(host, 'session.leave', { roomId, participantId, connectionId, reason });
  }
}
