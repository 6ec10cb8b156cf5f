/**
 * The socket.io signaling protocol, typed once for the server and for clients (the test helper
 * and public/ import these). Client → server events use acknowledgements: every ack is an
 * `Ack<T>`; server → client events are plain emits. See docs/signaling.md.
 */
import type {
  IceCandidateInit,
  IceServerInit,
  LayoutKind,
  ParticipantRole,
  Profile,
} from '../../workers/protocol/media';
import type { ErrorCode } from '../common/errors';

export type Ack<T> = { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string } };

export interface JoinRequest {
  roomId: string;
  displayName: string;
  /** Join token from POST /api/rooms/:id/tokens (required once tokens are enabled). */
  token?: string;
  role?: ParticipantRole;
  profile?: Profile;
}

export interface ParticipantView {
  participantId: string;
  displayName: string;
  role: ParticipantRole;
}

export interface JoinedPayload {
  participantId: string;
  iceServers: IceServerInit[];
  room: { roomId: string; layout: LayoutKind; participants: ParticipantView[]; activeSpeakerId: string | null };
}

export interface ClientToServerEvents {
  join: (req: JoinRequest, ack: (r: Ack<JoinedPayload>) => void) => void;
  offer: (req: { sdp: string }, ack: (r: Ack<{ sdp: string }>) => void) => void;
  answer: (req: { sdp: string }, ack: (r: Ack<null>) => void) => void;
  ice: (req: { candidate: IceCandidateInit | null }, ack: (r: Ack<null>) => void) => void;
  'set-profile': (req: { profile: Profile }, ack: (r: Ack<null>) => void) => void;
  leave: (req: Record<string, never>, ack: (r: Ack<null>) => void) => void;
}

export type RoomEndReason = 'media-worker-died' | 'deleted' | 'server-shutdown';

export interface ServerToClientEvents {
  ice: (d: { candidate: IceCandidateInit | null }) => void;
  /** Server-initiated renegotiation: reply with the `answer` event. */
  offer: (d: { sdp: string }) => void;
  'participant-joined': (d: ParticipantView) => void;
  'participant-left': (d: { participantId: string }) => void;
  'active-speaker': (d: { participantId: string | null }) => void;
  'connection-state': (d: { state: string }) => void;
  'room-ended': (d: { roomId: string; reason: RoomEndReason; message: string }) => void;
  error: (d: { code: ErrorCode; message: string }) => void;
}
