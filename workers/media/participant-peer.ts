import type {
  IceCandidateInit,
  IceServerInit,
  ParticipantRole,
  NodeNetworkSettings,
  ParticipantSnapshot,
  PeerConnectionState,
  Profile,
} from '../protocol/media';
import { OUTPUT_PROFILES } from '../protocol/media';
import { ConflictError, InvalidCandidateError, PayloadTooLargeError } from '../kernel/errors';
import type { Logger } from '../kernel/logger';
import type { I420Frame } from './engine/video/i420';
import type { ProfileOutput } from './profile-output';
import { memberSnapshot, type PeerMember } from './room-member';
import { JitterBuffer } from './engine/audio/jitter-buffer';
import { FRAME_SAMPLES, SAMPLE_RATE } from './engine/audio/jitter-buffer';
import { CandidateAnnouncer } from './announced-ip';
import { withVideoBandwidth } from './sdp';
import type { RawStat } from './downlink-stats';
import { AvSync, inboundCounters } from './av-sync';
import {
  createAudioSink,
  createVideoSink,
  RTCAudioSource,
  createPeerConnection,
  type AudioSink,
  type VideoSink,
  type WrtcAudioSource,
  type WrtcPeerConnection,
} from './wrtc';

/** Longest wait for ICE gathering before an answer goes out with what was gathered. */
const GATHERING_TIMEOUT_MS = 5000;

export interface PeerEvents {
  onIceCandidate(candidate: IceCandidateInit | null): void;
  onConnectionState(state: PeerConnectionState): void;
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
  network: NodeNetworkSettings;
  /** 'off': the lip-sync delay is estimated and reported but not applied. */
  avSync?: 'on' | 'off';
}

/**
 * One participant's RTCPeerConnection and everything the room reads from or writes to it:
 * the latest decoded inbound frame, the inbound audio jitter buffer, and this listener's own
 * audio source (its mix-minus differs from everyone else's, so it cannot be shared).
 */
export class ParticipantPeer implements PeerMember {
  readonly id: string;
  readonly displayName: string;
  readonly role: ParticipantRole;
  profile: Profile;
  /**
   * The profile whose bitrate ceiling the descriptions carry: the one asked for, which may be
   * above the one served (adaptive downlink, shedding) so that stepping back up needs no offer.
   */
  ceiling: Profile;
  audioMuted = false;
  videoMuted = false;
  connectionState: PeerConnectionState = 'new';

  /** When the latest decoded inbound frame arrived (performance.now()). */
  lastFrameAt = 0;
  /** Holds the inbound video back by the audio path's extra delay (lip sync, av-sync.ts). */
  readonly avSync: AvSync;
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
    this.ceiling = init.profile;
    this.avSync = new AvSync(init.avSync !== 'off');
    this.maxIce = init.maxIceCandidates;
    this.announcer = init.network.announcedIp ? new CandidateAnnouncer(init.network.announcedIp) : null;
    this.pc = createPeerConnection({
      iceServers: init.iceServers,
      ...(init.network.portRange ? { portRange: init.network.portRange } : {}),
    });
    this.pc.onicecandidate = (e) => {
      const c = e.candidate;
      if (!c) return this.events.onIceCandidate(null);
      const candidate = this.announcer ? this.announcer.candidate(c.candidate) : c.candidate;
      if (candidate !== null)
        this.events.onIceCandidate({ candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex });
    };
    this.pc.onconnectionstatechange = () => {
      this.connectionState = this.pc.connectionState;
      this.events.onConnectionState(this.connectionState);
    };
    this.pc.ontrack = (e) => this.onTrack(e.track);
  }

  private readonly maxIce: number;
  /** Null without ANNOUNCED_IP: candidates leave as libwebrtc wrote them. */
  private readonly announcer: CandidateAnnouncer | null;

  /** What a local description looks like to the client (announced address, see announced-ip.ts). */
  private outbound(sdp: string): string {
    return this.announcer ? this.announcer.sdp(sdp) : sdp;
  }

  /** The inbound picture a composite made at `fps` takes now (AvSync.frameFor: behind by the lip-sync delay). */
  frameFor(fps: number): I420Frame | null {
    return this.avSync.frameFor(fps, performance.now());
  }

  /**
   * One lip-sync step (once a second): the receive-path delays from a libwebrtc stats report, the
   * one the room's link windows read anyway (DownlinkAdaptation), so no call of its own.
   */
  updateAvSync(stats: readonly RawStat[]): void {
    if (this.closed || !this.hasAudio || !this.hasVideo) return;
    const counters = inboundCounters(stats);
    const roomWait = this.jitter.takeMeanWaitMs();
    if (counters && roomWait !== null) this.avSync.update(counters, roomWait);
  }

  /** The buffer the mixer writes this listener's mix-minus into. */
  get audioOutput(): Int16Array {
    return this.audioOut.samples;
  }

  sendAudio(): void {
    this.audioSource.onData(this.audioOut);
  }

  /** Applies a client offer and returns the answer; the first offer attaches our outbound tracks. */
  async applyOffer(sdp: string, output: ProfileOutput, waitForCandidates = false): Promise<string> {
    if (this.pc.signalingState !== 'stable') {
      throw new ConflictError(`cannot apply an offer in signaling state ${this.pc.signalingState}`);
    }
    const kbps = OUTPUT_PROFILES[this.ceiling].maxVideoKbps;
    await this.pc.setRemoteDescription({ type: 'offer', sdp: withVideoBandwidth(sdp, kbps) });
    if (!this.negotiated) {
      // addTrack after the remote offer reuses the offer's audio/video transceivers, so a
      // sendrecv or recvonly client gets exactly one audio and one video track back.
      this.videoSender = this.pc.addTrack(output.track);
      this.pc.addTrack(this.audioTrack);
      this.negotiated = true;
    }
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    if (waitForCandidates) await this.gathered();
    return this.outbound(this.pc.localDescription?.sdp ?? answer.sdp ?? '');
  }

  /** ICE gathering complete (host candidates only take milliseconds; STUN/TURN up to the bound). */
  private gathered(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      };
      const timer = setTimeout(done, GATHERING_TIMEOUT_MS);
      const poll = setInterval(() => {
        if (this.closed || this.pc.iceGatheringState === 'complete') done();
      }, 20);
    });
  }

  async applyAnswer(sdp: string): Promise<void> {
    if (this.pc.signalingState !== 'have-local-offer') {
      throw new ConflictError(`no server offer is waiting for an answer (state ${this.pc.signalingState})`);
    }
    const kbps = OUTPUT_PROFILES[this.ceiling].maxVideoKbps;
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
    const sdp = this.pc.localDescription?.sdp ?? offer.sdp;
    return sdp ? this.outbound(sdp) : null;
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

  /**
   * Switches the downlink to another profile's composite without renegotiation (seamless by
   * itself: libwebrtc's encoder goes on with the new track's frames).
   */
  async switchProfile(output: ProfileOutput): Promise<void> {
    this.profile = output.profile.name;
    if (this.videoSender) await this.videoSender.replaceTrack(output.track);
  }

  /** The `audio` downlink: no track on the video sender (it stays negotiated; switchProfile resumes it). */
  async suspendVideo(): Promise<void> {
    if (this.videoSender) await this.videoSender.replaceTrack(null);
  }

  /** Every entry of libwebrtc's stats report (the adaptive downlink reads its link from them). */
  async rawStats(): Promise<RawStat[]> {
    const out: RawStat[] = [];
    (await this.pc.getStats()).forEach((s: RawStat) => out.push(s));
    return out;
  }

  /** True once the first client offer attached our tracks. */
  get hasNegotiated(): boolean {
    return this.negotiated;
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
    return memberSnapshot(this, this.connectionState);
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
    // A closed member says nothing more: its slot may already belong to its RTP-level successor
    // (MediaRoom.moveToRtp), whose session a late 'closed' would end.
    this.pc.onicecandidate = null;
    this.pc.onconnectionstatechange = null;
    this.pc.ontrack = null;
    this.pc.close();
    this.avSync.clear();
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
        this.lastFrameAt = performance.now();
        this.avSync.push(frame, this.lastFrameAt);
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
