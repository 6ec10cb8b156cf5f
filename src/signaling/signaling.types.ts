/**
 * The socket.io signaling protocol, typed once for the server and for clients (the test helper
 * and public/ import these). Client → server events use acknowledgements: every ack is an
 * `Ack<T>`; server → client events are plain emits. See docs/signaling.md.
 */
import type {
  Fit,
  IceCandidateInit,
  IceServerInit,
  LayoutKind,
  MediaKind,
  ParticipantRole,
  Profile,
} from '../../workers/protocol/media';
import type { ErrorCode } from '../common/errors';

export type Ack<T> = { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string } };

export interface JoinRequest {
  roomId: string;
  /** Join token from POST /api/rooms/:id/tokens. Its identity, display name and role win. */
  token: string;
  /** Ignored: the token's display name is used. Accepted for older clients. */
  displayName?: string;
  /** Ignored: the token's role is used. */
  role?: ParticipantRole;
  profile?: Profile;
}

export interface ParticipantView {
  participantId: string;
  identity: string;
  displayName: string;
  role: ParticipantRole;
  audioMuted: boolean;
  videoMuted: boolean;
}

export interface LayoutState {
  layout: LayoutKind;
  fit: Fit;
  pinnedParticipantId: string | null;
}

export interface JoinedPayload {
  participantId: string;
  iceServers: IceServerInit[];
  room: LayoutState & {
    roomId: string;
    name: string;
    participants: ParticipantView[];
    activeSpeakerId: string | null;
  };
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
export type LeftReason = 'left' | 'disconnected' | 'kicked' | 'replaced' | 'room-ended';

/** Shape of the `recording-state` event; emitted by the recordings module. */
export interface RecordingStateEvent {
  recordingId: string;
  state: 'recording' | 'finalizing' | 'ready' | 'failed' | 'interrupted';
}

export interface ServerToClientEvents {
  ice: (d: { candidate: IceCandidateInit | null }) => void;
  /** Server-initiated renegotiation: reply with the `answer` event. */
  offer: (d: { sdp: string }) => void;
  'participant-joined': (d: ParticipantView) => void;
  'participant-left': (d: { participantId: string; reason: LeftReason }) => void;
  'active-speaker': (d: { participantId: string | null }) => void;
  'layout-changed': (d: LayoutState) => void;
  'recording-state': (d: RecordingStateEvent) => void;
  /** Sent to everyone in the room; `participantId` says who was muted or unmuted. */
  'muted-by-server': (d: { participantId: string; kind: MediaKind; muted: boolean }) => void;
  /** This connection was removed; it is disconnected right after. */
  kicked: (d: { reason: 'kicked' | 'replaced'; message: string }) => void;
  'connection-state': (d: { state: string }) => void;
  'room-ended': (d: { roomId: string; reason: RoomEndReason; message: string }) => void;
  error: (d: { code: ErrorCode; message: string }) => void;
}
