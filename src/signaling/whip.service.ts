import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { IceCandidateInit } from '../../workers/protocol/media';
import { JOIN_RATE_LIMITER } from '../auth/auth.module';
import type { RateLimiter } from '../auth/rate-limiter';
import { TokenService } from '../auth/token.service';
import {
  ForbiddenError,
  InvalidSdpError,
  ParticipantNotFoundError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '../common/errors';
import { Logger } from '../common/logger';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { SessionsService } from '../rooms/sessions.service';
import { sdpHasUsableCodec } from './sdp-direction';
import { SignalingRelay } from './signaling-relay';

export type HttpSessionKind = 'whip' | 'whep';

/**
 * WHIP ingest (RFC 9725) and WHEP playback as participants of a room, over plain HTTP: the
 * offer in the POST, the complete answer (every candidate, no trickle needed) in the 201, the
 * resource URL to DELETE when leaving. A WHIP publisher is a `publisher`, a WHEP player a
 * `viewer`; both are members like any socket.io participant (roster, layout, mix, recording),
 * with a connection id of their own kind that no socket carries. Nothing is left behind when
 * the offer is refused: the participant is removed again.
 */
@Injectable()
export class WhipService implements OnModuleInit {
  private readonly log = new Logger('whip');

  constructor(
    private readonly tokens: TokenService,
    private readonly sessions: SessionsService,
    private readonly relay: SignalingRelay,
    private readonly supervisor: MediaSupervisor,
    @Inject(JOIN_RATE_LIMITER) private readonly joinLimiter: RateLimiter,
  ) {}

  onModuleInit(): void {
    // No DELETE will come from a client whose connection failed: its session ends here.
    this.supervisor.on('notification', (roomId, n) => {
      if (n.event !== 'participant.connectionState') return;
      if (n.data.state !== 'failed' && n.data.state !== 'closed') return;
      const connectionId = this.sessions.connectionOf(roomId, n.data.participantId);
      if (!connectionId || !/^(whip|whep):/.test(connectionId)) return;
      void this.sessions.leave(roomId, n.data.participantId, connectionId, 'left').catch(() => undefined);
    });
  }

  async open(
    kind: HttpSessionKind,
    clientAddress: string,
    roomId: string,
    authorization: string | undefined,
    contentType: string | undefined,
    body: unknown,
  ): Promise<{ participantId: string; answer: string }> {
    requireContentType(contentType, 'application/sdp');
    this.joinLimiter.consume(clientAddress);
    const claims = this.tokens.verifyForRoom(bearer(authorization), roomId);
    if (kind === 'whip' && claims.role !== 'publisher')
      throw new ForbiddenError('WHIP publishes: the token must be a publisher token');
    const sdp = typeof body === 'string' ? body : '';
    if (!sdp.startsWith('v=0')) throw new InvalidSdpError('the body must be an SDP offer');
    if (!sdpHasUsableCodec(sdp))
      throw new InvalidSdpError(
        'the offer has no codec the server handles (Opus, VP8, VP9, AV1, H.264 42xxxx mode 1)',
      );
    const connectionId = `${kind}:${randomBytes(8).toString('hex')}`;
    const joined = await this.sessions.join(roomId, {
      identity: claims.identity,
      displayName: claims.displayName,
      role: kind === 'whip' ? 'publisher' : 'viewer',
      connectionId,
    });
    try {
      const answer = await this.relay.offer(roomId, joined.participantId, sdp, true);
      this.log.info('http media session opened', { roomId, participantId: joined.participantId, kind });
      return { participantId: joined.participantId, answer };
    } catch (err) {
      await this.sessions.leave(roomId, joined.participantId, connectionId, 'left').catch(() => undefined);
      throw err;
    }
  }

  /** Trickle ICE (RFC 9725 §4.3): `a=candidate` lines of a trickle-ice-sdpfrag body. */
  async patch(
    kind: HttpSessionKind,
    roomId: string,
    participantId: string,
    authorization: string | undefined,
    contentType: string | undefined,
    body: unknown,
  ): Promise<void> {
    requireContentType(contentType, 'application/trickle-ice-sdpfrag');
    this.owned(kind, roomId, participantId, authorization);
    const frag = typeof body === 'string' ? body : '';
    let mid: string | null = null;
    const candidates: IceCandidateInit[] = [];
    for (const line of frag.split(/\r?\n/)) {
      if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
      else if (line.startsWith('a=candidate:'))
        candidates.push({ candidate: line.slice(2).trim(), sdpMid: mid });
    }
    for (const c of candidates) await this.relay.ice(roomId, participantId, c);
  }

  async close(
    kind: HttpSessionKind,
    roomId: string,
    participantId: string,
    authorization: string | undefined,
  ): Promise<void> {
    const connectionId = this.owned(kind, roomId, participantId, authorization);
    await this.sessions.leave(roomId, participantId, connectionId, 'left');
    this.log.info('http media session closed', { roomId, participantId, kind });
  }

  /** The session's connection id, when it is a session of this kind held by the token's identity. */
  private owned(
    kind: HttpSessionKind,
    roomId: string,
    participantId: string,
    authorization: string | undefined,
  ): string {
    const claims = this.tokens.verifyForRoom(bearer(authorization), roomId);
    const connectionId = this.sessions.connectionOf(roomId, participantId);
    if (!connectionId || !connectionId.startsWith(`${kind}:`))
      throw new ParticipantNotFoundError(
        `no ${kind.toUpperCase()} session ${participantId} in room ${roomId}`,
      );
    if (this.sessions.member(roomId, participantId).identity !== claims.identity)
      throw new ForbiddenError('this session belongs to another identity');
    return connectionId;
  }
}

function bearer(authorization: string | undefined): string {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!m) throw new UnauthorizedError('Authorization: Bearer <join token> is required');
  return m[1];
}

function requireContentType(contentType: string | undefined, want: string): void {
  if ((contentType ?? '').split(';')[0].trim().toLowerCase() !== want)
    throw new UnsupportedMediaTypeError(`the body must be ${want}`);
}
