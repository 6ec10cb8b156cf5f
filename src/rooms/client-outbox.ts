import type { RoomEndReason, ServerEvent, ServerEventArgs } from '../../workers/protocol/signaling';

/**
 * Where the rooms module's messages to participants go, by signaling connection id. The
 * signaling gateway provides it (rooms knows who is in a room, not how they are connected), so
 * membership stays transport-agnostic and does not depend on the signaling module.
 */
export interface ClientOutbox {
  send<E extends ServerEvent>(connectionId: string, event: E, ...args: ServerEventArgs<E>): void;
  /** Closes a connection after what was sent to it (kicked, replaced by a new session). */
  drop(connectionId: string): void;
  /** The room is over for these connections (worker died, room deleted, shutdown). */
  roomEnded(roomId: string, connectionIds: string[], reason: RoomEndReason, message: string): void;
}
