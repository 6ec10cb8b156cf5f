import type {
  IceCandidateInit,
  IceServerInit,
  ParticipantRole,
  ParticipantSnapshot,
  Profile,
} from '../protocol/media';
import { OUTPUT_PROFILES } from '../protocol/media';
import { ConflictError, InvalidCandidateError, PayloadTooLargeError } from '../../src/common/errors';
import type { Logger } from '../../src/common/logger';
import type { I420Frame } from './engine/video/i420';
import { JitterBuffer } from './engine/audio/jitter-buffer';
import { FRAME_SAMPLES, SAMPLE_RATE } from './engine/audio/jitter-buffer';
import { withVideoBandwidth } from './sdp';
import {
  createAudioSink,
  createVideoSink,
  RTCAudioSource,
  RTCPeerConnection,
  type AudioSink,
  type VideoSink,
  type WrtcAudioSource,
  type WrtcPeerConnection,
} from './wrtc';

export interface PeerEvents {
  onIceCandidate(candidate: IceCandidateInit | null): void;
  onConnectionState(state: string): void;
  /** Inbound tracks appeared or went away: the layout may need a re-plan. */
  onMediaChanged(): void;
}

export interface PeerInit {
  participantId: string;
  displayName: string;
  role: ParticipantRole;
  profile: Profile;
  iceServers: IceServerInit[];
  maxIceCandidates: number;
}

/**
 * One participant's RTCPeerConnection and everything the room reads from or writes to it:
 * the latest decoded inbound frame, the inbound audio jitter buffer, and this listener's own
 * audio source (its mix-minus differs from everyone else's, so it cannot be shared).
 */
export class ParticipantPeer {
  readonly id: string;
  readonly displayName: string;
  readonly role: ParticipantRole;
  profile: Profile;
  audioMuted = false;
  videoMuted = false;
  connectionState = 'new';

  /** Latest decoded inbound frame and when it arrived (performance.now()). */
  latestFrame: I420Frame | null = null;
  lastFrameAt = 0;
  hasAudio = false;
  hasVideo = false;
  readonly jitter = new JitterBuffer();

  private readonly pc: WrtcPeerConnection;
  private readonly audioSource: WrtcAudioSource = new RTCAudioSource();
  private readonly audioTrack = this.audioSource.createTrack();
  /** Reused for every 10 ms push: the native side copies the samples synchronously. */
  private readonly audioOut = {
    samples: new Int16Array(FRAME_SAMPLES),
    sampleRate: SAMPLE_RATE,
    bitsPerSample: 16,
    channelCount: 1,
    numberOfFrames: FRAME_SAMPLES,
  };
  private videoSender: RTCRtpSender | null = null;
  private videoSink: VideoSink | null = null;
  private audioSink: AudioSink | null = null;
  private iceCount = 0;
  private negotiated = false;
  private closed = false;

  constructor(
    init: PeerInit,
    private readonly events: PeerEvents,
    private readonly log: Logger,
  ) {
    this.id = init.participantId;
    this.displayName = init.displayName;
    this.role = init.role;
    this.profile = init.profile;
    this.maxIce = init.maxIceCandidates;
    this.pc = new RTCPeerConnection({ iceServers: init.iceServers });
    this.pc.onicecandidate = (e) => {
      const c = e.candidate;
      this.events.onIceCandidate(
        c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : null,
      );
    };
    this.pc.onconnectionstatechange = () => {
      this.connectionState = this.pc.connectionState;
      this.events.onConnectionState(this.connectionState);
    };
    this.pc.ontrack = (e) => this.onTrack(e.track);
  }

  private readonly maxIce: number;

  /** The buffer the mixer writes this listener's mix-minus into. */
  get audioOutput(): Int16Array {
    return this.audioOut.samples;
  }

  sendAudio(): void {
    this.audioSource.onData(this.audioOut);
  }

  /** Applies a client offer and returns the answer; the first offer attaches our outbound tracks. */
  async applyOffer(sdp: string, videoTrack: MediaStreamTrack): Promise<string> {
    if (this.pc.signalingState !== 'stable') {
      throw new ConflictError(`cannot apply an offer in signaling state ${this.pc.signalingState}`);
    }
    const kbps = OUTPUT_PROFILES[this.profile].maxVideoKbps;
    await this.pc.setRemoteDescription({ type: 'offer', sdp: withVideoBandwidth(sdp, kbps) });
    if (!this.negotiated) {
      // addTrack after the remote offer reuses the offer's audio/video transceivers, so a
      // sendrecv or recvonly client gets exactly one audio and one video track back.
      this.videoSender = this.pc.addTrack(videoTrack);
      this.pc.addTrack(this.audioTrack);
      this.negotiated = true;
    }
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    return this.pc.localDescription?.sdp ?? answer.sdp ?? '';
  }

  async applyAnswer(sdp: string): Promise<void> {
    if (this.pc.signalingState !== 'have-local-offer') {
      throw new ConflictError(`no server offer is waiting for an answer (state ${this.pc.signalingState})`);
    }
    const kbps = OUTPUT_PROFILES[this.profile].maxVideoKbps;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: withVideoBandwidth(sdp, kbps) });
  }

  /**
   * Server-initiated renegotiation (e.g. a profile switch: the new bitrate ceiling takes effect
   * when the client's answer comes back, because the ceiling lives in the remote description).
   * Returns the offer to send to the client, or null when a negotiation is already under way.
   */
  async createServerOffer(): Promise<string | null> {
    if (!this.negotiated || this.pc.signalingState !== 'stable') return null;
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    return this.pc.localDescription?.sdp ?? offer.sdp ?? null;
  }

  async addIceCandidate(candidate: IceCandidateInit | null): Promise<void> {
    if (candidate === null) return; // end of candidates: nothing to do for libwebrtc here
    if (++this.iceCount > this.maxIce) {
      throw new PayloadTooLargeError(`more than ${this.maxIce} ICE candidates from one participant`);
    }
    if (typeof candidate.candidate !== 'string' || candidate.candidate.length > 1024) {
      throw new InvalidCandidateError('candidate must be a string of at most 1024 characters');
    }
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      throw new InvalidCandidateError(`ICE candidate rejected: ${(err as Error).message}`);
    }
  }

  /** Switches the downlink to another profile's composite without renegotiation. */
  async switchVideoTrack(profile: Profile, track: MediaStreamTrack): Promise<void> {
    this.profile = profile;
    if (this.videoSender) await this.videoSender.replaceTrack(track);
  }

  /** Video frames sent to this peer so far (encoder output, from libwebrtc's stats). */
  async framesSent(): Promise<number> {
    const report = await this.pc.getStats();
    let frames = 0;
    report.forEach((s: { type: string; kind?: string; mediaType?: string; framesSent?: number }) => {
      if (s.type === 'outbound-rtp' && (s.kind ?? s.mediaType) === 'video') frames += s.framesSent ?? 0;
    });
    return frames;
  }

  snapshot(): ParticipantSnapshot {
    return {
      participantId: this.id,
      displayName: this.displayName,
      role: this.role,
      profile: this.profile,
      audioMuted: this.audioMuted,
      videoMuted: this.videoMuted,
      connectionState: this.connectionState,
      hasAudio: this.hasAudio,
      hasVideo: this.hasVideo,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Detach the callbacks before stopping: a frame already queued for the JS thread must not
    // reach a peer that is being torn down.
    if (this.videoSink) this.videoSink.onframe = null;
    if (this.audioSink) this.audioSink.ondata = null;
    this.videoSink?.stop();
    this.audioSink?.stop();
    this.audioTrack.stop();
    this.pc.close();
  }

  private onTrack(track: MediaStreamTrack): void {
    if (this.role === 'viewer') {
      this.log.warn('viewer sent a track; ignoring it', { kind: track.kind });
      return;
    }
    if (track.kind === 'video' && !this.videoSink) {
      this.videoSink = createVideoSink(track);
      this.videoSink.onframe = ({ frame }) => {
        // wrtc may hand out a Uint8ClampedArray; a Uint8Array view over the same bytes (no copy)
        // keeps the compositor's typed-array code monomorphic.
        const d = frame.data;
        if (!(d instanceof Uint8Array)) {
          const v = d as ArrayBufferView;
          frame.data = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
        }
        this.latestFrame = frame;
        this.lastFrameAt = performance.now();
        if (!this.hasVideo) {
          this.hasVideo = true;
          this.events.onMediaChanged();
        }
      };
    } else if (track.kind === 'audio' && !this.audioSink) {
      this.audioSink = createAudioSink(track);
      this.audioSink.ondata = (d) => {
        this.hasAudio = true;
        this.jitter.push(d.samples, d.sampleRate, d.channelCount);
      };
    }
  }
}
