import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { QUALITY_LEVELS, type LoadSignals, type Profile, type QualityLevel } from '../protocol/media';
import type { MediaClock } from './media-clock';
import { DEFAULT_QUALITY_OPTIONS, QualityController, type QualityStep } from './quality-controller';

/** One window of load figures; the controller decides on each. */
const WINDOW_MS = 1000;
/** Every how many windows the load figures go to the control plane (admission reads them). */
const REPORT_EVERY_WINDOWS = 2;

export interface RoomQualityHooks {
  /** Frames the peers' encoders were handed but did not send in the last window (max over peers). */
  encoderBacklog(): Promise<number>;
  /** The controller took a step: re-serve the peers (level is already the new one). */
  onStep(direction: QualityStep, signals: LoadSignals): void;
  /** Periodic load report. */
  onLoad(report: LoadSignals & { qualityLevel: number }): void;
}

/**
 * The room's side of quality shedding: measures every second how far the worker falls behind
 * (clock lateness and skipped ticks, event-loop delay, encoder backlog), feeds the
 * QualityController and says which composite rate and profiles the current level allows.
 * Audio is never shed here: it is mixed first on every tick and its path has no knob.
 */
export class RoomQuality {
  private readonly controller: QualityController;
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private timer: NodeJS.Timeout | null = null;
  private lastSkipped: number;
  private windows = 0;
  private sampling = false;

  constructor(
    private readonly clock: MediaClock,
    recoverMs: number,
    private readonly shedding: boolean,
    private readonly hooks: RoomQualityHooks,
  ) {
    this.controller = new QualityController({
      ...DEFAULT_QUALITY_OPTIONS,
      maxLevel: QUALITY_LEVELS.length - 1,
      recoverMs,
    });
    this.lastSkipped = clock.skippedTicks;
  }

  get level(): number {
    return this.controller.level;
  }

  get current(): QualityLevel {
    return QUALITY_LEVELS[this.controller.level];
  }

  /** The composite a receiver asking for `asked` gets at the current level. */
  serve(asked: Profile): Profile {
    return this.current.serve[asked];
  }

  /** The frame rate a composite of `profileFps` runs at under the current level's cap. */
  fps(profileFps: number): number {
    return Math.min(profileFps, this.current.fpsCap);
  }

  start(): void {
    if (this.timer) return;
    this.loopDelay.enable();
    this.timer = setInterval(() => void this.sample(), WINDOW_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.loopDelay.disable();
  }

  private async sample(): Promise<void> {
    if (this.sampling) return; // a slow getStats must not pile windows up
    this.sampling = true;
    try {
      const late = this.clock.takeLateness();
      const skipped = this.clock.skippedTicks;
      const loop = this.loopDelay.count > 0 ? this.loopDelay.percentile(99) / 1e6 : 0;
      this.loopDelay.reset();
      const signals: LoadSignals = {
        tickLatenessP95Ms: round1(late.p95Ms),
        skippedTicks: skipped - this.lastSkipped,
        loopDelayP99Ms: round1(loop),
        encoderBacklogFrames: await this.hooks.encoderBacklog().catch(() => 0),
      };
      this.lastSkipped = skipped;
      if (!this.timer) return;
      const step = this.shedding ? this.controller.update(signals, performance.now()) : null;
      if (step) this.hooks.onStep(step, signals);
      if (++this.windows % REPORT_EVERY_WINDOWS === 0)
        this.hooks.onLoad({ ...signals, qualityLevel: this.controller.level });
    } finally {
      this.sampling = false;
    }
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
