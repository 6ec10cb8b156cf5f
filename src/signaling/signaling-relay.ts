import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { IceCandidateInit, MediaNotification } from '../../workers/protocol/media';
import type { ServerEvent, ServerEventArgs } from '../../workers/protocol/signaling';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { ForbiddenError, PayloadTooLargeError } from '../common/errors';
import { MediaSupervisor } from '../media/media-supervisor.service';
import type { ClientOutbox } from '../rooms/client-outbox';
import type { ParticipantSession } from '../rooms/room-session';
import { SessionsService } from '../rooms/sessions.service';
import { offerReceivesVideo } from '../../workers/kernel/sdp-media';
import { sdpSendsMedia } from './sdp-direction';

/**
 * The signaling relay between a participant's connection and its room's media worker: client
 * offers, answers and ICE candidates go to the worker after the control plane's own checks
 * (size, viewers may not publish); the worker's ICE candidates, renegotiation offers and
 * connection states go straight to the participant's connection, and its active-speaker
 * changes become room state. Membership (who is in the room, through which connection) is
 * SessionsService's.
 */
@Injectable()
export class SignalingRelay implements OnModuleInit {
  private outbox: ClientOutbox | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sessions: SessionsService,
    private readonly supervisor: MediaSupervisor,
  ) {}

  onModuleInit(): void {
    this.supervisor.on('notification', (roomId, n) => this.fromWorker(roomId, n));
  }

  /** The signaling gateway: how messages reach a connection. */
  attachOutbox(outbox: ClientOutbox): void {
    this.outbox = outbox;
  }

  /** A client's offer; resolves with the worker's answer. */
  async offer(
    roomId: string,
    participantId: string,
    sdp: string,
    waitForCandidates = false,
  ): Promise<string> {
    this.checkSdp(this.sessions.member(roomId, participantId), sdp);
    const res = await this.sessions
      .worker(roomId)
      .request('participant.offer', { participantId, sdp, waitForCandidates });
    this.sessions.noteFirstOffer(roomId, participantId, !offerReceivesVideo(sdp));
    return res.sdp;
  }

  /** A client's answer to a server-initiated offer. */
  async answer(roomId: string, participantId: string, sdp: string): Promise<void> {
    this.checkSdp(this.sessions.member(roomId, participantId), sdp);
    await this.sessions.worker(roomId).request('participant.answer', { participantId, sdp });
  }

  async ice(roomId: string, participantId: string, candidate: IceCandidateInit | null): Promise<void> {
    this.sessions.member(roomId, participantId);
    await this.sessions.worker(roomId).request('participant.ice', { participantId, candidate });
  }

  private fromWorker(roomId: string, n: MediaNotification): void {
    switch (n.event) {
      case 'participant.ice':
        this.toParticipant(roomId, n.data.participantId, 'ice', { candidate: n.data.candidate });
        return;
      case 'participant.offer':
        this.toParticipant(roomId, n.data.participantId, 'offer', { sdp: n.data.sdp });
        return;
      case 'participant.connectionState':
        this.toParticipant(roomId, n.data.participantId, 'connection-state', { state: n.data.state });
        return;
      case 'room.activeSpeaker':
        this.sessions.setActiveSpeaker(roomId, n.data.participantId);
        return;
      case 'room.quality':
        // Only those whose downlink changed hear of it; metrics count every step.
        for (const d of n.data.participants)
          this.toParticipant(roomId, d.participantId, 'quality-changed', {
            fps: d.fps,
            profile: d.profile,
            reason: 'server-load',
          });
        return;
      case 'participant.downlink': {
        const downlink = {
          profile: n.data.profile,
          requested: n.data.requested,
          pinned: n.data.pinned,
          reason: n.data.reason,
        };
        this.sessions.noteLinks(roomId, n.data.participantId, { downlink });
        this.toParticipant(roomId, n.data.participantId, 'profile-changed', downlink);
        return;
      }
      case 'participant.uplink': {
        const uplink = { state: n.data.state, ...n.data.figures };
        this.sessions.noteLinks(roomId, n.data.participantId, { uplink });
        if (n.data.changed) this.toParticipant(roomId, n.data.participantId, 'uplink-quality', uplink);
        return;
      }
      case 'recording.ended':
      case 'room.load':
        return; // the recordings module follows its captures; LoadService reads load reports
    }
  }

  private toParticipant<E extends ServerEvent>(
    roomId: string,
    participantId: string,
    event: E,
    ...args: ServerEventArgs<E>
  ): void {
    const connectionId = this.sessions.connectionOf(roomId, participantId);
    if (connectionId) this.outbox?.send(connectionId, event, ...args);
  }

  private checkSdp(p: ParticipantSession, sdp: string): void {
    if (Buffer.byteLength(sdp) > this.config.limits.maxSdpBytes) {
      throw new PayloadTooLargeError(`sdp is larger than ${this.config.limits.maxSdpBytes} bytes`);
    }
    if (p.role === 'viewer' && sdpSendsMedia(sdp)) {
      throw new ForbiddenError('viewers cannot publish: offer recvonly audio and video');
    }
  }
}
