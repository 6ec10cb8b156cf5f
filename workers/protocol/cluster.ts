/**
 * The node-to-node catalogue of a cluster (docs/scale-out.md, "Signaling relay"): what a node
 * holding a participant's socket asks the node hosting the participant's room, and what the
 * REST API of one node asks the hosting node. Carried by the Redis transport of the request
 * channel (src/cluster/cluster-bus.ts); the same envelope as the media worker's IPC requests.
 */
import type { SerializedError } from './errors';
import type {
  DownlinkProfile,
  EgressState,
  EgressType,
  Fit,
  IceCandidateInit,
  LayoutKind,
  MediaKind,
  ParticipantRole,
  Profile,
  RtspTransport,
} from './media';
import type { RecordingManifest } from './recording';
import type { JoinedPayload, LeftReason, RoomEndReason } from './signaling';

/** A participant as the hosting node reports it (REST `participants`). */
export interface ClusterParticipant {
  participantId: string;
  identity: string;
  displayName: string;
  role: ParticipantRole;
  profile: Profile;
  audioMuted: boolean;
  videoMuted: boolean;
  joinedAt: string;
}

/** An egress as REST shows it (src/egress/egress.schemas.ts `egressSchema` has the same shape). */
export interface ClusterEgressView {
  id: string;
  roomId: string;
  type: EgressType;
  state: EgressState;
  profile: Profile;
  layout: LayoutKind | null;
  url?: string;
  playlistUrl?: string;
  error: string | null;
  createdAt: string;
  endedAt: string | null;
}

/** The body of POST /api/rooms/:id/egress, validated by the node that took the REST call. */
export type ClusterEgressStart =
  | { type: 'rtmp'; url: string; profile?: Profile; layout?: LayoutKind }
  | { type: 'hls'; profile?: Profile; layout?: LayoutKind };

/**
 * waiting: nobody pushes; publishing: a publisher is connected (pull: pulling); ended: deleted,
 * kicked or its room ended; failed: lost with the node that hosted it (`error` says why).
 */
export const INGRESS_STATES = ['waiting', 'publishing', 'ended', 'failed'] as const;
export type IngressState = (typeof INGRESS_STATES)[number];

/** An ingress as REST shows it (src/ingress/ingress.schemas.ts `ingressSchema`). */
export interface ClusterIngressView {
  id: string;
  roomId: string;
  type: 'rtmp' | 'url';
  displayName: string;
  participantId: string;
  url: string;
  loop?: boolean;
  rtspTransport?: RtspTransport;
  state: IngressState;
  error?: string;
  createdAt: string;
}

/** The body of POST /api/rooms/:id/ingress (schema-checked where the REST call arrived). */
export type ClusterIngressStart =
  | { type: 'rtmp'; displayName: string }
  | { type: 'url'; displayName: string; url: string; loop?: boolean; rtspTransport?: RtspTransport };

export interface ClusterRequestMap {
  /**
   * A socket on the asking node (`via`) joins a room this node hosts; connectionId is that
   * socket's id. If `via` dies, its participants here leave as disconnected.
   */
  'session.join': {
    req: {
      via: string;
      roomId: string;
      identity: string;
      displayName: string;
      role: ParticipantRole;
      profile?: Profile;
      audioOnly?: boolean;
      connectionId: string;
    };
    res: JoinedPayload;
  };
  'session.offer': { req: { roomId: string; participantId: string; sdp: string }; res: { sdp: string } };
  'session.answer': { req: { roomId: string; participantId: string; sdp: string }; res: null };
  'session.ice': {
    req: { roomId: string; participantId: string; candidate: IceCandidateInit | null };
    res: null;
  };
  'session.setProfile': {
    req: { roomId: string; participantId: string; profile: DownlinkProfile; pin?: boolean };
    res: null;
  };
  'session.leave': {
    req: { roomId: string; participantId: string; connectionId: string; reason: LeftReason };
    res: null;
  };
  /** REST on a node that does not host the room: the hosting node acts. */
  'room.live': {
    req: { roomId: string };
    res: {
      active: boolean;
      activeSpeakerId: string | null;
      publishers: number;
      participants: ClusterParticipant[];
    };
  };
  'room.kick': { req: { roomId: string; participantId: string }; res: null };
  'room.setMuted': {
    req: { roomId: string; participantId: string; kind: MediaKind; muted: boolean };
    res: ClusterParticipant;
  };
  'room.applyLayout': {
    req: { roomId: string; layout: LayoutKind; fit: Fit; pinnedParticipantId: string | null };
    res: null;
  };
  'room.end': { req: { roomId: string; reason: RoomEndReason; message: string }; res: null };
  /** Recordings run where the room's media worker is. */
  'recording.start': { req: { roomId: string; webm?: boolean }; res: RecordingManifest };
  'recording.stop': { req: { recordingId: string }; res: RecordingManifest };
  /** Egress encodes run in the room's media worker, on the hosting node (docs/egress.md). */
  'egress.start': { req: { roomId: string; body: ClusterEgressStart }; res: ClusterEgressView };
  'egress.stop': { req: { egressId: string }; res: ClusterEgressView };
  /**
   * An HLS file of an egress hosted there (the files are on that node's disk), base64: at most
   * HLS_FORWARD_MAX_BYTES, the node that took the HTTP request caches segments (immutable).
   */
  'egress.hlsFile': { req: { token: string; file: string }; res: { base64: string } };
  /** An ingress is a participant of the room: it is created (and ended) on the hosting node. */
  'ingress.start': { req: { roomId: string; body: ClusterIngressStart }; res: ClusterIngressView };
  'ingress.remove': { req: { ingressId: string }; res: ClusterIngressView };
}

export type ClusterMethod = keyof ClusterRequestMap;

export interface ClusterRequest<M extends ClusterMethod = ClusterMethod> {
  kind: 'request';
  id: number;
  method: M;
  data: ClusterRequestMap[M]['req'];
  /** The asking node: the response goes to its channel. */
  from: string;
}

/** `from`: the answering node, whose channel the asking node matches the id in. */
export type ClusterResponse =
  /** `data` is the response type of the request with this id. */
  | { kind: 'response'; from: string; id: number; ok: true; data: unknown }
  | { kind: 'response'; from: string; id: number; ok: false; error: SerializedError };

export type ClusterMessage = ClusterRequest | ClusterResponse;

/** Largest HLS file one node forwards to another over the bus (a 2 s segment is far smaller). */
export const HLS_FORWARD_MAX_BYTES = 8 * 1024 * 1024;

/** How long a node waits for another to answer; a join may start a media worker. */
export const CLUSTER_REQUEST_TIMEOUT_MS = 10_000;
/** A node's registry entry lives this long unless refreshed; unseen this long = dead. */
export const NODE_TTL_MS = 6000;
/** How often a node refreshes its registry entry and its rooms' claims. */
export const NODE_REFRESH_MS = 2000;
/** A room's claim (room → node) lives this long unless its hosting node refreshes it. */
export const ROOM_CLAIM_TTL_MS = 10_000;
