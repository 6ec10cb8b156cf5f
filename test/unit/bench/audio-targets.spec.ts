import type { AudioRoomResult } from '../../../bench/audio-room';
import { audioRoomTargets } from '../../../bench/targets';

function row(stack: AudioRoomResult['stack'], cpu: number, median: number, speakers = 16): AudioRoomResult {
  return {
    date: '',
    participants: 16,
    speakers,
    stack,
    janusBitrateBps: null,
    tones: 'spread',
    connected: 16,
    env: {},
    windowSeconds: 15,
    serverCpuPercent: cpu,
    cpuPercentPerParticipant: cpu / 16,
    cpuByRole: {},
    peakRssMb: 0,
    suppressionDb: { min: median - 10, median },
    analysisSeconds: 4,
    suppression1sDb: { min: median - 15, median: median - 5 },
    downlinkKbps: 32,
    audioUnderruns: stack === 'janus' ? null : 0,
    loadavg: [],
    cores: 2,
  };
}

describe('audio-only room targets (issue 12, item 4)', () => {
  it('judges our RTP-level row of everyone speaking against 34 %, 40 dB and every Janus row of the run', () => {
    const checks = audioRoomTargets([row('janus', 30.1, 33), row('janus', 32.5, 31), row('rtp', 29.7, 43.7)]);
    expect(checks.map((c) => c.verdict)).toEqual(['PASS', 'PASS', 'PASS']);
    expect(checks[2].measured).toBe('29.7 % against 30.1 %, 32.5 %');
  });

  it('misses what is missed: CPU, the median listener, or a Janus row cheaper than ours', () => {
    const checks = audioRoomTargets([row('janus', 30, 33), row('rtp', 35, 39.9)]);
    expect(checks.map((c) => c.verdict)).toEqual(['MISS', 'MISS', 'MISS']);
  });

  it('without our row of everyone speaking there is nothing to judge; without Janus no comparison', () => {
    expect(audioRoomTargets([row('janus', 30, 33), row('rtp', 20, 50, 4)])).toEqual([]);
    expect(audioRoomTargets([row('rtp', 20, 50)])).toHaveLength(2);
  });
});
