/**
 * The one catalogue of messages between the control plane (src/media) and a media worker
 * (workers/media). Types only: both sides import it, so a renamed field breaks the build on
 * both ends instead of at run time.
 */

export type Profile = 'low' | 'standard' | 'high';
export type LayoutKind = 'grid' | 'speaker' | 'pinned';
export type Fit = 'letterbox' | 'crop';
export type ParticipantRole = 'publisher' | 'viewer';
export type MediaKind = 'audio' | 'video';

export interface OutputProfile {
  readonly name: Profile;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Ceiling for the video downlink, enforced toward the client; congestion control adapts below. */
  readonly maxVideoKbps: number;
}

export const OUTPUT_PROFILES: Readonly<Record<Profile, OutputProfile>> = {
  low: { name: 'low', width: 320, height: 180, fps: 15, maxVideoKbps: 120 },
  standard: { name: 'standard', width: 640, height: 360, fps: 15, maxVideoKbps: 550 },
  high: { name: 'high', width: 1280, height: 720, fps: 30, maxVideoKbps: 1700 },
};

export interface IceServerInit {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

export interface RoomMediaSettings {
  layout: LayoutKind;
  fit: Fit;
  pinnedParticipantId: string | null;
  maxParticipants: number;
  iceServers: IceServerInit[];
  /** Largest SDP accepted from a client, in bytes. */
  maxSdpBytes: number;
  maxIceCandidatesPerParticipant: number;
}

export interface ParticipantSnapshot {
  participantId: string;
  displayName: string;
  role: ParticipantRole;
  profile: Profile;
  audioMuted: boolean;
  videoMuted: boolean;
  connectionState: string;
  hasAudio: boolean;
  hasVideo: boolean;
}

export interface RoomStats {
  roomId: string;
  participants: ParticipantSnapshot[];
  activeSpeakerId: string | null;
  composedFps: Partial<Record<Profile, number>>;
  /** Frames the peer connections actually sent per second, averaged over the peers of a profile. */
  deliveredFps: Partial<Record<Profile, number>>;
  audioUnderruns: number;
  /** p99 event-loop delay of the worker since the previous stats call: its clocks' lateness. */
  eventLoopDelayP99Ms: number;
  cpuUserMicros: number;
  cpuSystemMicros: number;
  rssBytes: number;
}

/** Parent → worker requests: method name → request body and response body. */
export interface MediaRequestMap {
  'room.init': {
    req: { roomId: string; settings: RoomMediaSettings; logLevel: 'debug' | 'info' | 'warn' | 'error' };
    res: { pid: number };
  };
  'room.update': {
    req: Partial<Pick<RoomMediaSettings, 'layout' | 'fit' | 'pinnedParticipantId'>>;
    res: void;
  };
  'room.stats': { req: Record<string, never>; res: RoomStats };
  'participant.join': {
    req: { participantId: string; displayName: string; role: ParticipantRole; profile: Profile };
    res: void;
  };
  /** Client offer → server answer. */
  'participant.offer': { req: { participantId: string; sdp: string }; res: { sdp: string } };
  /** Client answer to a server-initiated offer. */
  'participant.answer': { req: { participantId: string; sdp: string }; res: void };
  'participant.ice': { req: { participantId: string; candidate: IceCandidateInit | null }; res: void };
  'participant.setProfile': { req: { participantId: string; profile: Profile }; res: void };
  'participant.setMuted': { req: { participantId: string; kind: MediaKind; muted: boolean }; res: void };
  'participant.leave': { req: { participantId: string }; res: void };
  'recording.start': {
    req: { recordingId: string; dir: string; profile: Profile; segmentSeconds: number };
    res: { startedAt: string };
  };
  'recording.stop': { req: { recordingId: string }; res: { interrupted: boolean } };
  'worker.close': { req: Record<string, never>; res: void };
}

/** Worker → parent notifications, delivered in order. */
export interface MediaNotificationMap {
  'participant.ice': { participantId: string; candidate: IceCandidateInit | null };
  /** Server-initiated renegotiation: the client answers with participant.answer. */
  'participant.offer': { participantId: string; sdp: string };
  'participant.connectionState': { participantId: string; state: string };
  'room.activeSpeaker': { participantId: string | null };
  'recording.ended': { recordingId: string; interrupted: boolean; reason: string };
}

export type MediaMethod = keyof MediaRequestMap;
export type MediaEvent = keyof MediaNotificationMap;

/** Errors cross the process boundary as plain data with a stable name. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export type ParentToWorkerMessage = {
  kind: 'request';
  id: number;
  method: MediaMethod;
  data: unknown;
};

export type WorkerToParentMessage =
  | { kind: 'ready'; pid: number }
  | { kind: 'response'; id: number; ok: true; data: unknown }
  | { kind: 'response'; id: number; ok: false; error: SerializedError }
  | { kind: 'notification'; event: MediaEvent; data: unknown }
  | { kind: 'fatal'; error: SerializedError };

/** Exit code a worker uses when its start-up settings are unusable (not a crash). */
export const WORKER_EXIT_BAD_SETTINGS = 42;
