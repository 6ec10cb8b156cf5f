import type { DownlinkProfile } from '../protocol/media';
import type { Logger } from '../kernel/logger';
import {
  DEFAULT_DOWNLINK_OPTIONS,
  DownlinkController,
  type DownlinkControllerOptions,
  type DownlinkSample,
  type DownlinkStep,
} from './downlink-controller';
import { DownlinkStatsReader, type RawStat } from './downlink-stats';
import type { UplinkFigures } from '../protocol/media';
import { UplinkStatsReader } from './uplink-monitor';

/** One window of link figures per participant. */
const WINDOW_MS = 1000;

/** A member whose downlink adapts: a wrtc peer (libwebrtc's stats say what its link carries). */
export interface AdaptiveMember {
  readonly id: string;
  readonly connectionState: string;
  rawStats(): Promise<RawStat[]>;
  /**
   * 'receiver': the estimate in rawStats is the client's REMB and the member is sent a shared
   * stream at its profile's rate (DownlinkControllerOptions.receiverEstimate). Absent: libwebrtc's
   * send-side estimate of a peer connection that encodes for this member alone.
   */
  readonly downlinkEstimate?: 'sender' | 'receiver';
  /**
   * A bandwidth probe by padding (`canPad`: RTP-level members that send video with RTX): `kbps`
   * on top of what is sent, reached over `rampMs`, for up to `maxMs`; false when it could not
   * start. Without it a step up is tried with the stream itself (libwebrtc's own encoder ramps
   * into it).
   */
  readonly canPad?: boolean;
  startPadding?(kbps: number, maxMs: number, rampMs: number): boolean;
  stopPadding?(): void;
}

/** How long a padding probe runs before its step is taken (DownlinkControllerOptions.paddingProbeMs). */
const PADDING_PROBE_MS = 3000;
/** The padding rises to its full rate over this long, then holds it for the probe's last second. */
const PADDING_RAMP_MS = 2000;
/** The sender's own bound on a probe: ends it if this side never says so (a window lost, a stall). */
const PADDING_MAX_MS = PADDING_PROBE_MS + 2 * WINDOW_MS;

export interface DownlinkAdaptationHooks {
  /** The members to sample this window (peer-connection members; ceiling() says which adapt). */
  members(): Iterable<AdaptiveMember>;
  /**
   * What the member would be served without adaptation (its request after the room's
   * shedding), or null when its downlink does not adapt now (pinned, no video downlink).
   */
  ceiling(id: string): DownlinkProfile | null;
  /** Frames per second the composite served to `id` is handed to its encoder at (null: none). */
  expectedFps(id: string): number | null;
  /** The controller took a step for `id`: serve it `served(id, ceiling)` now. */
  onStep(id: string, step: DownlinkStep, sample: DownlinkSample): void;
  /**
   * What arrived of `id`'s video in the last window (its uplink), read from the same stats
   * report: one getStats per member per second serves both directions.
   */
  onUplink(id: string, figures: UplinkFigures): void;
  /** Every member's whole report of the window, for other readers (lip sync). */
  onReport(id: string, stats: readonly RawStat[]): void;
}

interface Entry {
  controller: DownlinkController;
  reader: DownlinkStatsReader;
}

/**
 * The room's side of adaptive downlink (docs/adaptive-downlink.md): every second, reads each
 * wrtc participant's link from its peer connection's stats and feeds that participant's
 * DownlinkController; a step re-serves the participant (MediaRoom). The served profile is the
 * lower of what it asked for after the room's shedding (the ceiling) and adaptation's cap.
 */
export class DownlinkAdaptation {
  private readonly entries = new Map<string, Entry>();
  private readonly uplinks = new Map<string, UplinkStatsReader>();
  /** Members whose last window showed their link limiting them (see linkLimited). */
  private readonly limited = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private sampling = false;
  private readonly opts: DownlinkControllerOptions;

  constructor(
    private readonly enabled: boolean,
    recoverMs: number,
    private readonly hooks: DownlinkAdaptationHooks,
    private readonly log: Logger,
  ) {
    this.opts = { ...DEFAULT_DOWNLINK_OPTIONS, upMs: recoverMs };
  }

  /** What `id` is served under `ceiling`: the ceiling, or adaptation's lower cap. */
  served(id: string, ceiling: DownlinkProfile): DownlinkProfile {
    return this.entries.get(id)?.controller.served(ceiling) ?? ceiling;
  }

  /** Adaptation starts over for `id` (a new request, a pin or unpin): no cap until it measures again. */
  reset(id: string): void {
    const probing = this.entries.get(id)?.controller.probe ?? null;
    this.entries.get(id)?.controller.reset();
    if (probing) for (const m of this.hooks.members()) if (m.id === id) m.stopPadding?.();
  }

  remove(id: string): void {
    this.entries.delete(id);
    this.uplinks.delete(id);
    this.limited.delete(id);
  }

  /**
   * The member's link limited what was sent to it in the last window (a shortfall): frames its
   * encoder dropped then are the link's doing, not the
   * worker's, and must not count as encoder backlog for the room's quality shedding (which
   * would shed video for everyone because of one narrow link).
   */
  linkLimited(id: string): boolean {
    return this.limited.has(id);
  }

  /** Starts the windows; with adaptation off they still read every member's uplink. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sample(), WINDOW_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private entry(m: AdaptiveMember): Entry {
    let e = this.entries.get(m.id);
    if (!e) {
      const opts =
        m.downlinkEstimate === 'receiver'
          ? {
              ...this.opts,
              receiverEstimate: true,
              paddingProbeMs: m.canPad === true ? PADDING_PROBE_MS : undefined,
            }
          : this.opts;
      e = { controller: new DownlinkController(opts), reader: new DownlinkStatsReader() };
      this.entries.set(m.id, e);
    }
    return e;
  }

  private async sample(): Promise<void> {
    if (this.sampling) return; // a slow getStats must not pile windows up
    this.sampling = true;
    try {
      const members = [...this.hooks.members()];
      await Promise.all(members.map((m) => this.sampleOne(m)));
    } finally {
      this.sampling = false;
    }
  }

  private async sampleOne(m: AdaptiveMember): Promise<void> {
    if (m.connectionState !== 'connected') return;
    const adapts = this.enabled && this.hooks.ceiling(m.id) !== null;
    if (!adapts) {
      // Pinned or no video downlink: its figures are not gathered, and it starts afresh later.
      if (this.entries.get(m.id)?.controller.probe) m.stopPadding?.();
      this.entries.delete(m.id);
      this.limited.delete(m.id);
    }
    const stats = await m.rawStats().catch((err: unknown) => {
      this.log.debug('link stats failed', { participantId: m.id, err });
      return null;
    });
    if (!stats || !this.timer) return;
    this.hooks.onReport(m.id, stats);
    let uplink = this.uplinks.get(m.id);
    if (!uplink) this.uplinks.set(m.id, (uplink = new UplinkStatsReader()));
    const figures = uplink.read(stats, performance.now());
    if (figures) this.hooks.onUplink(m.id, figures);
    if (!adapts) return;
    const e = this.entry(m);
    const s = e.reader.read(stats, performance.now());
    // Ask again: the member may have pinned, left or changed its request during getStats.
    const ceiling = this.hooks.ceiling(m.id);
    if (!s || ceiling === null || !this.enabled || this.entries.get(m.id) !== e) return;
    s.expectedFps = this.hooks.expectedFps(m.id);
    const probing = e.controller.probe;
    const step = e.controller.update(s, ceiling, performance.now());
    // Every window, for reading a run's decisions back (LOG_LEVEL=debug).
    this.log.debug('downlink window', {
      participantId: m.id,
      served: e.controller.served(ceiling),
      verdict: e.controller.lastVerdict,
      estimateKbps: s.estimateKbps === null ? null : Math.round(s.estimateKbps),
      sentKbps: Math.round(s.sentKbps),
      fractionLost: s.fractionLost,
      videoFractionLost: s.videoFractionLost,
      nackPerSec: s.nackPerSec,
      probePending: s.probePending,
    });
    if (e.controller.lastVerdict === 'shortfall') this.limited.add(m.id);
    else this.limited.delete(m.id);
    this.followProbe(m, probing, e.controller.probe, step, s);
    if (step) this.hooks.onStep(m.id, step, s);
  }

  /** Starts or stops the member's padding as its controller's probe began or ended. */
  private followProbe(
    m: AdaptiveMember,
    before: DownlinkController['probe'],
    after: DownlinkController['probe'],
    step: DownlinkStep | null,
    s: DownlinkSample,
  ): void {
    if (before === null && after !== null) {
      const started = m.startPadding?.(after.kbps, PADDING_MAX_MS, PADDING_RAMP_MS) ?? false;
      this.log.info('downlink probe started', {
        participantId: m.id,
        profile: after.profile,
        paddingKbps: after.kbps,
        started,
        estimateKbps: s.estimateKbps,
      });
    } else if (before !== null && after === null) {
      m.stopPadding?.();
      this.log.info('downlink probe ended', {
        participantId: m.id,
        profile: before.profile,
        outcome:
          step === 'up'
            ? 'step-up'
            : s.probeAborted === true || this.entries.get(m.id)?.controller.lastVerdict !== 'calm'
              ? 'failed'
              : s.probePending === true
                ? 'unconfirmed'
                : 'cancelled',
        estimateKbps: s.estimateKbps,
        fractionLost: s.fractionLost,
        nackPerSec: s.nackPerSec,
        abortedBySender: s.probeAborted === true,
      });
    }
  }
}
