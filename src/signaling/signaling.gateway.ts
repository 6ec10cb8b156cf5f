import { Inject, type OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayDisconnect } from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config';
import { BadRequestError, ConflictError, DomainError, type ErrorCode } from '../common/errors';
import { Logger } from '../common/logger';
import { SessionsService } from '../rooms/sessions.service';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from './signaling.types';

interface SocketData {
  roomId?: string;
  participantId?: string;
}

type SignalingSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

const PROFILES = new Set(['low', 'standard', 'high']);

/**
 * socket.io signaling. Thin: it checks shapes, remembers which room/participant a socket speaks
 * for, forwards to SessionsService, and turns domain errors into `{ ok: false, error }` acks.
 * Handlers are registered by hand (not with @SubscribeMessage) so that every one is wrapped by
 * the same error mapping and ack discipline.
 */
@WebSocketGateway({ path: '/socket.io', cors: { origin: true }, maxHttpBufferSize: 256 * 1024 })
export class SignalingGateway implements OnModuleInit, OnGatewayDisconnect {
  @WebSocketServer() server!: Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
  private readonly log = new Logger('signaling');

  constructor(
    private readonly sessions: SessionsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.sessions.on('send', (connectionId, event, data) => {
      // socket.io's typed emit cannot follow the correlated union; the union itself is typed.
      (this.server.to(connectionId).emit as (e: string, d: unknown) => boolean)(event, data);
    });
    this.sessions.on('ended', (roomId, connectionIds, reason, message) => {
      for (const id of connectionIds) {
        const socket = this.server.sockets.sockets.get(id) as SignalingSocket | undefined;
        if (!socket) continue;
        socket.emit('room-ended', { roomId, reason, message });
        socket.data = {};
      }
    });
  }

  handleConnection(socket: SignalingSocket): void {
    socket.data = {};
    this.on(socket, 'join', async (req) => {
      if (socket.data.participantId) throw new ConflictError('this connection already joined a room; leave first');
      if (!req || typeof req !== 'object') throw new BadRequestError('join needs { roomId, displayName }');
      const role = req.role ?? 'publisher';
      if (role !== 'publisher' && role !== 'viewer') throw new BadRequestError('role must be publisher or viewer');
      if (req.profile !== undefined && !PROFILES.has(req.profile)) {
        throw new BadRequestError('profile must be low, standard or high');
      }
      const joined = await this.sessions.join(String(req.roomId ?? ''), {
        displayName: String(req.displayName ?? ''),
        role,
        profile: req.profile,
        connectionId: socket.id,
      });
      socket.data = { roomId: joined.room.roomId, participantId: joined.participantId };
      return joined;
    });
    this.on(socket, 'offer', async (req) => {
      const { roomId, participantId } = this.joined(socket);
      return { sdp: await this.sessions.offer(roomId, participantId, sdpOf(req)) };
    });
    this.on(socket, 'answer', async (req) => {
      const { roomId, participantId } = this.joined(socket);
      await this.sessions.answer(roomId, participantId, sdpOf(req));
      return null;
    });
    this.on(socket, 'ice', async (req) => {
      const { roomId, participantId } = this.joined(socket);
      if (!req || typeof req !== 'object' || !('candidate' in req)) throw new BadRequestError('ice needs { candidate }');
      await this.sessions.ice(roomId, participantId, req.candidate);
      return null;
    });
    this.on(socket, 'set-profile', async (req) => {
      const { roomId, participantId } = this.joined(socket);
      if (!req || !PROFILES.has(req.profile)) throw new BadRequestError('profile must be low, standard or high');
      await this.sessions.setProfile(roomId, participantId, req.profile);
      return null;
    });
    this.on(socket, 'leave', async () => {
      const { roomId, participantId } = socket.data;
      socket.data = {};
      if (roomId && participantId) await this.sessions.leave(roomId, participantId);
      return null;
    });
  }

  async handleDisconnect(socket: SignalingSocket): Promise<void> {
    const { roomId, participantId } = socket.data ?? {};
    if (roomId && participantId) await this.sessions.leave(roomId, participantId);
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
        if (error.code === 'internal') this.log.error('signaling handler failed', { event, err, ...socket.data });
        reply({ ok: false, error });
        if (typeof ack !== 'function') socket.emit('error', error);
      }
    };
    socket.on(event, listener as never);
  }
}

function sdpOf(req: unknown): string {
  if (!req || typeof req !== 'object' || typeof (req as { sdp?: unknown }).sdp !== 'string') {
    throw new BadRequestError('expected { sdp: string }');
  }
  return (req as { sdp: string }).sdp;
}

export function toSocketError(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof DomainError) return { code: err.code, message: err.message };
  return { code: 'internal', message: 'internal error' };
}
