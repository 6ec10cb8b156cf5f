/**
 * The signaling protocol as the browser sees it: the server's own type catalogue (types only,
 * erased by the bundler) plus one helper that turns an acknowledged emit into a promise.
 */
import type { Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '../../workers/protocol/signaling';

export type {
  Ack,
  JoinedPayload,
  LeftReason,
  ParticipantView,
  ProfileChangedEvent,
  QualityChangedEvent,
  RoomEndReason,
  UplinkQualityEvent,
} from '../../workers/protocol/signaling';
export type { Profile, MediaKind, IceCandidateInit } from '../../workers/protocol/media';

export type McuSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A request that failed with an error code from the server (or `timeout` / `disconnected`). */
export class SignalingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SignalingError';
  }
}

type AckData<E extends keyof ClientToServerEvents> =
  Parameters<Parameters<ClientToServerEvents[E]>[1]>[0] extends Ack<infer T> ? T : never;

/** Emits a client event and resolves with its ack's data; rejects with SignalingError. */
export function request<E extends keyof ClientToServerEvents>(
  socket: McuSocket,
  event: E,
  body: Parameters<ClientToServerEvents[E]>[0],
  timeoutMs = 15000,
): Promise<AckData<E>> {
  return new Promise((resolve, reject) => {
    // socket.io's typed emit cannot express "ack with timeout" for a generic event name.
    const timed = socket.timeout(timeoutMs) as unknown as {
      emit(e: string, b: unknown, cb: (err: Error | null, ack: Ack<unknown>) => void): void;
    };
    timed.emit(event, body, (err, ack) => {
      if (err)
        return reject(
          new SignalingError(socket.connected ? 'timeout' : 'disconnected', `${event}: no answer`),
        );
      if (!ack.ok) return reject(new SignalingError(ack.error.code, ack.error.message));
      resolve(ack.data as AckData<E>);
    });
  });
}
