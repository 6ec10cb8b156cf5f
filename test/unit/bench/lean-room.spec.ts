import { judgeLean, type CapacityResult } from '../../../bench/capacity';
import { leanRoomSpec, parseCli } from '../../../bench/catalog';
import { CompositeReader, senderPictures } from '../../../bench/composite-reader';
import type { LeanRoomResult } from '../../../bench/lean-room';
import { drawStamp } from '../../../bench/stamp';
import { leanCapacityTargets } from '../../../bench/targets';
import { createI420 } from '../../../workers/media/engine/video/i420';

function run(encode: 'per-peer' | 'shared', n: number, over: Partial<LeanRoomResult> = {}): LeanRoomResult {
  return {
    key: encode === 'shared' ? `lean-shared-${n}` : `lean-${n}`,
    title: '',
    encode,
    status: 'ok',
    participants: n,
    participantsWithMedia: n,
    measuredSeconds: 15,
    serverCpuPercent: encode === 'shared' ? 15 + 3 * n : 10 * n,
    serverCpuPerParticipant: null,
    mediaWorkerCpuPercent: null,
    benchCpuPercent: 20,
    machineCpuPercent: null,
    benchEventLoopP99Ms: null,
    rxFpsP5: 15,
    rxFpsMedian: 15,
    freezes: 0,
    audioReceivedRate: 1,
    serverUnderrunRate: 0,
    latencyP50Ms: 100,
    latencyP95Ms: 150,
    latencySamples: 100,
    dtlsRetries: 0,
    serverProblems: [],
    ...over,
  };
}

function capacity(lo: number, hi: number | null): CapacityResult {
  return { criterion: '', capacity: lo, firstFailing: hi, summary: `${lo}`, tried: [] };
}

describe('lean load generator scenarios (issue #17: capacity without the wrtc generator)', () => {
  it('parses lean-<N> (per-peer) and lean-shared-<N>; capacity-lean is a known key', () => {
    expect(leanRoomSpec('lean-8')).toEqual({ encode: 'per-peer', n: 8 });
    expect(leanRoomSpec('lean-shared-32')).toEqual({ encode: 'shared', n: 32 });
    expect(leanRoomSpec('lean-1')).toBeNull();
    expect(leanRoomSpec('lean-65')).toBeNull();
    expect(leanRoomSpec('lean-low-8')).toBeNull();
    expect(parseCli(['--scenarios=lean-4,lean-shared-8,capacity-lean']).keys).toEqual([
      'lean-4',
      'lean-shared-8',
      'capacity-lean',
    ]);
  });

  it('judges a run by fps p5, server underruns and the audio that arrived', () => {
    expect(judgeLean(run('shared', 16)).pass).toBe(true);
    expect(judgeLean(run('shared', 16, { rxFpsP5: 13 })).why).toContain('fps p5 13');
    expect(judgeLean(run('shared', 16, { serverUnderrunRate: 0.002 })).why).toContain(
      'server underruns 0.20 %',
    );
    expect(judgeLean(run('shared', 16, { audioReceivedRate: 0.95 })).why).toContain('audio received 95.0 %');
    expect(judgeLean(run('shared', 16, { participantsWithMedia: 15 })).why).toContain('1 without video');
    expect(judgeLean(run('shared', 16, { status: 'failed', reason: 'failed: x' }))).toMatchObject({
      pass: false,
      why: 'failed: x',
    });
  });

  it('the x2 target: pass, miss, and n/a while the shared search found no limit below 2x', () => {
    const runs = [
      run('per-peer', 6),
      run('per-peer', 10),
      run('shared', 16),
      run('shared', 32),
      run('shared', 40),
    ];
    const ratio = (pp: CapacityResult, sh: CapacityResult) =>
      leanCapacityTargets(runs, { perPeer: pp, shared: sh }).find((t) => t.target.includes('2x'))?.verdict;
    expect(ratio(capacity(10, 12), capacity(40, 44))).toBe('PASS');
    expect(ratio(capacity(10, 12), capacity(16, 20))).toBe('MISS');
    expect(ratio(capacity(10, 12), capacity(16, null))).toBe('n/a');
    const slope = leanCapacityTargets(runs, { perPeer: null, shared: null }).find((t) =>
      t.target.includes('% of a core'),
    );
    expect(slope).toMatchObject({ verdict: 'PASS', measured: '3.0 % per participant + 15.0 %' });
  });

  it("a sender's phase is taken off its stamp's age", () => {
    const ids = ['a', 'b'];
    const frame = createI420(640, 360);
    const pictures = senderPictures(ids, 640, 360, 640, 360);
    // Both tiles carry the same stamp (one encode for every publisher); b sent it 30 ms later.
    const stamp = 5000;
    const tile = createI420(640, 360);
    drawStamp(tile, stamp);
    for (const p of pictures) {
      // Nearest-neighbour copy of the stamped source into each picture rectangle (luma only).
      for (let y = 0; y < p.rect.h; y++)
        for (let x = 0; x < p.rect.w; x++) {
          const sx = Math.floor((x * 640) / p.rect.w);
          const sy = Math.floor((y * 360) / p.rect.h);
          frame.data[(p.rect.y + y) * 640 + p.rect.x + x] = tile.data[sy * 640 + sx];
        }
    }
    const reader = new CompositeReader(pictures, 640, 360, [0, 30]);
    reader.read(frame, stamp + 100);
    expect(reader.counters.decoded).toBe(2);
    expect([...reader.counters.latencies].sort((x, y) => x - y)).toEqual([70, 100]);
  });
});
