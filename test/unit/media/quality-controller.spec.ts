import type { LoadSignals } from '../../../workers/protocol/media';
import { QUALITY_LEVELS } from '../../../workers/protocol/media';
import {
  DEFAULT_QUALITY_OPTIONS,
  QualityController,
  type QualityStep,
} from '../../../workers/media/quality-controller';

const CALM: LoadSignals = {
  tickLatenessP95Ms: 2,
  skippedTicks: 0,
  loopDelayP99Ms: 11,
  encoderBacklogFrames: 0,
};
const LATE: LoadSignals = { ...CALM, tickLatenessP95Ms: 80 };
/** Between the calm and the pressure thresholds: neither. */
const UNEASY: LoadSignals = { ...CALM, tickLatenessP95Ms: 18 };

/** Feeds one window per second from `t0`; returns the steps taken and the next time. */
function feed(c: QualityController, s: LoadSignals, seconds: number, t0: number) {
  const steps: { at: number; step: QualityStep; level: number }[] = [];
  let t = t0;
  for (let i = 0; i < seconds; i++, t += 1000) {
    const step = c.update(s, t);
    if (step) steps.push({ at: t, step, level: c.level });
  }
  return { steps, t };
}

const opts = { ...DEFAULT_QUALITY_OPTIONS, maxLevel: QUALITY_LEVELS.length - 1, recoverMs: 10_000 };

describe('QualityController', () => {
  it('stays at full quality while the worker keeps up', () => {
    const c = new QualityController(opts);
    expect(feed(c, CALM, 60, 0).steps).toEqual([]);
    expect(c.level).toBe(0);
  });

  it('ignores one late window, steps down after two, then at most one step per interval', () => {
    const c = new QualityController(opts);
    let r = feed(c, LATE, 1, 0);
    r = feed(c, CALM, 1, r.t);
    expect(c.level).toBe(0);
    r = feed(c, LATE, 2, r.t);
    expect(c.level).toBe(1);
    r = feed(c, LATE, 1, r.t); // 1 s after the step: too soon
    expect(c.level).toBe(1);
    feed(c, LATE, 1, r.t);
    expect(c.level).toBe(2);
  });

  it('each kind of signal counts as pressure: skipped ticks, loop delay, encoder backlog', () => {
    for (const s of [
      { ...CALM, skippedTicks: 30 },
      { ...CALM, loopDelayP99Ms: 250 },
      { ...CALM, encoderBacklogFrames: 40 },
    ]) {
      const c = new QualityController(opts);
      feed(c, s, 2, 0);
      expect(c.level).toBe(1);
    }
  });

  it('sheds down to the last level under lasting pressure and no further', () => {
    const c = new QualityController(opts);
    const r = feed(c, LATE, 60, 0);
    expect(c.level).toBe(QUALITY_LEVELS.length - 1);
    expect(r.steps.every((s) => s.step === 'down')).toBe(true);
    expect(r.steps).toHaveLength(QUALITY_LEVELS.length - 1);
  });

  it('steps back up one level per recoverMs of calm, not before', () => {
    const c = new QualityController(opts);
    let r = feed(c, LATE, 5, 0); // levels 1 and 2
    expect(c.level).toBe(2);
    r = feed(c, CALM, 9, r.t);
    expect(c.level).toBe(2);
    r = feed(c, CALM, 2, r.t);
    expect(c.level).toBe(1);
    feed(c, CALM, 10, r.t);
    expect(c.level).toBe(0);
  });

  it('figures between calm and pressure neither shed nor restore (hysteresis)', () => {
    const c = new QualityController(opts);
    const r = feed(c, LATE, 2, 0);
    expect(c.level).toBe(1);
    expect(feed(c, UNEASY, 60, r.t).steps).toEqual([]);
    expect(c.level).toBe(1);
  });

  it('waits longer after a step up that pressure took back at once', () => {
    const c = new QualityController(opts);
    let r = feed(c, LATE, 4, 0); // level 2 at t=3000
    r = feed(c, CALM, 11, r.t); // up to level 1
    expect(c.level).toBe(1);
    expect(c.recoverMs).toBe(10_000);
    r = feed(c, LATE, 2, r.t); // pressure right after the step up
    expect(c.level).toBe(2);
    expect(c.recoverMs).toBe(20_000);
    r = feed(c, CALM, 15, r.t);
    expect(c.level).toBe(2); // 10 s of calm is no longer enough
    feed(c, CALM, 6, r.t);
    expect(c.level).toBe(1);
  });
});

describe('QUALITY_LEVELS', () => {
  it('sheds frame rate 30 → 15 → 10 → 7.5, then high → standard, then standard → low', () => {
    expect(QUALITY_LEVELS.map((l) => l.fpsCap)).toEqual([30, 15, 10, 7.5, 7.5, 7.5]);
    expect(QUALITY_LEVELS.map((l) => l.serve.high)).toEqual([
      'high',
      'high',
      'high',
      'high',
      'standard',
      'low',
    ]);
    expect(QUALITY_LEVELS.map((l) => l.serve.standard)).toEqual([
      'standard',
      'standard',
      'standard',
      'standard',
      'standard',
      'low',
    ]);
  });
});
