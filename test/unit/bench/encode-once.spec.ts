import { aggregate, type ScenarioResult } from '../../../bench/aggregate';
import { capacityResult } from '../../../bench/capacity';
import { parseCli, specFor } from '../../../bench/catalog';
import { sharedEncodeTargets } from '../../../bench/targets';

/** A measured one-room `standard` run: N participants, server CPU, fps and latency as given. */
function run(
  key: string,
  cpu: number,
  fps: { p5: number; median: number },
  latencyP95Ms: number,
  underrun = 0,
): ScenarioResult {
  const spec = specFor(key);
  if (!spec) throw new Error(key);
  const r = aggregate(spec, null);
  return {
    ...r,
    status: 'ok',
    participantsWithMedia: r.participants,
    serverCpuPercent: cpu,
    rxFpsP5: fps.p5,
    rxFpsMedian: fps.median,
    latencyP95Ms,
    audioUnderrunRate: underrun,
  };
}

describe('encode-once benchmark scenarios (issue #17)', () => {
  it('shared-N is std-N with VIDEO_ENCODE=shared; shared-churn too; capacity-shared and the downlink variants parse', () => {
    expect(specFor('shared-8')).toMatchObject({
      rooms: 1,
      perRoom: 8,
      profile: 'standard',
      sharedEncode: true,
    });
    expect(specFor('std-8')?.sharedEncode).toBeUndefined();
    expect(specFor('shared-low-8')).toMatchObject({ perRoom: 8, profile: 'low', sharedEncode: true });
    expect(specFor('shared-high-4')).toMatchObject({ perRoom: 4, profile: 'high', sharedEncode: true });
    expect(specFor('shared-ultra-4')).toBeNull();
    expect(parseCli(['--scenarios=overload']).overloadEncode).toBe('shared');
    expect(parseCli(['--scenarios=overload', '--overload-encode=per-peer']).overloadEncode).toBe('per-peer');
    expect(() => parseCli(['--overload-encode=vp9'])).toThrow(/--overload-encode/);
    expect(specFor('shared-churn-2')).toMatchObject({ sharedEncode: true, churn: { cycles: 2 } });
    const cli = parseCli([
      '--scenarios=shared-4,capacity-shared,adaptive-downlink',
      '--downlink-variants=on-loss1',
    ]);
    expect(cli.keys).toEqual(['shared-4', 'capacity-shared', 'adaptive-downlink']);
    expect(cli.downlinkVariants).toEqual(['on-loss1']);
    expect(() => parseCli(['--scenarios=shared-x'])).toThrow(/unknown scenario/);
  });

  it('judges CPU per participant on runs that delivered the frame rate, capacity against per-peer, latency within capacity', () => {
    const scenarios = [
      run('std-4', 57, { p5: 15, median: 15 }, 200),
      run('std-8', 83, { p5: 8, median: 11 }, 1583, 0.4),
      run('shared-4', 25, { p5: 15, median: 15 }, 110),
      run('shared-8', 39, { p5: 12, median: 15 }, 173, 0.003),
      run('shared-12', 50, { p5: 14, median: 15 }, 166, 0.006),
      run('shared-16', 53, { p5: 4, median: 10 }, 784, 0.2),
    ];
    const perPeer = capacityResult(
      [
        { n: 4, pass: true, why: '' },
        { n: 8, pass: false, why: '' },
      ],
      2,
    );
    const shared = capacityResult(
      [
        { n: 4, pass: true, why: '' },
        { n: 5, pass: true, why: '' },
        { n: 6, pass: false, why: '' },
      ],
      2,
    );
    const [cpu, capacity, latency] = sharedEncodeTargets(scenarios, perPeer, shared);
    // Slope over shared-4, -8, -12 (shared-16 delivered 10 fps median and is left out).
    expect(cpu.measured).toMatch(/^3\.1 % per participant/);
    expect(cpu.verdict).toBe('PASS');
    expect(capacity.verdict).toBe('MISS'); // 5 < 2 x 4
    expect(latency).toMatchObject({ verdict: 'PASS' });
    expect(latency.measured).toBe('shared worst 110 ms, per-peer worst 200 ms');
    // No shared run: no target at all.
    expect(sharedEncodeTargets(scenarios.slice(0, 2), perPeer, null)).toEqual([]);
  });
});
