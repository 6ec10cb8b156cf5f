import type { LoadSignals } from '../protocol/media';

/** Above any of these a window counts as pressure (the worker is falling behind). */
export interface PressureThresholds {
  tickLatenessP95Ms: number;
  skippedTicks: number;
  loopDelayP99Ms: number;
  encoderBacklogFrames: number;
}

export interface QualityControllerOptions {
  /** Highest level (QUALITY_LEVELS.length - 1). */
  maxLevel: number;
  /** Consecutive pressured windows before the first step down (one blip is not overload). */
  pressuredWindows: number;
  /** Minimum time between two steps down: a step needs a moment to take effect. */
  stepDownIntervalMs: number;
  /** Calm for this long (no pressure, figures below `calm`) before each step up. */
  recoverMs: number;
  /** Largest multiple of recoverMs after steps up that had to be taken back at once. */
  maxRecoverFactor: number;
  pressure: PressureThresholds;
  /** All figures at or below these: calm. Between calm and pressure: neither (hysteresis). */
  calm: PressureThresholds;
}

/**
 * Defaults: a 10 ms clock whose ticks run 25 ms late for 5 % of a window is audibly behind
 * (the jitter buffers downstream start to underrun); calm means nearly on time.
 */
export const DEFAULT_QUALITY_OPTIONS: QualityControllerOptions = {
  maxLevel: 5,
  pressuredWindows: 2,
  stepDownIntervalMs: 2000,
  recoverMs: 10_000,
  maxRecoverFactor: 4,
  pressure: { tickLatenessP95Ms: 25, skippedTicks: 0, loopDelayP99Ms: 60, encoderBacklogFrames: 15 },
  calm: { tickLatenessP95Ms: 12, skippedTicks: 0, loopDelayP99Ms: 30, encoderBacklogFrames: 5 },
};

export type QualityStep = 'down' | 'up';

/**
 * Decides the room's quality level from the worker's load figures, one window at a time. Pure
 * (time is an argument), so it is tested with synthetic signals. Steps down fast (after
 * `pressuredWindows` windows, then at most one step per `stepDownIntervalMs`), steps up slowly
 * (one step per `recoverMs` of calm); a step up followed by pressure within one recoverMs
 * doubles the wait before the next try (up to maxRecoverFactor), so a room sitting at the edge
 * of its capacity does not oscillate every few seconds.
 */
export class QualityController {
  private current = 0;
  private consecutivePressured = 0;
  private lastStepAt = Number.NEGATIVE_INFINITY;
  private lastStep: QualityStep | null = null;
  private calmSince: number | null = null;
  private recoverFactor = 1;

  constructor(private readonly opts: QualityControllerOptions = DEFAULT_QUALITY_OPTIONS) {}

  get level(): number {
    return this.current;
  }

  /** The wait before the next step up, after backing off from failed ones. */
  get recoverMs(): number {
    return this.opts.recoverMs * this.recoverFactor;
  }

  /** Feeds one window's figures observed at `now` (ms); returns the step taken, if any. */
  update(s: LoadSignals, now: number): QualityStep | null {
    if (exceeds(s, this.opts.pressure)) {
      this.calmSince = null;
      this.consecutivePressured++;
      if (this.lastStep === 'up' && now - this.lastStepAt < this.recoverMs) {
        this.recoverFactor = Math.min(this.opts.maxRecoverFactor, this.recoverFactor * 2);
        this.lastStep = null; // once per failed step up
      }
      if (
        this.current < this.opts.maxLevel &&
        this.consecutivePressured >= this.opts.pressuredWindows &&
        now - this.lastStepAt >= this.opts.stepDownIntervalMs
      )
        return this.step('down', now);
      return null;
    }
    this.consecutivePressured = 0;
    if (exceeds(s, this.opts.calm)) {
      this.calmSince = null;
      return null;
    }
    this.calmSince ??= now;
    if (
      this.current > 0 &&
      now - this.calmSince >= this.recoverMs &&
      now - this.lastStepAt >= this.recoverMs
    ) {
      const step = this.step('up', now);
      this.calmSince = now;
      return step;
    }
    // Calm for long at the top: earlier failed tries are forgotten.
    if (this.current === 0 && now - this.calmSince >= this.opts.recoverMs * this.opts.maxRecoverFactor)
      this.recoverFactor = 1;
    return null;
  }

  private step(direction: QualityStep, now: number): QualityStep {
    this.current += direction === 'down' ? 1 : -1;
    this.lastStepAt = now;
    this.lastStep = direction;
    return direction;
  }
}

function exceeds(s: LoadSignals, t: PressureThresholds): boolean {
  return (
    s.tickLatenessP95Ms > t.tickLatenessP95Ms ||
    s.skippedTicks > t.skippedTicks ||
    s.loopDelayP99Ms > t.loopDelayP99Ms ||
    s.encoderBacklogFrames > t.encoderBacklogFrames
  );
}
