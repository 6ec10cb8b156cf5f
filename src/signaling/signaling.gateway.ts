import { Inject, type OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayDisconnect } from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import { JOIN_RATE_LIMITER } from '../auth/auth.module';
import type { RateLimiter } from '../auth/rate-limiter';
import { TokenService } from '../auth/token.service';
import {
  BadRequestError,
  ConflictError,
  DomainError,
  UnauthorizedError,
  type ErrorCode,
} from '../common/errors';
import { Logger } from '../common/logger';
import { ROOM_ID_PATTERN } from '../rooms/rooms.schemas';
import { SessionsService } from '../rooms/sessions.service';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from './signaling.types';

interface SocketData {
  roomId?: string;
  participantId?: string;
}

type SignalingSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

const joinSchema = z.object({
  roomId: z.string().regex(ROOM_ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ -'),
  token: z.string().max(4096).optional(),
  displayName: z.string().trim().min(1, 'must not be empty').max(64).optional(),
  role: z.enum(['publisher', 'viewer']).optional(),
  profile: z.enum(['low', 'standard', 'high']).optional(),
});
const sdpSchema = z.object({ sdp: z.string() });
const iceSchema = z.object({
  candidate: z
    .object({
      candidate: z.string(),
      sdpMid: z.string().nullable().optional(),
      sdpMLineIndex: z.number().int().nullable().optional(),
    })
    .nullable(),
});
const profileSchema = z.object({ profile: z.enum(['low', 'standard', 'high']) });

/** A failed join with these codes ends the connection: the client is not allowed in at all. */
const FATAL_JOIN_CODES = new Set<ErrorCode>(['unauthorized', 'forbidden']);

/**
 * socket.io signaling. Thin: it checks shapes and the join token, remembers which
 * room/participant a socket speaks for, forwards to SessionsService, and turns domain errors into
 * `{ ok: false, error }` acks (the one place that maps errors to socket events). Handlers are
 * registered by hand (not with @SubscribeMessage) so that every one is wrapped by the same error
 * mapping and ack discipline.
 */
@WebSocketGateway({ path: '/socket.io', cors: { origin: true }, maxHttpBufferSize: 256 * 1024 })
export class SignalingGateway implements OnModuleInit, OnGatewayDisconnect {
  @WebSocketServer() server!: Server<
    ClientToServerEvents,
    ServerToClientEvents,
    Record<string, never>,
    SocketData
  >;
  private readonly log = new Logger('signaling');

  constructor(
    private readonly sessions: SessionsService,
    private readonly tokens: TokenService,
    @Inject(JOIN_RATE_LIMITER) private readonly joinLimiter: RateLimiter,
  ) {}

  onModuleInit(): void {
    this.sessions.on('send', (connectionId, event, data) => {
      // socket.io's typed emit cannot follow the correlated union; the union itself is typed.
      (this.server.to(connectionId).emit as (e: string, d: unknown) => boolean)(event, data);
    });
    this.sessions.on('drop', (connectionId) => {
      const socket = this.socket(connectionId);
      if (!socket) return;
      socket.data = {};
      socket.disconnect();
    });
    this.sessions.on('ended', (roomId, connectionIds, reason, message) => {
      for (const id of connectionIds) {
        const socket = this.socket(id);
        if (!socket) continue;
        socket.emit('room-ended', { roomId, reason, message });
        socket.data = {};
        // A deleted room cannot be joined again; after a worker crash the client may rejoin.
        if (reason !== 'media-worker-died') socket.disconnect();
      }
    });
  }

  handleConnection(socket: SignalingSocket): void {
    socket.data = {};
    this.on(socket, 'join', async (raw) => {
      if (socket.data.participantId)
        throw new ConflictError('this connection already joined a room; leave first');
      this.joinLimiter.consume(socket.handshake.address);
      const req = parseMessage(joinSchema, raw);
      if (!req.token) throw new UnauthorizedError('join needs a token from POST /api/rooms/:id/tokens');
      const claims = this.tokens.verifyForRoom(req.token, req.roomId);
      const joined = await this.sessions.join(req.roomId, {
        identity: claims.identity,
        displayName: claims.displayName,
        role: claims.role,
        profile: req.profile,
        connectionId: socket.id,
      });
      if (socket.connected) socket.data = { roomId: req.roomId, participantId: joined.participantId };
      else void this.sessions.leave(req.roomId, joined.participantId, socket.id, 'disconnected');
      return joined;
    });
    this.on(socket, 'offer', async (req) => {
      const { roomId, participantId } = this.joined(socket);
      const { sdp } = parseMessage(sdpSchema, req);
      return { sdp: await this.sessions.offer(roomId, participantId, sdp) };
    });
    this.on(socket, 'answer', async (req) => {
      const { roomId, participantId } = this.joined(socket);
      const { sdp } = parseMessage(sdpSchema, req);
      await this.sessions.answer(roomId, participantId, sdp);
      return null;
    });
    this.on(socket, 'ice', async (req) => {
      const { roomId, participantId } = this.joined(socket);
      const { candidate } = parseMessage(iceSchema, req);
      await this.sessions.ice(roomId, participantId, candidate);
      return null;
    });
    this.on(socket, 'set-profile', async (req) => {
      const { roomId, participantId } = this.joined(socket);
      const { profile } = parseMessage(profileSchema, req);
      await this.sessions.setProfile(roomId, participantId, profile);
      return null;
    });
    this.on(socket, 'leave', async () => {
      const { roomId, participantId } = socket.data;
      socket.data = {};
      if (roomId && participantId) await this.sessions.leave(roomId, participantId, socket.id, 'left');
      return null;
    });
  }

  async handleDisconnect(socket: SignalingSocket): Promise<void> {
    const { roomId, participantId } = socket.data ?? {};
    if (roomId && participantId) await this.sessions.leave(roomId, participantId, socket.id, 'disconnected');
  }

  private socket(id: string): SignalingSocket | undefined {
    return this.server.sockets.sockets.get(id) as SignalingSocket | undefined;
  }

  private joined(socket: SignalingSocket): { roomId: string; participantId: string } {
    const { roomId, participantId } = socket.data;
    if (!roomId || !participantId) throw new ConflictError('join a room first');
    return { roomId, participantId };
  }

  private on<E extends keyof ClientToServerEvents>(
    socket: SignalingSocket,
    event: E,
    handler: (req: Parameters<ClientToServerEvents[E]>[0]) => Promise<unknown>,
  ): void {
    const listener = async (req: Parameters<ClientToServerEvents[E]>[0], ack?: (r: Ack<unknown>) => void) => {
      const reply = typeof ack === 'function' ? ack : () => undefined;
      try {
        reply({ ok: true, data: await handler(req) });
      } catch (err) {
        const error = toSocketError(err);
        if (error.code === 'internal')
          this.log.error('signaling handler failed', { event, err, ...socket.data });
        reply({ ok: false, error });
        const fatal = event === 'join' && FATAL_JOIN_CODES.has(error.code);
        if (typeof ack !== 'function' || fatal) socket.emit('error', error);
        if (fatal) {
          this.log.info('rejected a join', {
            code: error.code,
            message: error.message,
            address: socket.handshake.address,
          });
          socket.disconnect();
        }
      }
    };
    socket.on(event, listener as never);
  }
}

/**
 * Signaling messages have no 400/422 split (that is an HTTP distinction): whatever is wrong with
 * a message's shape or values, the code is bad_request.
 */
function parseMessage<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new BadRequestError(
    r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '),
  );
}

/** The one map from errors to socket error payloads: the same codes as the REST `error` field. */
export function toSocketError(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof DomainError) return { code: err.code, message: err.message };
  return { code: 'internal', message: 'internal error' };
}
