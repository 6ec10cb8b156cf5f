import type {
  IceCandidateInit,
  ParticipantRole,
  ParticipantSnapshot,
  PeerConnectionState,
  Profile,
} from '../protocol/media';
import type { JitterBuffer } from './engine/audio/jitter-buffer';
import type { I420Frame } from './engine/video/i420';
import type { ProfileOutput } from './profile-output';

/**
 * What the room's clock needs of anyone in it, whatever carries their media: a @roamhq/wrtc
 * peer (ParticipantPeer), the RTP-level stack (RtpParticipant: H.264 endpoints) or an ingested
 * stream (IngressMember). The room reads the uplink (latest picture, audio jitter buffer) on its
 * clock and writes the listener's mix-minus into `audioOutput`.
 */
export interface RoomMember {
  readonly id: string;
  readonly displayName: string;
  readonly role: ParticipantRole;
  readonly profile: Profile;
  audioMuted: boolean;
  videoMuted: boolean;
  /**
   * The inbound picture a composite made at `fps` takes now (lip sync: AvSync.frameFor), and when
   * the latest picture arrived (performance.now()).
   */
  frameFor(fps: number): I420Frame | null;
  readonly lastFrameAt: number;
  readonly hasAudio: boolean;
  readonly hasVideo: boolean;
  readonly jitter: JitterBuffer;
  /** The buffer the mixer writes this listener's 10 ms mix-minus into. */
  readonly audioOutput: Int16Array;
  /** Sends what the mixer just wrote into audioOutput (called every 10 ms tick). */
  sendAudio(): void;
  snapshot(): ParticipantSnapshot;
  close(): void;
}

/**
 * A member that negotiates over WebRTC (either stack): signaling goes through the same calls
 * for both, and its downlink is one of the room's profile outputs.
 */
export interface PeerMember extends RoomMember {
  /**
   * Applies a client offer; the first one attaches the profile's downlink. Returns the answer,
   * with every local candidate in it when `waitForCandidates` (clients that do not trickle).
   */
  applyOffer(sdp: string, output: ProfileOutput, waitForCandidates?: boolean): Promise<string>;
  applyAnswer(sdp: string): Promise<void>;
  addIceCandidate(candidate: IceCandidateInit | null): Promise<void>;
  /**
   * Moves the downlink to another profile's composite, without renegotiation. `seamless`: keep
   * the current picture coming until the new one can start (a receiver on a shared stream waits
   * for that stream's keyframe); false when the link cannot carry the current one (a step down
   * for bandwidth: what is still sent only fills the queue the new stream has to pass).
   */
  switchProfile(output: ProfileOutput, seamless?: boolean): Promise<void>;
  /**
   * The `audio` downlink (data saver): the video sender stays negotiated but is fed nothing;
   * switchProfile resumes it, without renegotiation.
   */
  suspendVideo(): Promise<void>;
  /** A server offer to send to the client after a profile switch, or null when none is needed. */
  createServerOffer(): Promise<string | null>;
  /** Video frames sent to this participant so far. */
  framesSent(): Promise<number>;
  readonly connectionState: PeerConnectionState;
}

/** The roster view of any member: the fields every kind shares, plus its connection state. */
export function memberSnapshot(m: RoomMember, connectionState: PeerConnectionState): ParticipantSnapshot {
  return {
    participantId: m.id,
    displayName: m.displayName,
    role: m.role,
    profile: m.profile,
    audioMuted: m.audioMuted,
    videoMuted: m.videoMuted,
    connectionState,
    hasAudio: m.hasAudio,
    hasVideo: m.hasVideo,
  };
}
