/**
 * The socket.io signaling protocol between a client and the control plane, typed once for the
 * server (src/signaling, src/rooms) and for clients (public/src, the test and bench clients).
 * Client → server events use acknowledgements: every ack is an `Ack<T>`; server → client events
 * are plain emits. See docs/signaling.md.
 */
import type { ErrorCode } from './errors';
import type {
  UplinkFigures,
  UplinkState,
  Fit,
  IceCandidateInit,
  DownlinkChangeReason,
  DownlinkProfile,
  IceServerInit,
  LayoutKind,
  MediaKind,
  ParticipantRole,
  PeerConnectionState,
  Profile,
} from './media';
import type { RecordingState } from './recording';

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
  /**
   * The client will offer no video (audio only): admission control charges the audio-only cost,
   * so such joins are admitted longer. An offer that has video after all is charged in full.
   */
  audioOnly?: boolean;
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
  /**
   * `profile: 'audio'` is the data saver (mix-minus only). `pin: true` keeps the profile whatever
   * the link (no adaptive downlink for this participant); without it the server may serve less
   * while the link cannot carry the profile (`profile-changed`).
   */
  'set-profile': (req: SetProfileRequest, ack: (r: Ack<null>) => void) => void;
  leave: (req: Record<string, never>, ack: (r: Ack<null>) => void) => void;
}

/** media-node-lost: the cluster node hosting the room disappeared (docs/scale-out.md, Failures). */
export const ROOM_END_REASONS = [
  'media-worker-died',
  'media-node-lost',
  'deleted',
  'server-shutdown',
] as const;
export type RoomEndReason = (typeof ROOM_END_REASONS)[number];

export const LEFT_REASONS = ['left', 'disconnected', 'kicked', 'replaced', 'room-ended'] as const;
export type LeftReason = (typeof LEFT_REASONS)[number];

/** Shape of the `recording-state` event; emitted by the recordings module. */
export interface RecordingStateEvent {
  recordingId: string;
  state: RecordingState;
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
  'connection-state': (d: { state: PeerConnectionState }) => void;
  'room-ended': (d: { roomId: string; reason: RoomEndReason; message: string }) => void;
  error: (d: { code: ErrorCode; message: string }) => void;
  /**
   * The server changed what this participant receives (frame rate of the composite, the output
   * profile actually served) because its media worker fell behind, or restored it.
   */
  'quality-changed': (d: QualityChangedEvent) => void;
  /**
   * The downlink profile this participant is served changed: its link could not carry the
   * profile or has room again (`bandwidth`), it asked (`client`), or the room sheds (`server-load`).
   */
  'profile-changed': (d: ProfileChangedEvent) => void;
  /**
   * How the server receives this participant's video changed: `weak` (loss or a low frame rate
   * for a few seconds) asks the page to send a smaller picture; `good` again after ~10 s.
   */
  'uplink-quality': (d: UplinkQualityEvent) => void;
}

export interface UplinkQualityEvent extends UplinkFigures {
  state: UplinkState;
}

export interface SetProfileRequest {
  profile: DownlinkProfile;
  pin?: boolean;
}

export interface ProfileChangedEvent {
  /** What is served now (`audio`: no video is sent, the video track stays negotiated). */
  profile: DownlinkProfile;
  /** What the participant asked for (join profile or its last set-profile). */
  requested: DownlinkProfile;
  /** True: the participant pinned its profile (no adaptation). */
  pinned: boolean;
  reason: DownlinkChangeReason;
}

export const QUALITY_CHANGE_REASONS = ['server-load'] as const;
export type QualityChangeReason = (typeof QUALITY_CHANGE_REASONS)[number];

export interface QualityChangedEvent {
  /** Frames per second of the composite this participant now receives. */
  fps: number;
  /** The output profile now served (may be below the one asked for while shedding). */
  profile: Profile;
  reason: QualityChangeReason;
}

export type ServerEvent = keyof ServerToClientEvents;
/** The arguments of a server → client event, for typed emits with a generic event name. */
export type ServerEventArgs<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>;
