import {
  judgeSoak,
  minuteTable,
  slopePerSecond,
  soakPlan,
  type SoakProcSample,
  type SoakSample,
} from '../../../bench/soak-verdict';

/**
 * Synthetic soak series: samples every 5 s, a recording on from 5 s to 65 s of every 2-minute
 * cycle (the media worker holds 40 MB more meanwhile and an ffmpeg runs), a participant present
 * in the first 5 s of every 10 s (2 more fds in the control plane, 3 more Redis keys). Each test
 * changes one thing and checks the verdicts see exactly that.
 */
interface Shape {
  durationS?: number;
  /** Extra kB of a process at time t (s): a leak or a warm-up. */
  extraKb?: (key: string, t: number) => number;
  extraFds?: (key: string, t: number) => number;
  extraKeys?: (t: number) => number;
  deaths?: (t: number) => number | null;
  /** Pid of the media worker at time t (a restart changes it). */
  workerPid?: (t: number) => number;
  ffmpegPeakKb?: (cycle: number) => number;
}

const MB = 1024;

function series(shape: Shape = {}): SoakSample[] {
  const duration = shape.durationS ?? 1800;
  const extra = shape.extraKb ?? (() => 0);
  const extraFds = shape.extraFds ?? (() => 0);
  const out: SoakSample[] = [];
  for (let t = 0; t <= duration; t += 5) {
    const cycle = Math.floor(t / 120);
    const inCycle = t % 120;
    const recording = inCycle >= 5 && inCycle < 65;
    const churner = t % 10 < 5;
    const worker = `media-worker ${shape.workerPid?.(t) ?? 200}`;
    const proc = (key: string, role: SoakProcSample['role'], kb: number, fds: number): SoakProcSample => ({
      key,
      role,
      rssKb: kb + extra(key, t),
      fds: fds + extraFds(key, t),
    });
    const procs = [
      proc('control-plane', 'control-plane', 150 * MB + (t % 3) * 100, 40 + (churner ? 2 : 0)),
      proc(worker, 'media-worker', 300 * MB + (recording ? 40 * MB : 0) + ((t * 7) % 5) * 200, 60),
      proc('recording-worker', 'recording-worker', 90 * MB, 20),
      proc('redis', 'redis', 12 * MB, 12),
    ];
    if (recording) {
      // An ffmpeg grows to its peak during the first seconds of its life.
      const peak = shape.ffmpegPeakKb?.(cycle) ?? 60 * MB;
      procs.push({
        key: `ffmpeg (capture) ${1000 + cycle}:1`,
        role: 'ffmpeg',
        instanceOf: 'ffmpeg (capture)',
        rssKb: Math.min(peak, (peak * (inCycle - 4)) / 20),
        fds: 9,
      });
    }
    out.push({
      t,
      procs,
      redisKeys: 20 + (churner ? 3 : 0) + (shape.extraKeys?.(t) ?? 0),
      deaths: shape.deaths ? shape.deaths(t) : 0,
      participants: churner ? 4 : 3,
      recording,
    });
  }
  return out;
}

const failed = (samples: SoakSample[], durationS = 1800) =>
  judgeSoak(samples, soakPlan(durationS))
    .verdicts.filter((v) => !v.pass)
    .map((v) => `${v.check} ${v.subject}`);

describe('soak verdicts', () => {
  it('window and segments: the last 20 minutes of 30, one recording cycle at each end; a short run keeps the proportions', () => {
    expect(soakPlan(1800)).toEqual({ durationS: 1800, judgedS: 1200, segmentS: 120 });
    expect(soakPlan(3600)).toEqual({ durationS: 3600, judgedS: 1200, segmentS: 120 });
    expect(soakPlan(360)).toEqual({ durationS: 360, judgedS: 240, segmentS: 120 });
    expect(soakPlan(120)).toEqual({ durationS: 120, judgedS: 80, segmentS: 40 });
  });

  it('a flat run passes everything, whatever the recording and churn phase at the window edges', () => {
    const j = judgeSoak(series(), soakPlan(1800));
    expect(j.verdicts.filter((v) => !v.pass)).toEqual([]);
    expect(j.pass).toBe(true);
    const worker = j.verdicts.find((v) => v.check === 'rss' && v.subject === 'media-worker 200');
    expect(Math.abs(worker?.growth ?? 1)).toBeLessThan(0.005);
    expect(Math.abs(worker?.slopeMbPerHour ?? 99)).toBeLessThan(5);
    // Every long-lived process is judged for RSS and fds, plus the tree, keys, ffmpeg and deaths.
    const subjects = j.verdicts.map((v) => `${v.check} ${v.subject}`);
    expect(subjects).toEqual(
      expect.arrayContaining([
        'rss control-plane',
        'fds control-plane',
        'rss media-worker 200',
        'rss recording-worker',
        'rss redis',
        'rss whole tree',
        'fds whole tree',
        'redis-keys Redis DBSIZE',
        'instance-rss ffmpeg (capture)',
        'worker-deaths mcu_worker_deaths_total',
      ]),
    );
  });

  it('growth during the warm-up only is not a leak', () => {
    // The media worker grows by 200 MB over the first 10 minutes, then stays.
    const samples = series({
      extraKb: (k, t) => (k.startsWith('media-worker') ? Math.min(t, 600) * (200 / 600) * MB : 0),
    });
    expect(failed(samples)).toEqual([]);
  });

  it('a slow leak in one process fails that process (and names it), not the others', () => {
    // 1 MB a minute: +20 MB over the window, 6.7 % of the media worker's 300 MB.
    const samples = series({ extraKb: (k, t) => (k.startsWith('media-worker') ? (t / 60) * MB : 0) });
    const j = judgeSoak(samples, soakPlan(1800));
    const worker = j.verdicts.find((v) => v.check === 'rss' && v.subject === 'media-worker 200');
    expect(worker?.pass).toBe(false);
    expect(worker?.growth).toBeGreaterThan(0.05);
    expect(worker?.slopeMbPerHour).toBeCloseTo(60, 0);
    expect(failed(samples)).toEqual(['rss media-worker 200']);
    // Half that rate (3.3 %) is under the limit.
    expect(
      failed(series({ extraKb: (k, t) => (k.startsWith('media-worker') ? (t / 120) * MB : 0) })),
    ).toEqual([]);
  });

  it('the whole tree is judged too: small growth in every process adds up', () => {
    // Each process grows by 4 % of its own size over the window: each passes, and so does the sum.
    const base: Record<string, number> = {
      'control-plane': 150,
      'media-worker 200': 300,
      'recording-worker': 90,
      redis: 12,
    };
    const grow = (pct: number) => (k: string, t: number) =>
      t < 600 ? 0 : ((base[k] ?? 0) * MB * pct * (t - 600)) / 1200;
    expect(failed(series({ extraKb: grow(0.04) }))).toEqual([]);
    expect(failed(series({ extraKb: grow(0.08) }))).toEqual(
      expect.arrayContaining(['rss control-plane', 'rss media-worker 200', 'rss whole tree']),
    );
  });

  it('file descriptors: the churn going up and down is no growth; one fd per minute is', () => {
    expect(failed(series({ extraFds: () => 0 }))).toEqual([]);
    const leak = series({ extraFds: (k, t) => (k === 'control-plane' ? Math.floor(t / 60) : 0) });
    expect(failed(leak)).toEqual(['fds control-plane', 'fds whole tree']);
    const fds = judgeSoak(leak, soakPlan(1800)).verdicts.find(
      (v) => v.check === 'fds' && v.subject === 'control-plane',
    );
    expect(fds?.growth).toBe(18);
    // Up to 2 more (a socket opening at the sampling instant) is tolerated.
    expect(failed(series({ extraFds: (k, t) => (k === 'redis' && t > 1600 ? 2 : 0) }))).toEqual([]);
    expect(failed(series({ extraFds: (k, t) => (k === 'redis' && t > 1600 ? 3 : 0) }))).toEqual([
      'fds redis',
      'fds whole tree',
    ]);
  });

  it('Redis keys: one more per recording is growth', () => {
    const samples = series({ extraKeys: (t) => Math.floor(t / 120) });
    expect(failed(samples)).toEqual(['redis-keys Redis DBSIZE']);
    const keys = judgeSoak(samples, soakPlan(1800)).verdicts.find((v) => v.check === 'redis-keys');
    expect(keys).toMatchObject({ first: 25, last: 34, growth: 9 });
  });

  it('worker deaths: any death fails, and so does a run where /metrics never answered', () => {
    expect(failed(series({ deaths: (t) => (t > 300 ? 1 : 0) }))).toEqual([
      'worker-deaths mcu_worker_deaths_total',
    ]);
    const j = judgeSoak(series({ deaths: () => null }), soakPlan(1800));
    expect(j.verdicts.find((v) => v.check === 'worker-deaths')).toMatchObject({
      pass: false,
      note: '/metrics never answered',
    });
  });

  it('a media worker replaced during the window fails (its series ends, a new one starts)', () => {
    const samples = series({ workerPid: (t) => (t < 1000 ? 200 : 201) });
    const f = failed(samples);
    expect(f).toEqual(expect.arrayContaining(['rss media-worker 200', 'rss media-worker 201']));
    const v = judgeSoak(samples, soakPlan(1800)).verdicts.filter(
      (x) => x.check === 'rss' && x.subject.startsWith('media-worker'),
    );
    expect(v.map((x) => x.note)).toEqual(['gone before the end', 'appeared during the window (restarted?)']);
  });

  it('ffmpeg: each recording has its own process; their peaks are compared, first and last complete one in the window', () => {
    expect(failed(series({ ffmpegPeakKb: (c) => (60 + c) * MB }))).toEqual(['instance-rss ffmpeg (capture)']);
    const v = judgeSoak(series({ ffmpegPeakKb: (c) => (60 + c) * MB }), soakPlan(1800)).verdicts.find(
      (x) => x.check === 'instance-rss',
    );
    // Cycles 5..14 start inside the window (at 605 s .. 1685 s).
    expect(v).toMatchObject({ first: 65, last: 74, note: '10 complete instances in the window' });
    expect(failed(series({ ffmpegPeakKb: (c) => (60 + (c % 2)) * MB }))).toEqual([]);
  });

  it('too few samples is a failure, not a pass', () => {
    const j = judgeSoak(series({ durationS: 300 }), soakPlan(1800));
    expect(j.pass).toBe(false);
    expect(j.verdicts).toEqual([expect.objectContaining({ check: 'samples', pass: false })]);
  });

  it('a short run is judged the same way on its own scale', () => {
    expect(failed(series({ durationS: 360 }), 360)).toEqual([]);
    const leak = series({ durationS: 360, extraKb: (k, t) => (k === 'redis' ? t * 10 : 0) });
    expect(failed(leak, 360)).toEqual(['rss redis']);
  });

  it('minute table: one row per minute, means of the samples, ffmpeg at its highest', () => {
    const rows = minuteTable(series(), 1800);
    expect(rows).toHaveLength(30);
    expect(rows[0].minute).toBe(1);
    expect(rows[0].recordingWorkerMb).toBe(90);
    expect(rows[0].redisMb).toBe(12);
    expect(rows[0].ffmpegMb).toBe(60);
    expect(rows[1].ffmpegMb).toBe(0);
    expect(rows[5].deaths).toBe(0);
    // Minute 1 (5..60 s): recording on in 12 of 12 samples; minute 2 (65..120 s): off.
    expect(rows[0].mediaWorkersMb).toBeCloseTo(340, 0);
    expect(rows[1].mediaWorkersMb).toBeCloseTo(300, 0);
    expect(rows[0].participants).toBeCloseTo(3.5, 0);
  });

  it('slope: least squares per second', () => {
    expect(
      slopePerSecond([
        { t: 0, v: 1 },
        { t: 10, v: 3 },
        { t: 20, v: 5 },
      ]),
    ).toBeCloseTo(0.2);
    expect(slopePerSecond([{ t: 0, v: 1 }])).toBe(0);
  });
});
