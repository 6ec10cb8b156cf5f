/**
 * The one catalogue of messages between the control plane (src/media) and a media worker
 * (workers/media), and the media vocabulary both sides (and the browser pages) share. Types and
 * constants only, no imports from either side: a renamed field breaks the build on both ends
 * instead of at run time.
 *
 * Every allowed-values list is declared once here as an `as const` array; the TypeScript type,
 * the zod enums (`z.enum(PROFILES)`), the OpenAPI schemas and the pages' pickers derive from it.
 */
import type { SerializedError } from './errors';
import type { CaptureLosses } from './recording';

export const PROFILES = ['low', 'standard', 'high'] as const;
export type Profile = (typeof PROFILES)[number];

/**
 * What a participant's downlink may carry, lowest first: `audio` is its mix-minus alone (the
 * video sender stays negotiated but is fed nothing, "data saver"), then the composite profiles.
 * Adaptive downlink (docs/adaptive-downlink.md) steps along this ladder.
 */
export const DOWNLINK_PROFILES = ['audio', ...PROFILES] as const;
export type DownlinkProfile = (typeof DOWNLINK_PROFILES)[number];

/** The lower of two downlink profiles (a served profile is the lowest of every limit on it). */
export function lowerDownlink(a: DownlinkProfile, b: DownlinkProfile): DownlinkProfile {
  return DOWNLINK_PROFILES.indexOf(a) <= DOWNLINK_PROFILES.indexOf(b) ? a : b;
}

/**
 * Why a participant's served downlink profile changed: `bandwidth` its link (adaptive
 * downlink), `client` its own request (set-profile), `server-load` the room's quality shedding.
 */
/** A participant's uplink as the server receives it (workers/media/uplink-monitor.ts). */
export const UPLINK_STATES = ['good', 'weak'] as const;
export type UplinkState = (typeof UPLINK_STATES)[number];

/** What arrived of a participant's video over the last second. */
export interface UplinkFigures {
  kbps: number;
  fps: number;
  /** Size of the frames decoded (0 before the first). */
  width: number;
  height: number;
  /** Packets lost, % of those sent. */
  lossPct: number;
}

export const DOWNLINK_CHANGE_REASONS = ['bandwidth', 'client', 'server-load'] as const;
export type DownlinkChangeReason = (typeof DOWNLINK_CHANGE_REASONS)[number];

export const LAYOUTS = ['grid', 'speaker', 'pinned'] as const;
export type LayoutKind = (typeof LAYOUTS)[number];

export const FITS = ['letterbox', 'crop'] as const;
export type Fit = (typeof FITS)[number];

/** Roles a client may join with (tokens, the join event). */
export const CLIENT_ROLES = ['publisher', 'viewer'] as const;
export type ClientRole = (typeof CLIENT_ROLES)[number];
/** Every participant's role: `ingress` is a stream pushed or pulled in (RTMP, URL), docs/ingress.md. */
export const ROLES = [...CLIENT_ROLES, 'ingress'] as const;
export type ParticipantRole = (typeof ROLES)[number];

export const MEDIA_KINDS = ['audio', 'video'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

/** The values of the standard RTCPeerConnectionState, which libwebrtc reports as is. */
export const PEER_CONNECTION_STATES = [
  'new',
  'connecting',
  'connected',
  'disconnected',
  'failed',
  'closed',
] as const satisfies readonly RTCPeerConnectionState[];
export type PeerConnectionState = (typeof PEER_CONNECTION_STATES)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Narrows a string (a form field, a query parameter) to one of a list's values. */
export function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  const list: readonly string[] = values;
  return list.includes(value);
}

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

/** Live egress (docs/egress.md): the room's composite and full mix, encoded with ffmpeg. */
/** How an RTSP pull receives its RTP: interleaved in the RTSP TCP connection, or over UDP. */
export const RTSP_TRANSPORTS = ['tcp', 'udp'] as const;
export type RtspTransport = (typeof RTSP_TRANSPORTS)[number];

export const EGRESS_TYPES = ['rtmp', 'hls'] as const;
export type EgressType = (typeof EGRESS_TYPES)[number];

/** starting → active → (reconnecting ↔ active) → stopped | failed. */
export const EGRESS_STATES = ['starting', 'active', 'reconnecting', 'stopped', 'failed'] as const;
export type EgressState = (typeof EGRESS_STATES)[number];
export const FINAL_EGRESS_STATES: readonly EgressState[] = ['stopped', 'failed'];

/** URL schemes an RTMP egress may push to (ffmpeg's rtmp and rtmps protocols). */
export const EGRESS_RTMP_SCHEMES = ['rtmp:', 'rtmps:'] as const;

/**
 * The encode of each profile for egress: H.264 at a near-constant rate (what RTMP ingest
 * points expect: -b:v = -maxrate, -bufsize = 2 s), a keyframe every EGRESS_KEYFRAME_SECONDS,
 * AAC stereo at 128 kbit/s.
 */
export const EGRESS_VIDEO_KBPS: Readonly<Record<Profile, number>> = { low: 300, standard: 900, high: 2500 };
export const EGRESS_H264_PROFILE: Readonly<Record<Profile, 'main' | 'high'>> = {
  low: 'main',
  standard: 'main',
  high: 'high',
};
export const EGRESS_AUDIO_KBPS = 128;
export const EGRESS_KEYFRAME_SECONDS = 2;
export const EGRESS_HLS_PLAYLIST = 'index.m3u8';

/** Where one egress goes; the control plane fills in the limits from its configuration. */
export type EgressTarget =
  | { type: 'rtmp'; url: string; reconnectSeconds: number }
  | { type: 'hls'; dir: string; segmentSeconds: number; listSize: number };

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
  /** Quality shedding steps back up after the worker has kept up for this long (ms). */
  qualityRecoverMs: number;
  /** False: measure only (load reports go on), never shed. */
  qualityShedding: boolean;
  /** Stack of audio-only participants (AUDIO_ONLY_STACK); absent: 'rtp'. */
  audioOnlyStack?: 'rtp' | 'wrtc';
  /**
   * How VP8-capable participants' downlink video is encoded (VIDEO_ENCODE): 'per-peer' (absent)
   * by libwebrtc in each wrtc peer connection; 'shared' once per profile (VP8) and sent over the
   * RTP-level stack to every such receiver (issue #17).
   */
  videoEncode?: VideoEncodeMode;
  /**
   * Adaptive downlink (DOWNLINK_ADAPTATION, DOWNLINK_RECOVER_MS): whether each participant's
   * served profile follows its link, and how long its link must show headroom before a step up.
   * Absent: on, 15 s.
   */
  downlink?: { adaptation: boolean; recoverMs: number };
  /** Lip sync (AV_SYNC): 'off' estimates and reports the delay but does not hold video back. */
  avSync?: 'on' | 'off';
  /**
   * RTP-level downlink video leaves no earlier than this after its composite's tick
   * (DOWNLINK_VIDEO_HOLD_MS; absent: DEFAULT_DOWNLINK_VIDEO_HOLD_MS), so that a receiver gets
   * each picture with the sound of the same instant (docs/lip-sync.md, "The downlink").
   */
  downlinkVideoHoldMs?: number;
  /**
   * The per-peer path's picture (the composite libwebrtc encodes for each wrtc peer) is handed to
   * its encoders this long after its tick (PEER_VIDEO_HOLD_MS; absent: DEFAULT_PEER_VIDEO_HOLD_MS).
   */
  peerVideoHoldMs?: number;
}

/**
 * See RoomMediaSettings.downlinkVideoHoldMs. 60 since every composite rate takes its frames
 * COMPOSE_WAIT_MS after they are due (compositeLeadMs): a 15 fps composite now shows a picture
 * ~17 ms sooner than before, and the receivers' own stacks (NetEq against a shorter video buffer:
 * Chromium's ~8 ms, wrtc's ~21 ms) still play the sound later than the picture; 60 centres a
 * Chromium and a wrtc receiver between them (docs/lip-sync.md, 2026-12-06 seventh session).
 */
export const DEFAULT_DOWNLINK_VIDEO_HOLD_MS = 60;

/**
 * See RoomMediaSettings.peerVideoHoldMs. Measured with `VIDEO_ENCODE=per-peer` once every composite
 * rate took its frames COMPOSE_WAIT_MS after they were due: without a hold a wrtc and a Chromium
 * receiver heard the sound 50 and 46 ms after the picture on average (docs/lip-sync.md, "Run to
 * run"). Less than the shared path's hold: libwebrtc's per-peer encode and pacer delay the picture
 * more than the shared encode does, and no shared stream invites the receiver's own A/V sync.
 */
export const DEFAULT_PEER_VIDEO_HOLD_MS = 45;

/**
 * How this node's media reaches clients; per node (each machine has its own address), so it
 * comes with room.init rather than with the room's settings.
 */
export interface NodeNetworkSettings {
  /** Written into every host candidate the worker gives a client instead of the local address. */
  announcedIp: string | null;
  /** The ICE ports of every peer connection (RTC_MIN_PORT..RTC_MAX_PORT). */
  portRange: { min: number; max: number } | null;
}

export interface ParticipantSnapshot {
  participantId: string;
  displayName: string;
  role: ParticipantRole;
  profile: Profile;
  audioMuted: boolean;
  videoMuted: boolean;
  connectionState: PeerConnectionState;
  hasAudio: boolean;
  hasVideo: boolean;
}

/** One composite encoder shared by every RTP-level receiver of a profile (H.264 endpoints). */
export type VideoEncodeMode = 'per-peer' | 'shared';

/** Codecs a profile's composite is encoded once in for RTP-level receivers. */
export type SharedVideoCodec = 'h264' | 'vp8';

export interface SharedEncoderStats {
  profile: Profile;
  codec: SharedVideoCodec;
  receivers: number;
  framesEncoded: number;
  keyframes: number;
  /** Keyframe requests from receivers (PLI/FIR, new receivers) and how many keyframes they forced. */
  keyframeRequests: number;
  keyframesForced: number;
  droppedBusy: number;
  bytes: number;
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
  /** Quality shedding level: 0 = full quality, QUALITY_LEVELS.length - 1 = most shed. */
  qualityLevel: number;
  cpuUserMicros: number;
  cpuSystemMicros: number;
  rssBytes: number;
  /** The room's shared composite encoders (one per profile with RTP-level receivers). */
  sharedEncoders: SharedEncoderStats[];
  /**
   * Opus encodes of the RTP-level audio downlinks in the last 20 ms frame: the shared full-mix
   * encode (0 or 1), the listeners' own mix-minus encodes, and the listeners sent the shared
   * packets instead. wrtc members encode inside libwebrtc, one each, and are not counted.
   */
  audioEncodes: { shared: number; own: number; sharedListeners: number };
  /**
   * Lip sync per wrtc participant with audio and video (docs/lip-sync.md): the video delay the
   * receive-path estimate asks for and the one applied now (ms).
   */
  avSync?: {
    participantId: string;
    estimatedMs: number | null;
    videoDelayMs: number;
    /** What the estimate was computed from (AvSyncSnapshot.basis). */
    basis: 'stats' | 'sender-reports';
  }[];
}

/** Parent → worker requests: method name → request body and response body. */
export interface MediaRequestMap {
  'room.init': {
    req: { roomId: string; settings: RoomMediaSettings; network: NodeNetworkSettings; logLevel: LogLevel };
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
  'participant.offer': {
    /** waitForCandidates: the answer carries every local candidate (WHIP/WHEP clients do not trickle). */
    req: { participantId: string; sdp: string; waitForCandidates?: boolean };
    res: { sdp: string };
  };
  /** Client answer to a server-initiated offer. */
  'participant.answer': { req: { participantId: string; sdp: string }; res: void };
  'participant.ice': { req: { participantId: string; candidate: IceCandidateInit | null }; res: void };
  /** `pin`: the served profile no longer follows the participant's link (adaptation off for it). */
  'participant.setProfile': {
    req: { participantId: string; profile: DownlinkProfile; pin?: boolean };
    res: void;
  };
  'participant.setMuted': { req: { participantId: string; kind: MediaKind; muted: boolean }; res: void };
  'participant.leave': { req: { participantId: string }; res: void };
  'recording.start': {
    req: { recordingId: string; dir: string; profile: Profile; segmentSeconds: number };
    res: { startedAt: string };
  };
  'recording.stop': {
    req: { recordingId: string };
    /** `losses`: null when the capture had already ended (its recording.ended carried them). */
    res: { interrupted: boolean; losses: CaptureLosses | null };
  };
  /**
   * Starts an egress: the composite of `profile` (in the room's layout, or `layout` when given)
   * and the full mix, encoded once per (profile, layout) and remuxed to the target.
   */
  'egress.start': {
    req: { egressId: string; profile: Profile; layout: LayoutKind | null; target: EgressTarget };
    res: void;
  };
  'egress.stop': { req: { egressId: string }; res: void };
  /**
   * An ingress participant (joined with role `ingress`) opens a loopback port that takes its
   * stream as FLV (an RTMP publish relayed by the control plane); one connection at a time.
   */
  'ingress.listen': { req: { participantId: string }; res: { port: number } };
  /**
   * An ingress participant pulls its stream: ffmpeg reads `url` (rtsp, srt, http(s), or a file
   * path the control plane has checked), at the source's pace when `realtime` (files, HTTP),
   * looping when `loop`; a live source that fails is reconnected with backoff. `rtspTransport`
   * for rtsp(s) URLs (null: TCP).
   */
  'ingress.pull': {
    req: {
      participantId: string;
      url: string;
      realtime: boolean;
      loop: boolean;
      rtspTransport: RtspTransport | null;
    };
    res: void;
  };
  'worker.close': { req: Record<string, never>; res: void };
}

/**
 * How a capture ended. `stopped`: on request, its last segment closed; `capture-exited`: the
 * capture process (ffmpeg) exited on its own, the recording is interrupted.
 */
export const RECORDING_END_REASONS = ['stopped', 'capture-exited', 'disk_full'] as const;
export type RecordingEndReason = (typeof RECORDING_END_REASONS)[number];

/** Worker → parent notifications, delivered in order: event name → payload. */
export interface MediaNotificationMap {
  'participant.ice': { participantId: string; candidate: IceCandidateInit | null };
  /** Server-initiated renegotiation: the client answers with participant.answer. */
  'participant.offer': { participantId: string; sdp: string };
  'participant.connectionState': { participantId: string; state: PeerConnectionState };
  'room.activeSpeaker': { participantId: string | null };
  /** The room's quality shedding took one step; `participants` are those whose downlink changed. */
  'room.quality': {
    level: number;
    direction: 'down' | 'up';
    signals: LoadSignals;
    participants: { participantId: string; fps: number; profile: Profile }[];
  };
  /**
   * A participant's served downlink profile changed (its link, its request or the room's
   * shedding). `estimateKbps`: the link estimate that decided a `bandwidth` change.
   */
  'participant.downlink': {
    participantId: string;
    profile: DownlinkProfile;
    /** What was served before (equal to `profile` for an answer to a request that changed nothing). */
    from: DownlinkProfile;
    requested: DownlinkProfile;
    pinned: boolean;
    reason: DownlinkChangeReason;
    estimateKbps: number | null;
  };
  /**
   * A publisher's uplink: every UPLINK_REPORT_MS while video arrives, and at once when its state
   * changed (`changed`: only then is the participant told).
   */
  'participant.uplink': {
    participantId: string;
    state: UplinkState;
    changed: boolean;
    figures: UplinkFigures;
  };
  /** Every ~2 s: how the worker keeps up (admission control reads it). */
  'room.load': LoadSignals & { qualityLevel: number };
  'recording.ended': {
    recordingId: string;
    interrupted: boolean;
    reason: RecordingEndReason;
    /** For people: what happened, e.g. "ffmpeg exited (code null, signal SIGKILL)". */
    detail: string;
    losses: CaptureLosses;
  };
  /** Every state change of an egress; `error` says why for failed (and reconnecting). */
  'egress.state': { egressId: string; state: EgressState; error: string | null };
}

/**
 * The steps of quality shedding inside a room, from full quality (level 0) down. Audio is never
 * shed; video first loses frame rate (the composite is made and encoded less often for
 * everyone), then resolution (receivers of a profile are served the next lower composite).
 * `fpsCap`: no composite runs faster; `serve`: what a receiver asking for a profile gets.
 */
export interface QualityLevel {
  readonly fpsCap: number;
  readonly serve: Readonly<Record<Profile, Profile>>;
}
const AS_ASKED: Readonly<Record<Profile, Profile>> = { low: 'low', standard: 'standard', high: 'high' };
export const QUALITY_LEVELS: readonly QualityLevel[] = [
  { fpsCap: 30, serve: AS_ASKED },
  { fpsCap: 15, serve: AS_ASKED },
  { fpsCap: 10, serve: AS_ASKED },
  { fpsCap: 7.5, serve: AS_ASKED },
  { fpsCap: 7.5, serve: { low: 'low', standard: 'standard', high: 'standard' } },
  { fpsCap: 7.5, serve: { low: 'low', standard: 'low', high: 'low' } },
];

/** Why a worker reported pressure: the figures of the window that decided it. */
export interface LoadSignals {
  /** p95 of how late the 10 ms media clock ran its ticks in the window (ms). */
  tickLatenessP95Ms: number;
  /** Ticks the clock skipped (stalls longer than its catch-up limit) in the window. */
  skippedTicks: number;
  /** p99 event-loop delay of the worker in the window (ms). */
  loopDelayP99Ms: number;
  /** Composite frames handed to the encoders that they had not sent yet (max over peers). */
  encoderBacklogFrames: number;
}

export type MediaMethod = keyof MediaRequestMap;
export type MediaEvent = keyof MediaNotificationMap;

/**
 * A request as it travels: for a method M, its data is M's request type. Generic rather than a
 * union so that the sender builds it from a generic method and the receiver's handler table
 * (`{ [K in MediaMethod]: (req: MediaRequestMap[K]['req']) => ... }`) takes it without a cast.
 */
export interface MediaRequest<M extends MediaMethod = MediaMethod> {
  kind: 'request';
  id: number;
  method: M;
  data: MediaRequestMap[M]['req'];
}

/** A notification as it travels, one variant per event: `switch (n.event)` narrows `n.data`. */
export type MediaNotification<E extends MediaEvent = MediaEvent> = {
  [K in E]: { event: K; data: MediaNotificationMap[K] };
}[E];

export type ParentToWorkerMessage = MediaRequest;

export type WorkerToParentMessage =
  | { kind: 'ready'; pid: number }
  /** `data` is the response type of the request with this id (MediaRequestMap[method]['res']). */
  | { kind: 'response'; id: number; ok: true; data: unknown }
  | { kind: 'response'; id: number; ok: false; error: SerializedError }
  | ({ kind: 'notification' } & MediaNotification)
  | { kind: 'fatal'; error: SerializedError };

/**
 * How long a worker may take to exit after worker.close: closing its peers is quick, but its
 * recorder lets ffmpeg finish the last segment for up to RECORDING_STOP_AT_CLOSE_MS, then
 * SIGTERM and 5 s more (RecordingSegmenter.stop), so that no recorded second is lost. Past this
 * the supervisor sends SIGTERM, then SIGKILL: the worker is stuck, and its end is counted as a
 * death.
 */
export const WORKER_CLOSE_TIMEOUT_MS = 22_000;
/** What a closing worker gives its recording's ffmpeg to finish (inside WORKER_CLOSE_TIMEOUT_MS). */
export const RECORDING_STOP_AT_CLOSE_MS = 15_000;

/**
 * The longest a recording's stop waits for ffmpeg to encode what it was given. A capture behind
 * real time (x264 slower than the clock on a loaded machine) holds at most ~22 s of media (the
 * audio queues: ours 10 s, the FIFO 0.7 s, ffmpeg's 512 packets of 21.3 ms; video is due up to
 * the audio), which it encodes at its own speed once its inputs end; 2 minutes cover that at
 * ~0.2x (measured beside 16 busy loops: drains of 20-24 s). Past it
 * the rest is given up (SIGTERM: ffmpeg still closes the segment it is writing), and logged.
 */
export const RECORDING_DRAIN_MAX_MS = 120_000;
/**
 * How long the control plane waits for recording.stop: the drain above, SIGTERM's 5 s grace and a
 * margin. It must never give up first: a stop answered "failed" would finalize segments that
 * ffmpeg is still writing.
 */
export const RECORDING_STOP_REQUEST_MS = RECORDING_DRAIN_MAX_MS + 10_000;

/**
 * Exit code a worker uses when its start-up settings are unusable (not a crash): the
 * supervisor then reports "rejected its settings" instead of retrying.
 */
export const WORKER_EXIT_BAD_SETTINGS = 42;
