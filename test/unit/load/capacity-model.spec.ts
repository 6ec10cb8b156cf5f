import {
  costOf,
  refusal,
  roomUnits,
  type AdmissionPolicy,
  type ParticipantLoad,
} from '../../../src/load/capacity-model';
import {
  ConfigError,
  DEFAULT_PARTICIPANT_COSTS,
  loadConfig,
  SHARED_PARTICIPANT_COSTS,
} from '../../../src/config/config';

const policy: AdmissionPolicy = { capacity: 7, limit: 0.85, maxLoopDelayMs: 200 };
const idle = { committed: 0, cpuLoad: 0.1, loopDelayMs: 5 };

describe('capacity model', () => {
  it('a standard publisher costs one unit; viewers and audio-only participants cost less', () => {
    const c = DEFAULT_PARTICIPANT_COSTS;
    expect(costOf(c, { role: 'publisher', profile: 'standard' })).toBe(1);
    for (const profile of ['low', 'standard', 'high'] as const)
      expect(costOf(c, { role: 'viewer', profile })).toBeLessThan(costOf(c, { role: 'publisher', profile }));
    expect(costOf(c, { role: 'publisher', profile: 'high', audioOnly: true })).toBeLessThan(
      costOf(c, { role: 'viewer', profile: 'low' }),
    );
  });

  it('per peer a room costs the sum of its participants; shared adds one encode per profile its video receivers use', () => {
    const pub = (profile: ParticipantLoad['profile']): ParticipantLoad => ({ role: 'publisher', profile });
    const room = [pub('standard'), pub('standard'), pub('standard'), pub('low')];
    expect(roomUnits(DEFAULT_PARTICIPANT_COSTS, room)).toBeCloseTo(3.8);
    const s = SHARED_PARTICIPANT_COSTS;
    expect(roomUnits(s, room)).toBeCloseTo(
      3 * s.publisher.standard + s.publisher.low + s.encode.standard + s.encode.low,
    );
    // An ingress and an audio-only participant receive no video: no encode for their profile.
    expect(roomUnits(s, [{ role: 'ingress', profile: 'high' }])).toBeCloseTo(s.publisher.high);
    expect(roomUnits(s, [{ role: 'viewer', profile: 'high', audioOnly: true }])).toBeCloseTo(s.audioOnly);
    // The shared encode is what makes a large room cheap: the default node (7 × 0.85 units)
    // takes 11 standard publishers in one room with it, 5 per peer; the first receiver of a
    // profile pays its encode.
    const ofN = (n: number) => Array.from({ length: n }, () => pub('standard'));
    const fits = (c: typeof s, n: number) => refusal(policy, idle, roomUnits(c, ofN(n))) === null;
    expect([fits(s, 11), fits(s, 12)]).toEqual([true, false]);
    expect([fits(DEFAULT_PARTICIPANT_COSTS, 5), fits(DEFAULT_PARTICIPANT_COSTS, 6)]).toEqual([true, false]);
    expect(roomUnits(s, [pub('standard')])).toBeGreaterThan(s.publisher.standard);
  });

  it('VIDEO_ENCODE picks the cost table; ADMISSION_COSTS overrides either, encodes included', () => {
    expect(loadConfig({}).load.costs).toEqual(SHARED_PARTICIPANT_COSTS);
    expect(loadConfig({ VIDEO_ENCODE: 'per-peer' }).load.costs).toEqual(DEFAULT_PARTICIPANT_COSTS);
    const c = loadConfig({ VIDEO_ENCODE: 'shared', ADMISSION_COSTS: '{"encode":{"high":5}}' }).load.costs;
    expect(c.encode).toEqual({ ...SHARED_PARTICIPANT_COSTS.encode, high: 5 });
    expect(c.publisher).toEqual(SHARED_PARTICIPANT_COSTS.publisher);
    expect(() => loadConfig({ ADMISSION_COSTS: '{"encode":{"ultra":1}}' })).toThrow(ConfigError);
  });

  it('admits up to the limit of capacity and refuses beyond it with a reason', () => {
    // 0.85 × 7 = 5.95 units: five standard publishers fit, the sixth does not.
    expect(refusal(policy, { ...idle, committed: 4 }, 1)).toBeNull();
    expect(refusal(policy, { ...idle, committed: 5 }, 1)).toMatch(/at capacity \(5 of 5\.95 units/);
    // ... but a viewer or an audio-only participant is still admitted.
    expect(refusal(policy, { ...idle, committed: 5 }, 0.8)).toBeNull();
    expect(refusal(policy, { ...idle, committed: 5.7 }, 0.2)).toBeNull();
  });

  it('refuses on measured CPU or sustained worker lag even when the model says there is room', () => {
    expect(refusal(policy, { ...idle, cpuLoad: 0.9 }, 1)).toMatch(/CPU is at 90 %/);
    expect(refusal(policy, { ...idle, loopDelayMs: 450 }, 1)).toMatch(/falling behind/);
  });

  it('NODE_CAPACITY, ADMISSION_LIMIT and ADMISSION_COSTS configure it; bad values stop the boot', () => {
    const c = loadConfig({
      NODE_CAPACITY: '12.5',
      ADMISSION_LIMIT: '0.9',
      ADMISSION_COSTS: '{"publisher":{"high":4},"audioOnly":0.1}',
      VIDEO_ENCODE: 'per-peer',
    });
    expect(c.load.capacity).toBe(12.5);
    expect(c.load.admissionLimit).toBe(0.9);
    expect(c.load.costs.publisher).toEqual({ low: 0.8, standard: 1, high: 4 });
    expect(c.load.costs.audioOnly).toBe(0.1);
    expect(loadConfig({}).load).toMatchObject({ capacity: 7, admissionLimit: 0.85 });
    expect(() => loadConfig({ ADMISSION_LIMIT: '1.5' })).toThrow(/ADMISSION_LIMIT/);
    expect(() => loadConfig({ ADMISSION_COSTS: '{"publisher":{"ultra":1}}' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_CAPACITY: '0' })).toThrow(/NODE_CAPACITY/);
  });
});
