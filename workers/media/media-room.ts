import { monitorEventLoopDelay } from 'node:perf_hooks';
import type {
  DownlinkChangeReason,
  DownlinkProfile,
  IceCandidateInit,
  LoadSignals,
  MediaKind,
  MediaNotification,
  MediaRequestMap,
  ParticipantRole,
  Profile,
  NodeNetworkSettings,
  RoomMediaSettings,
  RoomStats,
  UplinkFigures,
} from '../protocol/media';
import {
  DEFAULT_DOWNLINK_VIDEO_HOLD_MS,
  DOWNLINK_PROFILES,
  DEFAULT_PEER_VIDEO_HOLD_MS,
  OUTPUT_PROFILES,
  QUALITY_LEVELS,
  RECORDING_STOP_AT_CLOSE_MS,
  type MediaNotificationMap,
} from '../protocol/media';
import {
  BadRequestError,
  ConflictError,
  ParticipantNotFoundError,
  RecordingCancelledError,
  RoomFullError,
} from '../kernel/errors';
import type { Logger } from '../kernel/logger';
import { ActiveSpeakerDetector } from './engine/audio/active-speaker';
import { FRAME_SAMPLES } from './engine/audio/jitter-buffer';
import { MixMinusMixer, rms } from './engine/audio/mixer';
import type { TileSource } from './engine/video/compositor';
import { MediaClock } from './media-clock';
import { ParticipantPeer, type PeerEvents, type PeerInit } from './participant-peer';
import type { QualityStep } from './quality-controller';
import { RoomQuality } from './room-quality';
import { IngressMember } from './ingress/ingress-member';
import { ProfileOutput, type LayoutState } from './profile-output';
import type { PeerMember, RoomMember } from './room-member';
import { RoomRecorder } from './room-recorder';
import { offerReceivesVideo } from '../kernel/sdp-media';
import { isAudioOnlyOffer, isH264OnlyOffer, offersVp8, RtpParticipant } from './rtp-participant';
import { AudioDownlinks } from './audio-downlinks';
import { EgressHub } from './egress/egress-hub';
import { validateSdp } from './sdp';
import { DownlinkAdaptation } from './downlink-adaptation';
import { UplinkMonitor } from './uplink-monitor';
import { AUDIO_TICK_MS, BASE_FPS, baseFrameAt, frameDivisor } from './frame-grid';

type Notify = (n: MediaNotification) => void;

/** Everyone the room holds: WebRTC members (either stack) and ingested streams. */
type AnyMember = PeerMember | IngressMember;

/** An input that sent nothing for this long shows its placeholder instead of a frozen picture. */
const STALE_VIDEO_MS = 3000;
/**
 * An input quieter than this (RMS, -70 dBFS) in a tick is left out of the mix: inaudible
 * either way, and its listener then hears exactly the full mix, which RTP-level listeners
 * share one encode of (audio-downlinks.ts). Microphone noise after a browser's noise
 * suppression is at or below this level.
 */
const SILENCE_GATE_RMS = 10 ** (-70 / 20);
/** Lip sync: receiver stats sampled once a second, the estimate logged every 30th round. */
const AV_SYNC_PERIOD_MS = 1000;
const AV_SYNC_LOG_EVERY = 30;
/** A publisher's uplink figures go to the control plane this often (and on every state change). */
const UPLINK_REPORT_MS = 5000;

/**
 * One room's real-time engine: participants' peer connections, one composite per output
 * profile in use, a mix-minus per listener every 10 ms, active-speaker detection, and the
 * recorder's feed. One 10 ms media clock drives everything (audio every tick, video on the ticks
 * where the frame index advances); the arrival of media drives nothing, so one participant's
 * trouble never stalls the others.
 */
export class MediaRoom {
  private readonly peers = new Map<string, AnyMember>();
  /** Publishers (and ingresses) in join order: the layout order and the mixer's slot order. */
  private publishers: RoomMember[] = [];
  private publisherIds: string[] = [];
  /** Everyone who has a mixer slot (senders first, then viewers), in slot order. */
  private listeners: RoomMember[] = [];
  private readonly outputs = new Map<Profile, ProfileOutput>();
  /** The same outputs as an array: the 30 Hz tick walks it without allocating an iterator. */
  private outputList: ProfileOutput[] = [];
  private readonly layout: LayoutState;

  private readonly mixer: MixMinusMixer;
  private readonly inputs: Int16Array[] = [];
  private readonly contributes: Uint8Array;
  /** Slot i is listener i's own send buffer (set in rebuildOrder): the mixer writes in place. */
  private readonly mixOutputs: Int16Array[] = [];
  private readonly mixAll = new Int16Array(FRAME_SAMPLES);
  private readonly silence = new Int16Array(FRAME_SAMPLES);
  private readonly levels = new Map<string, number>();
  private readonly speaker = new ActiveSpeakerDetector();
  private audioUnderruns = 0;
  /** Hands each listener its mix; RTP-level listeners who are silent share one encode. */
  private readonly downlinks = new AudioDownlinks();

  /**
   * One 10 ms clock drives both media: every tick mixes audio, and the ticks on which the
   * 30 fps frame index advances also compose video. Frames are then emitted at a fixed point of
   * the audio timeline (at most 10 ms after their ideal time), so the recorder, whose master
   * clock is the audio, never sees two timers race; and a stall costs both media the same time.
   */
  private readonly clock = new MediaClock(AUDIO_TICK_MS, (tick, now) => this.onTick(tick, now));
  private lastVideoFrame = -1;
  private recorder: RoomRecorder | null = null;
  /** Skipped audio ticks already filled with silence in the recording. */
  private recordedSkips = 0;
  private readonly fpsWindow = new Map<Profile, { frames: number; at: number; fps: number }>();
  /** Live egress (RTMP, HLS): encodes of the composite and the full mix, fanned out. */
  readonly egress: EgressHub;
  /** Reused by composeIn: the room's layout state with another kind. */
  private readonly otherLayout: LayoutState;
  /** Overload shows first as a late event loop (the clocks run late), so it is reported. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  /** Sheds video (frame rate, then profile) while the worker falls behind; see room-quality.ts. */
  private readonly quality: RoomQuality;
  /** Per peer: its encoder's frames sent and its output's frames sent at the last backlog sample. */
  private readonly backlogBase = new Map<string, { sent: number; handed: number }>();
  /** Per member: the profile it asked for (`profile` on the member is the one served). */
  private readonly asked = new Map<string, DownlinkProfile>();
  /** Members that pinned their profile: their downlink does not follow their link. */
  private readonly pinned = new Set<string>();
  /**
   * Members served `audio` (data saver, or adaptation's lowest step): their video sender is fed
   * nothing and they count as no user of their `profile`'s output, which is kept to resume to.
   */
  private readonly audioServed = new Set<string>();
  /** Per publishing member: its uplink's state and when it was last reported to the control plane. */
  private readonly uplinks = new Map<string, { monitor: UplinkMonitor; reportedAt: number }>();
  /** Adaptive downlink: each wrtc member's served profile follows its link (docs/adaptive-downlink.md). */
  private readonly downlink: DownlinkAdaptation;
  /** Members whose first offer was applied, and those of them with no video downlink. */
  private readonly offered = new Set<string>();
  private readonly videoless = new Set<string>();
  /** Lip sync: every wrtc peer's receive-path delays are sampled this often (av-sync.ts). */
  private readonly avSyncTimer: NodeJS.Timeout;
  private avSyncRounds = 0;

  constructor(
    readonly roomId: string,
    private settings: RoomMediaSettings,
    private readonly notify: Notify,
    private readonly log: Logger,
    private readonly network: NodeNetworkSettings,
  ) {
    this.layout = {
      kind: settings.layout,
      fit: settings.fit,
      speakerId: null,
      pinnedId: settings.pinnedParticipantId,
    };
    // Viewers take mixer slots too (they hear everyone), hence the headroom.
    const slots = settings.maxParticipants * 2;
    this.mixer = new MixMinusMixer(slots);
    this.contributes = new Uint8Array(slots);
    for (let i = 0; i < slots; i++) {
      this.inputs.push(new Int16Array(FRAME_SAMPLES));
      this.mixOutputs.push(new Int16Array(FRAME_SAMPLES));
    }
    this.quality = new RoomQuality(this.clock, settings.qualityRecoverMs, settings.qualityShedding, {
      encoderBacklog: () => this.encoderBacklog(),
      onStep: (direction, signals) => void this.applyQuality(direction, signals),
      onLoad: (report) => this.notify({ event: 'room.load', data: report }),
    });
    this.downlink = new DownlinkAdaptation(
      settings.downlink?.adaptation ?? true,
      settings.downlink?.recoverMs ?? 15_000,
      {
        members: () => this.adaptiveMembers(),
        ceiling: (id) => this.adaptiveCeiling(id),
        expectedFps: (id) => {
          const p = this.peers.get(id);
          if (!p || p instanceof IngressMember) return null;
          const served = this.servedOf(p);
          return served === 'audio' ? null : this.quality.fps(OUTPUT_PROFILES[served].fps);
        },
        onStep: (id, step, sample) => {
          const p = this.peers.get(id);
          if (!p || p instanceof IngressMember) return;
          const fields = {
            participantId: id,
            step,
            estimateKbps: round1(sample.estimateKbps ?? -1),
            sentKbps: round1(sample.sentKbps),
            fractionLost: sample.fractionLost,
            rttMs: sample.rttMs,
            nackPerSec: round1(sample.nackPerSec),
            pliPerSec: round1(sample.pliPerSec),
            sentFps: round1(sample.sentFps),
            expectedFps: sample.expectedFps,
            bandwidthLimited: sample.bandwidthLimited,
          };
          this.log.info('downlink adaptation step', fields);
          void this.reserve(p, 'bandwidth', sample.estimateKbps).catch((err: unknown) =>
            this.log.warn('could not switch a downlink while adapting', { participantId: id, err }),
          );
        },
        onUplink: (id, figures) => this.onUplink(id, figures),
        onReport: (id, stats) => {
          const p = this.peers.get(id);
          if (p instanceof ParticipantPeer) p.updateAvSync(stats);
        },
      },
      log,
    );
    this.otherLayout = { ...this.layout };
    this.egress = new EgressHub(
      log,
      {
        useProfile: (name) => void this.useProfile(name),
        releaseProfile: (name) => this.releaseProfile(name),
        composeIn: (output, kind) => {
          this.composingFps = output.profile.fps;
          Object.assign(this.otherLayout, this.layout);
          this.otherLayout.kind = kind;
          return output.compose(this.publisherIds, this.otherLayout, this.sourceOf);
        },
        skippedTicks: () => this.clock.skippedTicks,
      },
      (egressId, state, error) => this.notify({ event: 'egress.state', data: { egressId, state, error } }),
    );
    this.avSyncTimer = setInterval(() => this.updateAvSync(), AV_SYNC_PERIOD_MS);
    this.clock.start();
    this.loopDelay.enable();
    this.quality.start();
    this.downlink.start();
  }

  join(req: MediaRequestMap['participant.join']['req']): void {
    if (this.peers.has(req.participantId)) {
      throw new ConflictError(`participant ${req.participantId} is already in room ${this.roomId}`);
    }
    if (req.role !== 'viewer' && this.publishers.length >= this.settings.maxParticipants) {
      throw new RoomFullError(`room ${this.roomId} is full (${this.settings.maxParticipants} publishers)`);
    }
    if (this.listeners.length >= this.mixOutputs.length)
      throw new RoomFullError(`room ${this.roomId} is full`);
    if (req.role === 'ingress') {
      const log = this.log.child({ participantId: req.participantId });
      this.peers.set(req.participantId, new IngressMember(req.participantId, req.displayName, log));
      this.rebuildOrder();
      log.info('ingress participant joined');
      return;
    }
    // The member is built on the profile the current quality level serves; the one it asked
    // for is kept here and served again when the room steps back up.
    const { init, events, log } = this.memberWiring({ ...req, profile: this.quality.serve(req.profile) });
    const peer = new ParticipantPeer(init, events, log);
    peer.ceiling = req.profile;
    this.peers.set(peer.id, peer);
    this.asked.set(peer.id, req.profile);
    this.rebuildOrder();
    this.useProfile(peer.profile);
    log.info('participant joined', { role: req.role, profile: req.profile });
  }

  async offer(participantId: string, sdp: string, waitForCandidates = false): Promise<string> {
    let peer = this.peer(participantId);
    validateSdp(sdp, this.settings.maxSdpBytes);
    // --- H.264 endpoints (issue #14): a first offer with H.264 and no VP8/VP9/AV1 moves the
    // member from its (untouched) wrtc peer to the RTP-level stack, before anything was sent.
    if (peer instanceof ParticipantPeer && !peer.hasNegotiated && isH264OnlyOffer(sdp)) {
      peer = this.moveToRtp(peer, 'H.264') ?? peer;
    }
    // --- audio-only offers (issue #12 item 4) go to the RTP-level stack too: no libwebrtc
    // encoder, pacer and congestion-control threads per participant; silent ones share an encode.
    if (
      peer instanceof ParticipantPeer &&
      !peer.hasNegotiated &&
      this.settings.audioOnlyStack !== 'wrtc' &&
      isAudioOnlyOffer(sdp)
    ) {
      peer = this.moveToRtp(peer, 'audio-only') ?? peer;
    }
    // --- encode once per profile (issue #17): with VIDEO_ENCODE=shared a VP8 offer goes to the
    // RTP-level stack too and is sent the profile's one VP8 encode, not a libwebrtc encode of its own.
    if (
      peer instanceof ParticipantPeer &&
      !peer.hasNegotiated &&
      this.settings.videoEncode === 'shared' &&
      offersVp8(sdp)
    ) {
      peer = this.moveToRtp(peer, 'shared VP8') ?? peer;
    }
    const first = !this.offered.has(participantId);
    this.offered.add(participantId);
    const answer = await peer.applyOffer(sdp, this.outputOf(peer.profile), waitForCandidates);
    if (first && !offerReceivesVideo(sdp)) {
      // Audio only: its composite is not encoded for it; a room of such participants composes
      // no video at all (an output with no users is skipped by the clock).
      this.videoless.add(participantId);
      // A data saver asked for before the offer has already released the output.
      if (!this.audioServed.delete(participantId)) this.releaseProfile(peer.profile);
      this.log.info('audio-only participant', { participantId });
    } else if (first && this.audioServed.has(participantId)) {
      await peer.suspendVideo(); // data saver asked for before the first offer attached the track
    }
    return answer;
  }

  /** Replaces a not yet negotiated wrtc member by an RtpParticipant (same slot, same profile use). */
  private moveToRtp(old: ParticipantPeer, why: 'H.264' | 'audio-only' | 'shared VP8'): PeerMember | null {
    const { init, events, log } = this.memberWiring({
      participantId: old.id,
      displayName: old.displayName,
      role: old.role,
      profile: old.profile,
    });
    const member = RtpParticipant.create(init, events, log, why === 'shared VP8' ? 'VP8' : 'H264');
    if (!member) {
      log.warn(`${why} offer but the codec addon is not available: staying on wrtc`);
      return null;
    }
    member.audioMuted = old.audioMuted;
    member.videoMuted = old.videoMuted;
    old.close();
    this.peers.set(member.id, member);
    this.rebuildOrder();
    log.info(`participant on the RTP-level ${why} path`);
    return member;
  }

  private memberWiring(req: MediaRequestMap['participant.join']['req']): {
    init: PeerInit;
    events: PeerEvents;
    log: Logger;
  } {
    const log = this.log.child({ participantId: req.participantId });
    const init: PeerInit = {
      ...req,
      iceServers: this.settings.iceServers,
      maxIceCandidates: this.settings.maxIceCandidatesPerParticipant,
      network: this.network,
      avSync: this.settings.avSync,
    };
    const events: PeerEvents = {
      onIceCandidate: (candidate) =>
        this.notify({ event: 'participant.ice', data: { participantId: req.participantId, candidate } }),
      onConnectionState: (state) => {
        log.info('peer connection state', { state });
        this.notify({
          event: 'participant.connectionState',
          data: { participantId: req.participantId, state },
        });
      },
      onMediaChanged: () => this.replan(),
    };
    return { init, events, log };
  }
  // --- end of the H.264 member selection

  async answer(participantId: string, sdp: string): Promise<void> {
    validateSdp(sdp, this.settings.maxSdpBytes);
    await this.peer(participantId).applyAnswer(sdp);
  }

  addIce(participantId: string, candidate: IceCandidateInit | null): Promise<void> {
    return this.peer(participantId).addIceCandidate(candidate);
  }

  /**
   * A participant's request: `profile` (or `audio`, the data saver) as its ceiling; `pin` turns
   * adaptive downlink off for it. Answered with a `participant.downlink` in every case, so the
   * client learns what it is served now.
   */
  async setProfile(participantId: string, profile: DownlinkProfile, pin = false): Promise<void> {
    const peer = this.peer(participantId);
    const same = this.asked.get(participantId) === profile && this.pinned.has(participantId) === pin;
    if (!same) {
      this.asked.set(participantId, profile);
      if (pin) this.pinned.add(participantId);
      else this.pinned.delete(participantId);
      this.downlink.reset(participantId);
    }
    await this.reserve(peer, 'client', null, true);
    // `audio`: the ceiling stays the last video profile's, to resume to.
    if (same || profile === 'audio') return;
    if (peer instanceof ParticipantPeer) {
      if (peer.ceiling === profile) return;
      peer.ceiling = profile;
    }
    // The picture switches at once (replaceTrack); the new bitrate ceiling needs one round trip.
    const sdp = await peer.createServerOffer();
    if (sdp) this.notify({ event: 'participant.offer', data: { participantId, sdp } });
  }

  /** The loopback port an ingress participant takes its stream on (IngressMember). */
  async ingressListen(participantId: string): Promise<number> {
    const m = this.member(participantId);
    if (!(m instanceof IngressMember))
      throw new BadRequestError(`participant ${participantId} is not an ingress`);
    return m.listen();
  }

  ingressPull(req: MediaRequestMap['ingress.pull']['req']): void {
    const m = this.member(req.participantId);
    if (!(m instanceof IngressMember))
      throw new BadRequestError(`participant ${req.participantId} is not an ingress`);
    m.pull({ url: req.url, realtime: req.realtime, loop: req.loop, rtspTransport: req.rtspTransport });
  }

  setMuted(participantId: string, kind: MediaKind, muted: boolean): void {
    const peer = this.member(participantId);
    if (kind === 'audio') peer.audioMuted = muted;
    else peer.videoMuted = muted;
  }

  leave(participantId: string): void {
    const peer = this.peers.get(participantId);
    if (!peer) return;
    this.peers.delete(participantId);
    peer.close();
    this.speaker.remove(participantId);
    this.levels.delete(participantId);
    this.rebuildOrder();
    if (
      !(peer instanceof IngressMember) &&
      !this.videoless.has(participantId) &&
      !this.audioServed.has(participantId)
    )
      this.releaseProfile(peer.profile);
    this.backlogBase.delete(participantId);
    this.asked.delete(participantId);
    this.pinned.delete(participantId);
    this.audioServed.delete(participantId);
    this.downlink.remove(participantId);
    this.uplinks.delete(participantId);
    this.offered.delete(participantId);
    this.videoless.delete(participantId);
    this.log.info('participant left', { participantId });
  }

  update(patch: MediaRequestMap['room.update']['req']): void {
    if (patch.layout) this.layout.kind = patch.layout;
    if (patch.fit) this.layout.fit = patch.fit;
    if (patch.pinnedParticipantId !== undefined) this.layout.pinnedId = patch.pinnedParticipantId;
    this.settings = { ...this.settings, ...patch };
    this.replan();
  }

  /**
   * Starts the room's capture. The control plane asks for one only when it knows of none in the
   * room, so a capture still here under another id is one it has given up on (its start timed
   * out and its compensating stop is in progress or overtaken): that capture is ended first,
   * never kept running behind the control plane's back. Its recording.ended notification lets
   * the control plane finalize what it captured.
   */
  async startRecording(req: MediaRequestMap['recording.start']['req']): Promise<string> {
    const start = this.startCapture(req);
    this.pendingStarts.set(req.recordingId, start);
    try {
      return await start;
    } finally {
      this.pendingStarts.delete(req.recordingId);
    }
  }
  /** Starts still waiting for the capture they replace to end (they hold no recorder yet). */
  private readonly pendingStarts = new Map<string, Promise<string>>();

  private async startCapture(req: MediaRequestMap['recording.start']['req']): Promise<string> {
    for (let old = this.recorder; old; old = this.recorder) {
      if (old.recordingId === req.recordingId)
        throw new ConflictError(`recording ${req.recordingId} is already active in room ${this.roomId}`);
      if (!old.isStopping)
        this.log.warn(
          'a new recording replaces a capture the control plane no longer knows of; stopping it',
          {
            recordingId: old.recordingId,
            newRecordingId: req.recordingId,
          },
        );
      await old.stop().catch(() => undefined);
      if (this.recorder === old) this.recorder = null;
    }
    this.useProfile(req.profile);
    let profileHeld = true;
    const releaseProfile = () => {
      if (profileHeld) this.releaseProfile(req.profile);
      profileHeld = false;
    };
    const recorder = new RoomRecorder(
      req,
      OUTPUT_PROFILES[req.profile],
      this.log.child({ recordingId: req.recordingId }),
    );
    recorder.onEnded = (interrupted, reason, detail, losses) => {
      if (this.recorder === recorder) this.recorder = null;
      releaseProfile();
      this.notify({
        event: 'recording.ended',
        data: { recordingId: req.recordingId, interrupted, reason, detail, losses },
      });
    };
    this.recorder = recorder;
    this.recordedSkips = this.clock.skippedTicks;
    try {
      await recorder.start();
    } catch (err) {
      // Cancelled by a stop that overtook the start: that stop ends the capture (onEnded).
      if (!(err instanceof RecordingCancelledError)) {
        if (this.recorder === recorder) this.recorder = null;
        releaseProfile();
      }
      throw err;
    }
    return new Date().toISOString();
  }

  async stopRecording(recordingId: string): Promise<MediaRequestMap['recording.stop']['res']> {
    // A stop right behind a start that is still waiting for the capture it replaces (both given
    // up on by the control plane): let that start take the recorder first, then stop it.
    const pending = this.pendingStarts.get(recordingId);
    if (pending && this.recorder?.recordingId !== recordingId) await pending.catch(() => undefined);
    const rec = this.recorder;
    if (!rec || rec.recordingId !== recordingId) {
      throw new ConflictError(`recording ${recordingId} is not active in room ${this.roomId}`);
    }
    return rec.stop();
  }

  async stats(): Promise<RoomStats> {
    const usage = process.cpuUsage();
    const composedFps: RoomStats['composedFps'] = {};
    for (const [name, w] of this.fpsWindow) composedFps[name] = w.fps;
    return {
      deliveredFps: await this.deliveredFps(),
      roomId: this.roomId,
      participants: [...this.peers.values()].map((p) => p.snapshot()),
      activeSpeakerId: this.speaker.current,
      composedFps,
      audioUnderruns: this.audioUnderruns,
      eventLoopDelayP99Ms: this.takeLoopDelay(),
      qualityLevel: this.quality.level,
      cpuUserMicros: usage.user,
      cpuSystemMicros: usage.system,
      rssBytes: process.memoryUsage().rss,
      sharedEncoders: this.outputList.flatMap((o) => o.sharedEncoders.map((e) => e.stats())),
      audioEncodes: this.downlinks.stats(),
      avSync: this.avSyncStats(),
    };
  }

  private avSyncStats(): NonNullable<RoomStats['avSync']> {
    const out: NonNullable<RoomStats['avSync']> = [];
    for (const p of this.peers.values()) {
      if (!(p instanceof ParticipantPeer || p instanceof RtpParticipant) || !p.hasAudio || !p.hasVideo)
        continue;
      const s = p.avSync.snapshot();
      out.push({
        participantId: p.id,
        estimatedMs: s.estimatedMs,
        videoDelayMs: s.videoDelayMs,
        basis: s.basis,
      });
    }
    return out;
  }

  /**
   * One lip-sync round for RTP-level members (their own figures, no stats call) and the periodic
   * log of every member's estimate. wrtc peers are updated from the link windows' stats report
   * (onReport), once a second too.
   */
  private updateAvSync(): void {
    const log = ++this.avSyncRounds % AV_SYNC_LOG_EVERY === 0;
    for (const p of this.peers.values()) {
      if (p instanceof RtpParticipant) p.updateAvSync();
      else if (!(p instanceof ParticipantPeer)) continue;
      if (log && p.hasAudio && p.hasVideo)
        this.log.info('lip sync', { participantId: p.id, ...p.avSync.snapshot() });
    }
  }

  private takeLoopDelay(): number {
    const p99 = this.loopDelay.count > 0 ? this.loopDelay.percentile(99) / 1e6 : 0;
    this.loopDelay.reset();
    return p99;
  }

  /** Per profile: mean over its peers of frames sent per second since the previous stats call. */
  private async deliveredFps(): Promise<RoomStats['deliveredFps']> {
    const now = performance.now();
    const sums = new Map<Profile, { fps: number; n: number }>();
    await Promise.all(
      this.peerMembers().map(async (p) => {
        if (this.audioServed.has(p.id)) return;
        const frames = await p.framesSent().catch(() => null);
        if (frames === null) return;
        const prev = this.sentSamples.get(p.id);
        this.sentSamples.set(p.id, { frames, at: now });
        if (!prev || now - prev.at < 200) return;
        const s = sums.get(p.profile) ?? { fps: 0, n: 0 };
        s.fps += ((frames - prev.frames) * 1000) / (now - prev.at);
        s.n++;
        sums.set(p.profile, s);
      }),
    );
    for (const id of this.sentSamples.keys()) if (!this.peers.has(id)) this.sentSamples.delete(id);
    const out: RoomStats['deliveredFps'] = {};
    for (const [profile, s] of sums) out[profile] = s.fps / s.n;
    return out;
  }
  private readonly sentSamples = new Map<string, { frames: number; at: number }>();

  get participantCount(): number {
    return this.peers.size;
  }

  async close(): Promise<void> {
    clearInterval(this.avSyncTimer);
    this.quality.stop();
    this.downlink.stop();
    this.loopDelay.disable();
    this.clock.stop();
    this.downlinks.close();
    // Within the worker's own exit bound: a capture still encoding a backlog past it is ended
    // (what it wrote is kept), rather than the worker being killed with it.
    if (this.recorder)
      await this.recorder.stop({ withinMs: RECORDING_STOP_AT_CLOSE_MS }).catch(() => undefined);
    await this.egress.close().catch((err) => this.log.error('closing egress failed', { err }));
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    for (const out of this.outputList) out.close();
    this.outputs.clear();
    this.outputList = [];
  }

  // --- real-time path -------------------------------------------------------------------

  /** Reused for every tile of every tick (the compositor reads it before asking again). */
  private readonly tileSource: TileSource = { frame: null, displayName: '' };
  private readonly sourceOf = (id: string): TileSource => {
    const p = this.peers.get(id);
    const src = this.tileSource;
    src.displayName = p?.displayName ?? '?';
    src.frame =
      !p || p.videoMuted || this.nowMs - p.lastFrameAt > STALE_VIDEO_MS
        ? null
        : p.frameFor(this.composingFps);
    return src;
  };
  private nowMs = 0;
  /** The rate of the composite being made: its members' frames are taken for it (AvSync.frameFor). */
  private composingFps = BASE_FPS;

  private onTick(tick: number, now: number): void {
    // Media time counts skipped ticks too: after a stall video resumes at the right frame.
    const mediaMs = (tick + this.clock.skippedTicks) * AUDIO_TICK_MS;
    this.onAudioTick(now, mediaMs);
    const frame = baseFrameAt(mediaMs);
    if (frame !== this.lastVideoFrame) {
      this.lastVideoFrame = frame;
      this.onVideoTick(frame, now);
    }
  }

  private onVideoTick(tick: number, now: number): void {
    this.nowMs = now;
    for (let i = 0; i < this.outputList.length; i++) {
      const out = this.outputList[i];
      if (out.users === 0) continue;
      // Peers get the shed rate; the recorder keeps its profile's rate (its file has a fixed
      // rate), so a recorded profile is still composed at full rate but encoded for peers less.
      // (Fewer new pictures for a capture that is behind was tried: x264 saves ~20 %, and under
      // 16 busy loops the recordings lost as much sound; docs/overload.md.)
      const peerFps = this.quality.fps(out.profile.fps);
      const toPeers = tick % frameDivisor(peerFps) === 0;
      const recorded = this.recorder !== null && this.recorder.profile === out.profile.name;
      // Egress encodes, like the recorder, keep the profile's full rate.
      const toRecorder =
        (recorded || this.egress.encodes(out.profile.name)) && tick % frameDivisor(out.profile.fps) === 0;
      if (!toPeers && !toRecorder) continue;
      this.composingFps = toRecorder ? out.profile.fps : peerFps;
      const frame = out.compose(this.publisherIds, this.layout, this.sourceOf);
      if (toPeers) {
        out.send(frame, now);
        this.countFps(out.profile.name, now);
      }
      if (toRecorder) {
        if (recorded) this.recorder?.pushVideo(frame);
        this.egress.pushRoomFrame(out.profile.name, frame);
      }
    }
    this.egress.onVideoTick(tick);
  }

  private onAudioTick(now: number, mediaMs: number): void {
    const n = this.listeners.length;
    for (let i = 0; i < n; i++) {
      const p = this.listeners[i];
      let got = false;
      if (p.role !== 'viewer' && p.hasAudio) {
        got = p.jitter.readInto(this.inputs[i]);
        if (!got) this.audioUnderruns++;
      } else {
        this.inputs[i].set(this.silence);
      }
      const level = got && !p.audioMuted ? rms(this.inputs[i]) : 0;
      const on = level >= SILENCE_GATE_RMS;
      this.contributes[i] = on ? 1 : 0;
      if (p.role !== 'viewer') this.levels.set(p.id, on ? level : 0);
    }
    this.mixer.mix(n, this.inputs, this.contributes, this.mixOutputs, this.mixAll);
    this.downlinks.send(this.listeners, n, this.contributes, this.mixAll);
    if (this.recorder) {
      // After a stall the clock skips ticks rather than bursting them at the peers; the
      // recording still needs that time (its audio is the master clock and must follow the
      // wall clock), so it gets silence for every skipped tick.
      // Each chunk goes with its media time: the capture starts on a tick aligned with the frame grid.
      const skipped = this.clock.skippedTicks;
      for (; this.recordedSkips < skipped; this.recordedSkips++)
        this.recorder.pushAudio(this.silence, mediaMs - (skipped - this.recordedSkips) * AUDIO_TICK_MS);
      this.recorder.pushAudio(this.mixAll, mediaMs);
    }
    this.egress.pushAudio(this.mixAll, this.silence, mediaMs);
    const changed = this.speaker.update(this.levels, now);
    if (changed !== null) {
      this.layout.speakerId = changed;
      if (this.layout.kind !== 'grid') this.replan();
      this.notify({ event: 'room.activeSpeaker', data: { participantId: changed } });
    }
  }

  // --- quality shedding -----------------------------------------------------------------

  /** Serves every peer what the new level allows and tells those whose downlink changed. */
  private async applyQuality(direction: QualityStep, signals: LoadSignals): Promise<void> {
    const level = this.quality.level;
    const before = new Map<string, { fps: number; profile: Profile } | null>();
    for (const p of this.peers.values())
      before.set(p.id, this.downlinkOf(p, level + (direction === 'down' ? -1 : 1)));
    const log = direction === 'down' ? this.log.warn.bind(this.log) : this.log.info.bind(this.log);
    log('quality level changed', {
      qualityLevel: level,
      direction,
      fpsCap: this.quality.current.fpsCap,
      ...signals,
    });
    await Promise.all(
      this.peerMembers().map((p) =>
        this.reserve(p, 'server-load').catch((err: unknown) =>
          this.log.warn('could not switch a downlink while shedding', { participantId: p.id, err }),
        ),
      ),
    );
    const participants: MediaNotificationMap['room.quality']['participants'] = [];
    for (const p of this.peerMembers()) {
      if (this.videoless.has(p.id)) continue; // no video downlink: nothing changed for it
      const now = this.downlinkOf(p, level);
      if (!now) continue; // served audio only: no frame rate to tell
      const was = before.get(p.id);
      if (!was || was.fps !== now.fps || was.profile !== now.profile)
        participants.push({ participantId: p.id, ...now });
    }
    this.notify({ event: 'room.quality', data: { level, direction, signals, participants } });
  }

  /** The members with a WebRTC downlink (an ingress has none to shed or to measure). */
  private peerMembers(): PeerMember[] {
    const out: PeerMember[] = [];
    for (const p of this.peers.values()) if (!(p instanceof IngressMember)) out.push(p);
    return out;
  }

  private askedOf(p: RoomMember): DownlinkProfile {
    return this.asked.get(p.id) ?? p.profile;
  }

  /**
   * What a peer receives at a level: the served profile and its (capped) frame rate; null when
   * it is served audio only.
   */
  private downlinkOf(p: RoomMember, level: number): { fps: number; profile: Profile } | null {
    const q = QUALITY_LEVELS[Math.max(0, Math.min(QUALITY_LEVELS.length - 1, level))];
    const asked = this.askedOf(p);
    if (asked === 'audio') return null;
    const profile = this.downlink.served(p.id, q.serve[asked]);
    if (profile === 'audio') return null;
    return { profile, fps: Math.min(OUTPUT_PROFILES[profile].fps, q.fpsCap) };
  }

  // --- adaptive downlink ----------------------------------------------------------------

  /** What a member asks for after the room's shedding (adaptation serves this or less). */
  private ceilingOf(p: RoomMember): DownlinkProfile {
    const asked = this.askedOf(p);
    return asked === 'audio' ? 'audio' : this.quality.serve(asked);
  }

  private servedOf(p: PeerMember): DownlinkProfile {
    return this.audioServed.has(p.id) ? 'audio' : p.profile;
  }

  /**
   * Members whose downlink adapts: wrtc peers (libwebrtc measures their link) and RTP-level
   * members with a video downlink (their clients' REMB and receiver reports; they switch
   * between the profiles' shared encodes).
   */
  /**
   * One window of what arrived of a member's video: reported to the control plane (REST, the
   * participant's page) every UPLINK_REPORT_MS, and at once when the uplink turned weak or good.
   */
  private onUplink(id: string, figures: UplinkFigures): void {
    if (!this.peers.has(id)) return;
    let u = this.uplinks.get(id);
    if (!u) this.uplinks.set(id, (u = { monitor: new UplinkMonitor(), reportedAt: -Infinity }));
    const changed = u.monitor.update(figures);
    const now = performance.now();
    if (changed) {
      const log = changed === 'weak' ? this.log.warn.bind(this.log) : this.log.info.bind(this.log);
      log('uplink changed', { participantId: id, state: changed, ...figures });
    }
    if (!changed && now - u.reportedAt < UPLINK_REPORT_MS) return;
    u.reportedAt = now;
    this.notify({
      event: 'participant.uplink',
      data: { participantId: id, state: u.monitor.state, changed: changed !== null, figures },
    });
  }

  /**
   * Every peer-connection member: those with a video downlink adapt it, and every one's uplink
   * is read from the same report (a WHIP publisher has only an uplink; adaptiveCeiling is null).
   */
  private *adaptiveMembers(): Iterable<ParticipantPeer | RtpParticipant> {
    for (const p of this.peers.values())
      if (p instanceof ParticipantPeer || p instanceof RtpParticipant) yield p;
  }

  /** The ceiling adaptation works under, or null when `id`'s downlink does not adapt. */
  private adaptiveCeiling(id: string): DownlinkProfile | null {
    const p = this.peers.get(id);
    const adaptive = p instanceof ParticipantPeer || (p instanceof RtpParticipant && p.hasVideoDownlink);
    if (!p || !adaptive || this.pinned.has(id) || this.videoless.has(id)) return null;
    const ceiling = this.ceilingOf(p);
    return ceiling === 'audio' ? null : ceiling;
  }

  /**
   * Serves a member the lowest of its request, the room's shedding and its link's cap; tells it
   * (participant.downlink) when that changed, or always when `always` (an answer to its request).
   */
  private async reserve(
    p: PeerMember,
    reason: DownlinkChangeReason,
    estimateKbps: number | null = null,
    always = false,
  ): Promise<void> {
    if (this.videoless.has(p.id)) return; // no video downlink: nothing to serve
    const was = this.servedOf(p);
    const target = this.downlink.served(p.id, this.ceilingOf(p));
    if (was !== target) await this.serve(p, target, reason);
    else if (!always) return;
    const data = {
      participantId: p.id,
      profile: target,
      from: was,
      requested: this.askedOf(p),
      pinned: this.pinned.has(p.id),
      reason,
      estimateKbps: estimateKbps === null ? null : Math.round(estimateKbps),
    };
    if (was !== target) this.log.info('downlink profile changed', data);
    this.notify({ event: 'participant.downlink', data });
  }

  /**
   * Points a peer's video sender at another composite, or at nothing for `audio` (no
   * renegotiation either way: the sender stays negotiated).
   */
  private async serve(
    peer: PeerMember,
    profile: DownlinkProfile,
    reason: DownlinkChangeReason,
  ): Promise<void> {
    // An audio-only member has no video downlink to move (and holds no output).
    if (this.videoless.has(peer.id)) return;
    const suspended = this.audioServed.has(peer.id);
    if (profile === 'audio') {
      if (suspended) return;
      // Marked before the await: a concurrent serve sees the output already released.
      this.audioServed.add(peer.id);
      this.releaseProfile(peer.profile);
      await peer.suspendVideo();
    } else {
      if (!suspended && peer.profile === profile) return;
      const old = peer.profile;
      this.audioServed.delete(peer.id);
      // A step down for bandwidth breaks first: the link cannot carry what it has now.
      const down = DOWNLINK_PROFILES.indexOf(profile) < DOWNLINK_PROFILES.indexOf(old);
      await peer.switchProfile(this.useProfile(profile), !(down && reason === 'bandwidth'));
      if (!suspended) this.releaseProfile(old);
    }
    this.backlogBase.delete(peer.id);
  }

  /**
   * Frames handed to each peer's encoder in the last window that it did not send, max over the
   * peers: libwebrtc drops frames its encoder cannot keep up with.
   */
  private async encoderBacklog(): Promise<number> {
    let worst = 0;
    await Promise.all(
      this.peerMembers().map(async (p) => {
        // Served audio only: its sender is handed no frames, and sends none. A narrow link
        // makes its encoder drop frames too: that is no worker overload (downlink-adaptation.ts).
        if (p.connectionState !== 'connected' || this.audioServed.has(p.id)) return;
        if (this.downlink.linkLimited(p.id)) {
          this.backlogBase.delete(p.id);
          return;
        }
        const out = this.outputs.get(p.profile);
        const sent = await p.framesSent().catch(() => null);
        if (!out || sent === null) return;
        const base = this.backlogBase.get(p.id);
        this.backlogBase.set(p.id, { sent, handed: out.sentFrames });
        if (base && sent > 0) worst = Math.max(worst, out.sentFrames - base.handed - (sent - base.sent));
      }),
    );
    return worst;
  }

  // --- bookkeeping ----------------------------------------------------------------------

  private member(participantId: string): AnyMember {
    const p = this.peers.get(participantId);
    if (!p) throw new ParticipantNotFoundError(`participant ${participantId} is not in room ${this.roomId}`);
    return p;
  }

  /** A WebRTC participant (offers, ICE, profiles); an ingress has none of these. */
  private peer(participantId: string): PeerMember {
    const p = this.member(participantId);
    if (p instanceof IngressMember)
      throw new BadRequestError(`participant ${participantId} is an ingress, not a WebRTC peer`);
    return p;
  }

  private rebuildOrder(): void {
    const all = [...this.peers.values()];
    const viewer: ParticipantRole = 'viewer';
    this.publishers = all.filter((p) => p.role !== viewer);
    this.publisherIds = this.publishers.map((p) => p.id);
    this.listeners = [...this.publishers, ...all.filter((p) => p.role === viewer)];
    for (let i = 0; i < this.listeners.length; i++) this.mixOutputs[i] = this.listeners[i].audioOutput;
    this.replan();
  }

  private replan(): void {
    for (const out of this.outputs.values()) out.invalidate();
    this.egress.invalidate();
  }

  private useProfile(name: Profile): ProfileOutput {
    let out = this.outputs.get(name);
    if (!out) {
      out = new ProfileOutput(
        OUTPUT_PROFILES[name],
        this.settings.downlinkVideoHoldMs ?? DEFAULT_DOWNLINK_VIDEO_HOLD_MS,
        this.settings.peerVideoHoldMs ?? DEFAULT_PEER_VIDEO_HOLD_MS,
      );
      this.outputs.set(name, out);
      this.outputList = [...this.outputs.values()];
    }
    out.retain();
    return out;
  }

  /** The output of a profile a participant already counts as a user of (since its join). */
  private outputOf(name: Profile): ProfileOutput {
    const out = this.outputs.get(name);
    if (!out) throw new Error(`no output for profile ${name}`);
    return out;
  }

  private releaseProfile(name: Profile): void {
    const out = this.outputs.get(name);
    out?.release();
    // The output object (and its track) stays: peers may still hold its track in a sender,
    // and an idle output costs nothing because the clock skips it.
  }

  private countFps(name: Profile, now: number): void {
    let w = this.fpsWindow.get(name);
    if (!w) this.fpsWindow.set(name, (w = { frames: 0, at: now, fps: 0 }));
    w.frames++;
    if (now - w.at >= 1000) {
      w.fps = (w.frames * 1000) / (now - w.at);
      w.frames = 0;
      w.at = now;
    }
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
