import { Inject, type OnModuleInit } from '@nestjs/common';
import {
  WebSocketGateway,
  WebSocketServer,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
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
import { asUnavailable } from '../redis/redis-errors';
import { CLIENT_ROLES, DOWNLINK_PROFILES, PROFILES } from '../../workers/protocol/media';
import type {
  Ack,
  ClientToServerEvents,
  RoomEndReason,
  ServerEvent,
  ServerEventArgs,
  ServerToClientEvents,
} from '../../workers/protocol/signaling';
import type { ClientOutbox } from '../rooms/client-outbox';
import { ROOM_ID_PATTERN } from '../rooms/rooms.schemas';
import { SessionsService } from '../rooms/sessions.service';
import { Janitor } from '../cluster/janitor.service';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { SessionRouter } from './session-router';
import { SignalingRelay } from './signaling-relay';

interface SocketData {
  roomId?: string;
  participantId?: string;
  /** The node that hosts the room: this one, or another (requests relayed over the cluster bus). */
  host?: string;
}

/**
 * Between the nodes of a cluster, through the socket.io adapter: what the node hosting a room
 * does to a socket that another node holds (the socket's own node applies it).
 */
interface InterServerEvents {
  'cluster:room-ended': (d: {
    roomId: string;
    connectionIds: string[];
    reason: RoomEndReason;
    message: string;
  }) => void;
}

type SignalingSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

const joinSchema = z.object({
  roomId: z.string().regex(ROOM_ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ -'),
  token: z.string().max(4096).optional(),
  displayName: z.string().trim().min(1, 'must not be empty').max(64).optional(),
  role: z.enum(CLIENT_ROLES).optional(),
  profile: z.enum(PROFILES).optional(),
  audioOnly: z.boolean().optional(),
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
const profileSchema = z.object({ profile: z.enum(DOWNLINK_PROFILES), pin: z.boolean().optional() });

/** A failed join with these codes ends the connection: the client is not allowed in at all. */
const FATAL_JOIN_CODES = new Set<ErrorCode>(['unauthorized', 'forbidden']);

/**
 * socket.io signaling. Thin: it checks shapes and the join token, remembers which
 * room/participant a socket speaks for, forwards joins and leaves to SessionsService and
 * SDP/ICE to SignalingRelay, and turns domain errors into `{ ok: false, error }` acks (the one
 * place that maps errors to socket events). It is also their ClientOutbox: what they send a
 * connection id leaves here. Handlers are registered by hand (not with @SubscribeMessage) so
 * that every one is wrapped by the same error mapping and ack discipline.
 */
@WebSocketGateway({ path: '/socket.io', cors: { origin: true }, maxHttpBufferSize: 256 * 1024 })
export class SignalingGateway implements OnModuleInit, OnGatewayInit, OnGatewayDisconnect, ClientOutbox {
  @WebSocketServer() server!: Server<
    ClientToServerEvents,
    ServerToClientEvents,
    InterServerEvents,
    SocketData
  >;
  private readonly log = new Logger('signaling');

  constructor(
    private readonly sessions: SessionsService,
    private readonly relay: SignalingRelay,
    private readonly router: SessionRouter,
    private readonly janitor: Janitor,
    private readonly tokens: TokenService,
    @Inject(JOIN_RATE_LIMITER) private readonly joinLimiter: RateLimiter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.sessions.attachOutbox(this);
    this.relay.attachOutbox(this);
    this.janitor.on('node-lost', (nodeId) => this.nodeLost(nodeId));
  }

  afterInit(): void {
    // Only emitted by other nodes (serverSideEmit does not loop back), i.e. only in a cluster.
    // One message does all of it on the holding node: the event, forgetting the room, the close.
    this.server.on('cluster:room-ended', (d) =>
      this.roomEnded(d.roomId, d.connectionIds, d.reason, d.message),
    );
  }

  send<E extends ServerEvent>(connectionId: string, event: E, ...args: ServerEventArgs<E>): void {
    this.server.to(connectionId).emit(event, ...args);
  }

  drop(connectionId: string): void {
    const socket = this.socket(connectionId);
    if (!socket) {
      // Held by another node of the cluster, if any. Through the adapter's stream, like the
      // emits before it (a `kicked` must reach the client before its connection closes);
      // server-side events travel by pub/sub and could overtake them. The holding node then
      // relays the socket's disconnect to the host, where the participant is already gone.
      if (this.config.node.clustered) this.server.in(connectionId).disconnectSockets(true);
      return;
    }
    socket.data = {};
    socket.disconnect();
  }

  roomEnded(roomId: string, connectionIds: string[], reason: RoomEndReason, message: string): void {
    const elsewhere: string[] = [];
    for (const id of connectionIds) {
      const socket = this.socket(id);
      if (!socket) {
        elsewhere.push(id);
        continue;
      }
      socket.emit('room-ended', { roomId, reason, message });
      socket.data = {};
      // A deleted room cannot be joined again; after a worker crash the client may rejoin.
      if (reason !== 'media-worker-died' && reason !== 'media-node-lost') socket.disconnect();
    }
    if (elsewhere.length > 0 && this.config.node.clustered)
      this.server.serverSideEmit('cluster:room-ended', { roomId, connectionIds: elsewhere, reason, message });
  }

  /** The node hosting some of this node's sockets' rooms is gone: those rooms are over. */
  private nodeLost(nodeId: string): void {
    const byRoom = new Map<string, string[]>();
    for (const socket of this.server.sockets.sockets.values()) {
      const { roomId, host } = socket.data ?? {};
      if (!roomId || host !== nodeId) continue;
      byRoom.set(roomId, [...(byRoom.get(roomId) ?? []), socket.id]);
    }
    for (const [roomId, ids] of byRoom) {
      this.log.warn('room ended: its media node was lost', { roomId, nodeId, sockets: ids.length });
      this.roomEnded(
        roomId,
        ids,
        'media-node-lost',
        `the media node hosting room ${roomId} was lost; join again`,
      );
    }
  }

  handleConnection(socket: SignalingSocket): void {
    socket.data = {};
    this.on(socket, 'join', async (raw) => {
      if (socket.data.participantId)
        throw new ConflictError('this connection already joined a room; leave first');
      await this.joinLimiter.consume(socket.handshake.address);
      const req = parseMessage(joinSchema, raw);
      if (!req.token) throw new UnauthorizedError('join needs a token from POST /api/rooms/:id/tokens');
      const claims = this.tokens.verifyForRoom(req.token, req.roomId);
      const { joined, host } = await this.router.join(req.roomId, {
        identity: claims.identity,
        displayName: claims.displayName,
        role: claims.role,
        profile: req.profile,
        audioOnly: req.audioOnly,
        connectionId: socket.id,
      });
      if (socket.connected) socket.data = { roomId: req.roomId, participantId: joined.participantId, host };
      else
        void this.router
          .leave(host, req.roomId, joined.participantId, socket.id, 'disconnected')
          .catch(() => undefined);
      return joined;
    });
    this.on(socket, 'offer', async (req) => {
      const { roomId, participantId, host } = this.joined(socket);
      const { sdp } = parseMessage(sdpSchema, req);
      return { sdp: await this.router.offer(host, roomId, participantId, sdp) };
    });
    this.on(socket, 'answer', async (req) => {
      const { roomId, participantId, host } = this.joined(socket);
      const { sdp } = parseMessage(sdpSchema, req);
      await this.router.answer(host, roomId, participantId, sdp);
      return null;
    });
    this.on(socket, 'ice', async (req) => {
      const { roomId, participantId, host } = this.joined(socket);
      const { candidate } = parseMessage(iceSchema, req);
      await this.router.ice(host, roomId, participantId, candidate);
      return null;
    });
    this.on(socket, 'set-profile', async (req) => {
      const { roomId, participantId, host } = this.joined(socket);
      const { profile, pin } = parseMessage(profileSchema, req);
      await this.router.setProfile(host, roomId, participantId, profile, pin ?? false);
      return null;
    });
    this.on(socket, 'leave', async () => {
      const { roomId, participantId, host } = socket.data;
      socket.data = {};
      if (roomId && participantId && host)
        await this.router.leave(host, roomId, participantId, socket.id, 'left');
      return null;
    });
  }

  async handleDisconnect(socket: SignalingSocket): Promise<void> {
    const { roomId, participantId, host } = socket.data ?? {};
    if (!roomId || !participantId || !host) return;
    await this.router.leave(host, roomId, participantId, socket.id, 'disconnected').catch((err: unknown) =>
      // The hosting node may be gone (its rooms end through the janitor) or Redis away.
      this.log.warn('could not relay a disconnect to the hosting node', { roomId, participantId, host, err }),
    );
  }

  private socket(id: string): SignalingSocket | undefined {
    return this.server.sockets.sockets.get(id);
  }

  private joined(socket: SignalingSocket): { roomId: string; participantId: string; host: string } {
    const { roomId, participantId, host } = socket.data;
    if (!roomId || !participantId || !host) throw new ConflictError('join a room first');
    return { roomId, participantId, host };
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
export function toSocketError(thrown: unknown): { code: ErrorCode; message: string } {
  const err = asUnavailable(thrown) ?? thrown;
  if (err instanceof DomainError) return { code: err.code, message: err.message };
  return { code: 'internal', message: 'internal error' };
}
