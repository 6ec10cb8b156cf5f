/** The public types of RtpPeer: options, events, stats. */
import type { RtpClock } from './clock';
import type { ReceivedFrame } from './frame-assembler';
import type { Logger } from './log';
import type { ReceiveStreamStats } from './receive-stream';
import type { ReceivedVideoFrame } from './rtp-media-line';
import type { VideoCodecName } from './sdp';
import type { SendStreamStats } from './send-stream';

export interface RtpPeerOptions {
  /** Used in logs (participantId or session id). */
  id: string;
  logger?: Logger;
  /** libdatachannel form: `stun:host:port`, `turn:user:password@host:port`. */
  iceServers?: string[];
  /** Local address to gather on (default: every interface). */
  bindAddress?: string;
  /** UDP ports for ICE (inclusive); one port per peer unless `iceUdpMux`. */
  portRange?: { min: number; max: number };
  /** All peers share one UDP port (the first of `portRange`). */
  iceUdpMux?: boolean;
  /** Public address written into host candidates instead of the bound one (behind 1:1 NAT). */
  announcedAddress?: string;
  /** Whether this peer sends / receives media at all (a WHIP ingest only receives). */
  send?: boolean;
  receive?: boolean;
  /** Our video codec preference; default: the remote's order. */
  videoCodecs?: VideoCodecName[];
  /** The bitrate we announce in REMB for the remote's video, bits per second. */
  maxIncomingVideoBitrate?: number;
  /** Minimum time between two PLIs we send. */
  keyframeRequestIntervalMs?: number;
  clock?: RtpClock;
  cname?: string;
  /** Tests and benchmarks only: withhold the first transmission of these video packets. */
  simulateVideoLoss?: (sequenceNumber: number) => boolean;
  /** Tests and benchmarks only: ignore these incoming video packets (not their retransmissions). */
  simulateIncomingVideoLoss?: (sequenceNumber: number) => boolean;
}

export const CONNECTION_STATES = [
  'new',
  'connecting',
  'connected',
  'disconnected',
  'failed',
  'closed',
] as const;
export type RtpConnectionState = (typeof CONNECTION_STATES)[number];

export interface KeyframeRequest {
  /** pli/fir: from the remote; start: a delta frame was offered before any keyframe. */
  reason: 'pli' | 'fir' | 'start';
}

export interface RtpPeerEvents {
  /** A local ICE candidate (browser form, without `a=`), after the local SDP was handed out. */
  candidate: [{ candidate: string; mid: string }];
  'gathering-complete': [];
  'connection-state': [RtpConnectionState];
  'video-frame': [ReceivedVideoFrame];
  'audio-packet': [ReceivedFrame];
  'keyframe-request': [KeyframeRequest];
}

export interface RtpPeerStats {
  connectionState: RtpConnectionState;
  videoCodec: VideoCodecName | null;
  video: { send: SendStreamStats | null; receive: ReceiveStreamStats | null };
  audio: { send: SendStreamStats | null; receive: ReceiveStreamStats | null };
  roundTripTimeMs: number | null;
  selectedCandidatePair: { local: string; remote: string } | null;
}
