import { monitorEventLoopDelay } from 'node:perf_hooks';
import type {
  IceCandidateInit,
  MediaEvent,
  MediaNotificationMap,
  MediaRequestMap,
  ParticipantRole,
  Profile,
  RoomMediaSettings,
  RoomStats,
} from '../protocol/media';
import { OUTPUT_PROFILES } from '../protocol/media';
import { ConflictError, ParticipantNotFoundError, RoomFullError } from '../../src/common/errors';
import type { Logger } from '../../src/common/logger';
import { ActiveSpeakerDetector } from './engine/audio/active-speaker';
import { FRAME_SAMPLES } from './engine/audio/jitter-buffer';
import { MixMinusMixer, rms } from './engine/audio/mixer';
import type { TileSource } from './engine/video/compositor';
import { MediaClock } from './media-clock';
import { ParticipantPeer } from './participant-peer';
import { ProfileOutput, type LayoutState } from './profile-output';
import { RoomRecorder } from './room-recorder';
import { validateSdp } from './sdp';

type Notify = <E extends MediaEvent>(event: E, data: MediaNotificationMap[E]) => void;

/** The base video clock runs at the highest profile rate; slower profiles compose on every k-th tick. */
const BASE_FPS = 30;
const AUDIO_TICK_MS = 10;
/** An input that sent nothing for this long shows its placeholder instead of a frozen picture. */
const STALE_VIDEO_MS = 3000;

/**
 * One room's real-time engine: participants' peer connections, one composite per output
 * profile in use, a mix-minus per listener every 10 ms, active-speaker detection, and the
 * recorder's feed. Two clocks drive everything; the arrival of media drives nothing, so one
 * participant's trouble never stalls the others.
 */
export class MediaRoom {
  private readonly peers = new Map<string, ParticipantPeer>();
  /** Publishers in join order: the layout order and the mixer's slot order. */
  private publishers: ParticipantPeer[] = [];
  private publisherIds: string[] = [];
  /** Everyone who hears the mix (publishers and viewers), in slot order. */
  private listeners: ParticipantPeer[] = [];
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
  /** Overload shows first as a late event loop (the clocks run late), so it is reported. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });

  constructor(
    readonly roomId: string,
    private settings: RoomMediaSettings,
    private readonly notify: Notify,
    private readonly log: Logger,
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
    this.clock.start();
    this.loopDelay.enable();
  }

  join(req: MediaRequestMap['participant.join']['req']): void {
    if (this.peers.has(req.participantId)) {
      throw new ConflictError(`participant ${req.participantId} is already in room ${this.roomId}`);
    }
    if (req.role === 'publisher' && this.publishers.length >= this.settings.maxParticipants) {
      throw new RoomFullError(`room ${this.roomId} is full (${this.settings.maxParticipants} publishers)`);
    }
    if (this.listeners.length >= this.mixOutputs.length)
      throw new RoomFullError(`room ${this.roomId} is full`);
    const log = this.log.child({ participantId: req.participantId });
    const peer = new ParticipantPeer(
      {
        ...req,
        iceServers: this.settings.iceServers,
        maxIceCandidates: this.settings.maxIceCandidatesPerParticipant,
      },
      {
        onIceCandidate: (candidate) =>
          this.notify('participant.ice', { participantId: req.participantId, candidate }),
        onConnectionState: (state) => {
          log.info('peer connection state', { state });
          this.notify('participant.connectionState', { participantId: req.participantId, state });
        },
        onMediaChanged: () => this.replan(),
      },
      log,
    );
    this.peers.set(peer.id, peer);
    this.rebuildOrder();
    this.useProfile(peer.profile);
    log.info('participant joined', { role: req.role, profile: req.profile });
  }

  async offer(participantId: string, sdp: string): Promise<string> {
    const peer = this.peer(participantId);
    validateSdp(sdp, this.settings.maxSdpBytes);
    return peer.applyOffer(sdp, this.trackOf(peer.profile));
  }

  async answer(participantId: string, sdp: string): Promise<void> {
    validateSdp(sdp, this.settings.maxSdpBytes);
    await this.peer(participantId).applyAnswer(sdp);
  }

  addIce(participantId: string, candidate: IceCandidateInit | null): Promise<void> {
    return this.peer(participantId).addIceCandidate(candidate);
  }

  async setProfile(participantId: string, profile: Profile): Promise<void> {
    const peer = this.peer(participantId);
    if (peer.profile === profile) return;
    const old = peer.profile;
    await peer.switchVideoTrack(profile, this.useProfile(profile).track);
    this.releaseProfile(old);
    // The picture switches at once (replaceTrack); the new bitrate ceiling needs one round trip.
    const sdp = await peer.createServerOffer();
    if (sdp) this.notify('participant.offer', { participantId, sdp });
  }

  setMuted(participantId: string, kind: 'audio' | 'video', muted: boolean): void {
    const peer = this.peer(participantId);
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
    this.releaseProfile(peer.profile);
    this.log.info('participant left', { participantId });
  }

  update(patch: MediaRequestMap['room.update']['req']): void {
    if (patch.layout) this.layout.kind = patch.layout;
    if (patch.fit) this.layout.fit = patch.fit;
    if (patch.pinnedParticipantId !== undefined) this.layout.pinnedId = patch.pinnedParticipantId;
    this.settings = { ...this.settings, ...patch };
    this.replan();
  }

  async startRecording(req: MediaRequestMap['recording.start']['req']): Promise<string> {
    if (this.recorder) throw new ConflictError(`room ${this.roomId} is already recording`);
    this.useProfile(req.profile);
    const recorder = new RoomRecorder(
      req,
      OUTPUT_PROFILES[req.profile],
      this.log.child({ recordingId: req.recordingId }),
    );
    recorder.onEnded = (interrupted, reason) => {
      if (this.recorder === recorder) this.recorder = null;
      this.releaseProfile(req.profile);
      this.notify('recording.ended', { recordingId: req.recordingId, interrupted, reason });
    };
    this.recorder = recorder;
    this.recordedSkips = this.clock.skippedTicks;
    try {
      await recorder.start();
    } catch (err) {
      this.recorder = null;
      this.releaseProfile(req.profile);
      throw err;
    }
    return new Date().toISOString();
  }

  async stopRecording(recordingId: string): Promise<{ interrupted: boolean }> {
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
      cpuUserMicros: usage.user,
      cpuSystemMicros: usage.system,
      rssBytes: process.memoryUsage().rss,
    };
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
      [...this.peers.values()].map(async (p) => {
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
    this.loopDelay.disable();
    this.clock.stop();
    if (this.recorder) await this.recorder.stop().catch(() => undefined);
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
    src.frame = !p || p.videoMuted || this.nowMs - p.lastFrameAt > STALE_VIDEO_MS ? null : p.latestFrame;
    return src;
  };
  private nowMs = 0;

  private onTick(tick: number, now: number): void {
    this.onAudioTick(now);
    // Media time counts skipped ticks too: after a stall video resumes at the right frame.
    const mediaMs = (tick + this.clock.skippedTicks) * AUDIO_TICK_MS;
    const frame = Math.floor((mediaMs * BASE_FPS) / 1000);
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
      if (tick % Math.max(1, Math.round(BASE_FPS / out.profile.fps)) !== 0) continue;
      const frame = out.compose(this.publisherIds, this.layout, this.sourceOf);
      out.send(frame);
      if (this.recorder && this.recorder.profile === out.profile.name) this.recorder.pushVideo(frame);
      this.countFps(out.profile.name, now);
    }
  }

  private onAudioTick(now: number): void {
    const n = this.listeners.length;
    for (let i = 0; i < n; i++) {
      const p = this.listeners[i];
      let got = false;
      if (p.role === 'publisher' && p.hasAudio) {
        got = p.jitter.readInto(this.inputs[i]);
        if (!got) this.audioUnderruns++;
      } else {
        this.inputs[i].set(this.silence);
      }
      const on = got && !p.audioMuted;
      this.contributes[i] = on ? 1 : 0;
      if (p.role === 'publisher') this.levels.set(p.id, on ? rms(this.inputs[i]) : 0);
    }
    this.mixer.mix(n, this.inputs, this.contributes, this.mixOutputs, this.mixAll);
    for (let i = 0; i < n; i++) this.listeners[i].sendAudio();
    if (this.recorder) {
      // After a stall the clock skips ticks rather than bursting them at the peers; the
      // recording still needs that time (its audio is the master clock and must follow the
      // wall clock), so it gets silence for every skipped tick.
      const skipped = this.clock.skippedTicks;
      for (; this.recordedSkips < skipped; this.recordedSkips++) this.recorder.pushAudio(this.silence);
      this.recorder.pushAudio(this.mixAll);
    }
    const changed = this.speaker.update(this.levels, now);
    if (changed !== null) {
      this.layout.speakerId = changed;
      if (this.layout.kind !== 'grid') this.replan();
      this.notify('room.activeSpeaker', { participantId: changed });
    }
  }

  // --- bookkeeping ----------------------------------------------------------------------

  private peer(participantId: string): ParticipantPeer {
    const p = this.peers.get(participantId);
    if (!p) throw new ParticipantNotFoundError(`participant ${participantId} is not in room ${this.roomId}`);
    return p;
  }

  private rebuildOrder(): void {
    const all = [...this.peers.values()];
    this.publishers = all.filter((p) => p.role === ('publisher' satisfies ParticipantRole));
    this.publisherIds = this.publishers.map((p) => p.id);
    this.listeners = [...this.publishers, ...all.filter((p) => p.role !== 'publisher')];
    for (let i = 0; i < this.listeners.length; i++) this.mixOutputs[i] = this.listeners[i].audioOutput;
    this.replan();
  }

  private replan(): void {
    for (const out of this.outputs.values()) out.invalidate();
  }

  private useProfile(name: Profile): ProfileOutput {
    let out = this.outputs.get(name);
    if (!out) {
      out = new ProfileOutput(OUTPUT_PROFILES[name]);
      this.outputs.set(name, out);
      this.outputList = [...this.outputs.values()];
    }
    out.users++;
    return out;
  }

  /** The track of a profile a participant already counts as a user of (since its join). */
  private trackOf(name: Profile): MediaStreamTrack {
    const out = this.outputs.get(name);
    if (!out) throw new Error(`no output for profile ${name}`);
    return out.track;
  }

  private releaseProfile(name: Profile): void {
    const out = this.outputs.get(name);
    if (out) out.users = Math.max(0, out.users - 1);
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
