import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import type { EgressState, LayoutKind, MediaRequestMap, OutputProfile, Profile } from '../../protocol/media';
import {
  EGRESS_AUDIO_KBPS,
  EGRESS_H264_PROFILE,
  EGRESS_KEYFRAME_SECONDS,
  EGRESS_VIDEO_KBPS,
  OUTPUT_PROFILES,
} from '../../protocol/media';
import { ConflictError, NotFoundError } from '../../kernel/errors';
import type { Logger } from '../../kernel/logger';
import type { I420Frame } from '../engine/video/i420';
import { ProfileOutput } from '../profile-output';
import { COMPOSITE_VIDEO_DELAY_MS, RecordingSegmenter } from '../recorder/recording-segmenter';
import { frameDivisor, isCaptureStart } from '../frame-grid';
import { RemuxDestination, redactUrl } from './remux-destination';
import { TsFanout } from './ts-fanout';

/** The room side the hub needs: the shared composites and the way to compose in another layout. */
export interface EgressRoomHooks {
  useProfile(name: Profile): void;
  releaseProfile(name: Profile): void;
  /** Composes `output` with the room's participants and speaker, in layout `kind`. */
  composeIn(output: ProfileOutput, kind: LayoutKind): I420Frame;
  /** Ticks the room's clock skipped so far (a stall): the encode gets silence for them. */
  skippedTicks(): number;
}

export type EgressStateNotify = (egressId: string, state: EgressState, error: string | null) => void;

/**
 * One encode: the composite of a profile (the room's own, or one in another layout) and the full
 * mix, encoded once with ffmpeg to MPEG-TS, fanned out to every destination of that profile.
 */
interface EncodeGroup {
  readonly key: string;
  readonly profile: OutputProfile;
  readonly layout: LayoutKind | null;
  /** Own compositor when the egress asked for a layout other than the room's. */
  readonly own: ProfileOutput | null;
  readonly encoder: RecordingSegmenter;
  readonly fanout: TsFanout;
  readonly fifoDir: string;
  readonly destinations: Map<string, RemuxDestination>;
  running: boolean;
  /** Running and past its first tick on the frame grid: takes media from then on. */
  feeding: boolean;
  ending: Promise<void> | null;
  feedSkips: number;
}

/**
 * A room's live egress: H.264/AAC encodes shared per (profile, layout), each remuxed (`-c copy`)
 * to its RTMP or HLS destinations. A failing destination or encode ends egresses, never the room.
 */
export class EgressHub {
  private readonly groups = new Map<string, EncodeGroup>();
  /** Same groups as an array: the media ticks walk it without allocating an iterator. */
  private groupList: EncodeGroup[] = [];
  private readonly byEgress = new Map<string, EncodeGroup>();
  /** Encodes being started: a second egress of the same profile waits for the same one. */
  private readonly startingGroups = new Map<string, Promise<EncodeGroup>>();
  /**
   * Egresses whose start waits for their encode (its key), marked when a stop reaches them.
   * Requests run concurrently here, so a stop that follows its start (the control plane's
   * compensating stop of a start it gave up on) can arrive before the start has anything to
   * stop: it is answered at once and the start ends instead of attaching its destination.
   */
  private readonly startingEgresses = new Map<string, { key: string; cancelled: boolean }>();

  constructor(
    private readonly log: Logger,
    private readonly hooks: EgressRoomHooks,
    private readonly notify: EgressStateNotify,
  ) {}

  get count(): number {
    return this.byEgress.size;
  }

  async start(req: MediaRequestMap['egress.start']['req']): Promise<void> {
    if (this.byEgress.has(req.egressId) || this.startingEgresses.has(req.egressId))
      throw new ConflictError(`egress ${req.egressId} already exists`);
    const key = `${req.profile}:${req.layout ?? 'room'}`;
    const existing = this.groups.get(key);
    const fresh = !existing || existing.ending !== null;
    let g: EncodeGroup;
    if (existing && existing.ending === null) g = existing;
    else {
      let pending = this.startingGroups.get(key);
      if (!pending) {
        pending = this.startGroup(key, req.profile, req.layout).finally(() =>
          this.startingGroups.delete(key),
        );
        this.startingGroups.set(key, pending);
      }
      const starting = { key, cancelled: false };
      this.startingEgresses.set(req.egressId, starting);
      try {
        g = await pending;
      } finally {
        this.startingEgresses.delete(req.egressId);
      }
      if (starting.cancelled) {
        // An encode started for nobody stops again (one that serves other destinations, or
        // that another start of the same profile still waits for, goes on).
        const awaited = [...this.startingEgresses.values()].some((s) => s.key === key);
        if (g.destinations.size === 0 && !awaited) void this.endGroup(g);
        throw new ConflictError(`egress ${req.egressId} was stopped while starting`);
      }
    }
    if (this.byEgress.has(req.egressId)) throw new ConflictError(`egress ${req.egressId} already exists`);
    const log = this.log.child({
      egressId: req.egressId,
      target: req.target.type === 'rtmp' ? redactUrl(req.target.url) : 'hls',
    });
    const dest = new RemuxDestination(req.egressId, req.target, g.fanout, log, (state, error) => {
      log.info('egress state', { state, error });
      this.notify(req.egressId, state, error);
      if (state === 'failed' || state === 'stopped') this.forget(req.egressId);
    });
    g.destinations.set(req.egressId, dest);
    this.byEgress.set(req.egressId, g);
    try {
      await dest.start();
    } catch (err) {
      this.forget(req.egressId);
      throw err;
    }
    log.info('egress started', { profile: req.profile, layout: req.layout, sharedEncode: !fresh });
  }

  async stop(egressId: string): Promise<void> {
    const starting = this.startingEgresses.get(egressId);
    if (starting) {
      starting.cancelled = true;
      this.log.info('egress stopped while its encode was starting', { egressId });
      return;
    }
    const g = this.byEgress.get(egressId);
    const dest = g?.destinations.get(egressId);
    if (!g || !dest) throw new NotFoundError(`egress ${egressId} is not running in this room`);
    await dest.stop();
  }

  /** A composite of the room's layout was made: encodes of that profile take it. */
  /** Whether a running encode takes the room's own composite of this profile. */
  encodes(profile: Profile): boolean {
    for (let i = 0; i < this.groupList.length; i++) {
      const g = this.groupList[i];
      if (g.running && g.own === null && g.profile.name === profile) return true;
    }
    return false;
  }

  pushRoomFrame(profile: Profile, frame: I420Frame): void {
    for (let i = 0; i < this.groupList.length; i++) {
      const g = this.groupList[i];
      if (g.feeding && g.own === null && g.profile.name === profile) g.encoder.pushVideo(frame);
    }
  }

  /** On each 30 fps base tick: encodes in a layout of their own compose at their rate. */
  onVideoTick(tick: number): void {
    for (let i = 0; i < this.groupList.length; i++) {
      const g = this.groupList[i];
      if (!g.feeding || g.own === null || g.layout === null) continue;
      if (tick % frameDivisor(g.profile.fps) !== 0) continue;
      g.encoder.pushVideo(this.hooks.composeIn(g.own, g.layout));
    }
  }

  /** The mix for the tick at `mediaMs` (skipped ticks lie just before it). */
  pushAudio(mixAll: Int16Array, silence: Int16Array, mediaMs: number): void {
    if (this.groupList.length === 0) return;
    const skipped = this.hooks.skippedTicks();
    for (let i = 0; i < this.groupList.length; i++) {
      const g = this.groupList[i];
      if (!g.running) continue;
      // As for recordings, the encode begins on a tick of the frame grid (isCaptureStart), so
      // its picture lands exactly COMPOSITE_VIDEO_DELAY_MS after the sound of its time.
      if (!g.feeding) {
        g.feedSkips = skipped;
        if (!isCaptureStart(mediaMs, g.profile.fps, COMPOSITE_VIDEO_DELAY_MS)) continue;
        g.feeding = true;
      }
      // As for recordings: the encode's audio is its clock and must follow the wall clock.
      for (; g.feedSkips < skipped; g.feedSkips++) g.encoder.pushAudio(silence);
      g.encoder.pushAudio(mixAll);
    }
  }

  /** Layout and membership changes: own compositors re-plan on their next tick. */
  invalidate(): void {
    for (const g of this.groupList) g.own?.invalidate();
  }

  async close(): Promise<void> {
    const groups = [...this.groups.values()];
    await Promise.all([...this.byEgress.keys()].map((id) => this.stop(id).catch(() => undefined)));
    await Promise.all(groups.map((g) => this.endGroup(g)));
  }

  private async startGroup(key: string, profile: Profile, layout: LayoutKind | null): Promise<EncodeGroup> {
    const out = OUTPUT_PROFILES[profile];
    const fifoDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mcu-egress-'));
    const fanout = new TsFanout();
    const stream = new Writable({
      // Never push back on the encoder: each destination has its own bound (RemuxDestination).
      write(chunk: Buffer, _enc, done) {
        fanout.push(chunk);
        done();
      },
    });
    const log = this.log.child({ encode: key });
    const gop = out.fps * EGRESS_KEYFRAME_SECONDS;
    const kbps = EGRESS_VIDEO_KBPS[profile];
    const encoder = new RecordingSegmenter({
      recordingId: `egress-${key}`,
      dir: fifoDir,
      width: out.width,
      height: out.height,
      fps: out.fps,
      segmentSeconds: EGRESS_KEYFRAME_SECONDS,
      logger: log,
      // A live stream's backlog is stale: it is not waited for.
      stopTimeoutMs: 3000,
      stopMaxMs: 3000,
      videoDelayMs: COMPOSITE_VIDEO_DELAY_MS,
      output: {
        stream,
        options: [
          '-c:v libx264',
          '-preset veryfast',
          '-tune zerolatency',
          `-profile:v ${EGRESS_H264_PROFILE[profile]}`,
          '-pix_fmt yuv420p',
          `-b:v ${kbps}k`,
          `-maxrate ${kbps}k`,
          `-bufsize ${kbps * 2}k`,
          `-g ${gop}`,
          `-keyint_min ${gop}`,
          '-sc_threshold 0',
          '-c:a aac',
          `-b:a ${EGRESS_AUDIO_KBPS}k`,
          '-ac 2',
          '-f mpegts',
          // Packets leave as soon as they are muxed: every destination's delay starts here.
          '-flush_packets 1',
          '-muxdelay 0',
        ],
      },
    });
    const own = layout ? new ProfileOutput(out) : null;
    const g: EncodeGroup = {
      key,
      profile: out,
      layout,
      own,
      encoder,
      fanout,
      fifoDir,
      destinations: new Map(),
      running: false,
      feeding: false,
      ending: null,
      feedSkips: this.hooks.skippedTicks(),
    };
    encoder.onExit((code, signal, stderr) => {
      const reason = `egress encoder ffmpeg exited (code ${code}, signal ${signal}): ${stderr.slice(-300)}`;
      log.error('egress encoder died', { code, signal });
      void this.failGroup(g, reason);
    });
    if (!own) this.hooks.useProfile(profile);
    this.groups.set(key, g);
    this.groupList = [...this.groups.values()];
    try {
      await encoder.start();
      g.running = true;
    } catch (err) {
      await this.endGroup(g);
      throw err;
    }
    return g;
  }

  private async failGroup(g: EncodeGroup, reason: string): Promise<void> {
    g.running = false;
    g.feeding = false;
    await Promise.all([...g.destinations.values()].map((d) => d.fail(reason)));
    await this.endGroup(g);
  }

  private forget(egressId: string): void {
    const g = this.byEgress.get(egressId);
    this.byEgress.delete(egressId);
    if (!g) return;
    g.destinations.delete(egressId);
    // The last destination gone: its encode stops (an idle encode would cost a core for nothing).
    if (g.destinations.size === 0) void this.endGroup(g);
  }

  private endGroup(g: EncodeGroup): Promise<void> {
    g.ending ??= this.doEndGroup(g);
    return g.ending;
  }

  private async doEndGroup(g: EncodeGroup): Promise<void> {
    const wasRunning = g.running;
    g.running = false;
    g.feeding = false;
    if (this.groups.get(g.key) === g) {
      this.groups.delete(g.key);
      this.groupList = [...this.groups.values()];
    }
    if (!g.own) this.hooks.releaseProfile(g.profile.name);
    g.own?.close();
    if (wasRunning) {
      await g.encoder.stop().catch((err) => this.log.warn('egress encoder stop failed', { err }));
    }
    await fs.rm(g.fifoDir, { recursive: true, force: true }).catch(() => undefined);
    this.log.info('egress encode ended', { encode: g.key, tsPackets: g.fanout.packets });
  }
}
