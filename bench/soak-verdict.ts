/**
 * The soak scenario's verdicts, computed from its samples (pure: no I/O, unit-tested with
 * synthetic series in test/unit/bench/soak-verdict.spec.ts).
 *
 * The run has a warm-up (the first third: allocators, JIT, caches and pools fill up) and a judged
 * window (the rest, at most the last 20 minutes). The window's first and last *segments* are
 * compared; a segment is one whole recording cycle (2 minutes), so a recording that is on for
 * half of each cycle weighs the same in both and the comparison does not depend on where the
 * window starts in the cycle.
 *   - RSS: mean over the segment, per long-lived process and for the whole tree; growth < 5 %.
 *   - Open file descriptors and Redis keys: minimum over the segment (the quiet floor between a
 *     join and a leave; a leak raises the floor); no growth (fds: up to 2 more, for a socket
 *     opening at the sampling instant; keys: none).
 *   - ffmpeg (one per recording): peak RSS of the first and the last complete capture process in
 *     the window; growth < 5 %.
 *   - Worker deaths (mcu_worker_deaths_total, since the server started): 0.
 */
import type { ProcessRole } from './process-tree';

export interface SoakProcSample {
  /** Names one long-lived process (`control-plane`, `media-worker 1234`) or one transient instance. */
  key: string;
  role: ProcessRole;
  /** Set for processes that come and go by design: their series name (e.g. `ffmpeg (capture)`). */
  instanceOf?: string;
  rssKb: number;
  fds: number | null;
}

export interface SoakSample {
  /** Seconds since the soak started (after the stable participants were in). */
  t: number;
  procs: SoakProcSample[];
  /** DBSIZE of the server's Redis; null when it could not be read. */
  redisKeys: number | null;
  /** mcu_worker_deaths_total summed over its labels; null when /metrics could not be read. */
  deaths: number | null;
  /** Participants in the rooms at the sampling instant (stable + the one churning). */
  participants: number;
  recording: boolean;
}

export interface SoakPlan {
  durationS: number;
  /** Length of the judged window at the end of the run. */
  judgedS: number;
  /** Length of the compared segments at the window's two ends. */
  segmentS: number;
}

export const RSS_GROWTH_LIMIT = 0.05;
/** The transient series that is judged: one ffmpeg per recording, alive as long as the recording. */
export const CAPTURE_SERIES = 'ffmpeg (capture)';
export const FD_SLACK = 2;
export const KEY_SLACK = 0;
/** The figures: the last 20 minutes of a 30-minute run; a recording every 2 minutes. */
export const JUDGED_MAX_S = 20 * 60;
export const RECORDING_CYCLE_S = 120;

/** Window and segments for a run of `durationS` (a short run keeps the same proportions). */
export function soakPlan(durationS: number): SoakPlan {
  const judgedS = Math.min(JUDGED_MAX_S, (durationS * 2) / 3);
  return { durationS, judgedS, segmentS: Math.min(RECORDING_CYCLE_S, judgedS / 2) };
}

export type VerdictCheck = 'rss' | 'fds' | 'redis-keys' | 'worker-deaths' | 'instance-rss' | 'samples';

export interface SoakVerdict {
  check: VerdictCheck;
  subject: string;
  /** RSS in MB, counts as counts; null when not measured. */
  first: number | null;
  last: number | null;
  /** RSS: a fraction (0.03 = +3 %); counts: the difference. */
  growth: number | null;
  /** RSS trend over the judged window (least squares over the segments' means), MB per hour. */
  slopeMbPerHour?: number | null;
  limit: string;
  pass: boolean;
  note?: string;
}

export interface SoakJudgement {
  plan: SoakPlan;
  pass: boolean;
  verdicts: SoakVerdict[];
}

export function judgeSoak(samples: readonly SoakSample[], plan: SoakPlan): SoakJudgement {
  const end = plan.durationS;
  const ws = end - plan.judgedS;
  const inWindow = samples.filter((s) => s.t >= ws && s.t <= end);
  const first = inWindow.filter((s) => s.t < ws + plan.segmentS);
  const last = inWindow.filter((s) => s.t > end - plan.segmentS);
  const verdicts: SoakVerdict[] = [];
  /**
   * kB per second, fitted to the means of whole segments: fitted to the raw samples, a recording
   * on in the first half of every cycle would read as a downward trend.
   */
  const trend = (series: readonly { t: number; v: number }[]): number => {
    const means: { t: number; v: number }[] = [];
    for (let from = ws; from + plan.segmentS <= end + 1e-9; from += plan.segmentS) {
      const inSeg = series.filter((p) => p.t >= from && p.t < from + plan.segmentS);
      if (inSeg.length > 0) means.push({ t: mean(inSeg.map((p) => p.t)), v: mean(inSeg.map((p) => p.v)) });
    }
    return slopePerSecond(means);
  };
  if (first.length === 0 || last.length === 0) {
    verdicts.push({
      check: 'samples',
      subject: 'judged window',
      first: first.length,
      last: last.length,
      growth: null,
      limit: 'samples at both ends of the window',
      pass: false,
      note: 'the run ended early or sampling failed',
    });
    return { plan, pass: false, verdicts };
  }

  // Long-lived processes, in order of first appearance.
  const keys: string[] = [];
  for (const s of inWindow)
    for (const p of s.procs) if (p.instanceOf === undefined && !keys.includes(p.key)) keys.push(p.key);
  for (const key of keys) {
    const at = (ss: readonly SoakSample[]): SoakProcSample[] =>
      ss.flatMap((s) => s.procs.filter((p) => p.key === key));
    const a = at(first);
    const b = at(last);
    if (a.length === 0 || b.length === 0) {
      verdicts.push({
        check: 'rss',
        subject: key,
        first: a.length > 0 ? mb(mean(a.map((p) => p.rssKb))) : null,
        last: b.length > 0 ? mb(mean(b.map((p) => p.rssKb))) : null,
        growth: null,
        limit: 'alive through the window',
        pass: false,
        note: a.length === 0 ? 'appeared during the window (restarted?)' : 'gone before the end',
      });
      continue;
    }
    const series = inWindow.flatMap((s) =>
      s.procs.filter((p) => p.key === key).map((p) => ({ t: s.t, v: p.rssKb })),
    );
    verdicts.push(rssVerdict(key, mean(a.map((p) => p.rssKb)), mean(b.map((p) => p.rssKb)), trend(series)));
    verdicts.push(countVerdict('fds', key, minOf(a.map((p) => p.fds)), minOf(b.map((p) => p.fds)), FD_SLACK));
  }

  const treeRss = (s: SoakSample): number => s.procs.reduce((acc, p) => acc + p.rssKb, 0);
  const treeFds = (s: SoakSample): number => s.procs.reduce((acc, p) => acc + (p.fds ?? 0), 0);
  verdicts.push(
    rssVerdict(
      'whole tree',
      mean(first.map(treeRss)),
      mean(last.map(treeRss)),
      trend(inWindow.map((s) => ({ t: s.t, v: treeRss(s) }))),
    ),
  );
  verdicts.push(
    countVerdict('fds', 'whole tree', minOf(first.map(treeFds)), minOf(last.map(treeFds)), FD_SLACK),
  );
  verdicts.push(
    countVerdict(
      'redis-keys',
      'Redis DBSIZE',
      minOf(first.map((s) => s.redisKeys)),
      minOf(last.map((s) => s.redisKeys)),
      KEY_SLACK,
    ),
  );
  verdicts.push(...instanceVerdicts(samples, ws));

  const deaths = samples.map((s) => s.deaths);
  const known = deaths.filter((d): d is number => d !== null);
  verdicts.push({
    check: 'worker-deaths',
    subject: 'mcu_worker_deaths_total',
    first: known.length > 0 ? known[0] : null,
    last: known.length > 0 ? Math.max(...known) : null,
    growth: null,
    limit: '= 0',
    pass: known.length > 0 && Math.max(...known) === 0,
    note: known.length === 0 ? '/metrics never answered' : undefined,
  });
  return { plan, pass: verdicts.every((v) => v.pass), verdicts };
}

/**
 * Transient processes (ffmpeg per recording): the peak RSS of the first and the last instance
 * that lived entirely inside the window (one cut by the window's start or the run's end would
 * show a lower peak).
 */
function instanceVerdicts(samples: readonly SoakSample[], ws: number): SoakVerdict[] {
  const lastT = samples.length > 0 ? samples[samples.length - 1].t : 0;
  const bySeries = new Map<string, Map<string, { from: number; to: number; peak: number }>>();
  for (const s of samples)
    for (const p of s.procs) {
      if (p.instanceOf === undefined) continue;
      const series =
        bySeries.get(p.instanceOf) ?? new Map<string, { from: number; to: number; peak: number }>();
      bySeries.set(p.instanceOf, series);
      const i = series.get(p.key) ?? { from: s.t, to: s.t, peak: 0 };
      i.to = s.t;
      i.peak = Math.max(i.peak, p.rssKb);
      series.set(p.key, i);
    }
  const firstT = samples.length > 0 ? samples[0].t : 0;
  const out: SoakVerdict[] = [];
  for (const [name, series] of bySeries) {
    const complete = [...series.values()]
      .filter((i) => i.from >= ws && i.from > firstT && i.to < lastT)
      .sort((a, b) => a.from - b.from);
    if (name !== CAPTURE_SERIES || complete.length < 2) {
      out.push({
        check: 'instance-rss',
        subject: name,
        first: complete.length > 0 ? mb(complete[0].peak) : null,
        last: null,
        growth: null,
        limit: `peak growth < ${RSS_GROWTH_LIMIT * 100} %`,
        // Informational: nothing to compare, or runs of a few seconds (finalize) whose sampled
        // peak depends on when the sample fell.
        pass: true,
        note:
          name === CAPTURE_SERIES
            ? `${series.size} instances seen, ${complete.length} complete in the window: not compared`
            : `${series.size} short runs seen: not compared`,
      });
      continue;
    }
    const a = complete[0].peak;
    const b = complete[complete.length - 1].peak;
    out.push({
      check: 'instance-rss',
      subject: name,
      first: mb(a),
      last: mb(b),
      growth: r4(b / a - 1),
      limit: `peak growth < ${RSS_GROWTH_LIMIT * 100} %`,
      pass: b / a - 1 < RSS_GROWTH_LIMIT,
      note: `${complete.length} complete instances in the window`,
    });
  }
  return out;
}

function rssVerdict(subject: string, firstKb: number, lastKb: number, kbPerSecond: number): SoakVerdict {
  const growth = lastKb / firstKb - 1;
  return {
    check: 'rss',
    subject,
    first: mb(firstKb),
    last: mb(lastKb),
    growth: r4(growth),
    slopeMbPerHour: r1((kbPerSecond * 3600) / 1024),
    limit: `growth < ${RSS_GROWTH_LIMIT * 100} %`,
    pass: growth < RSS_GROWTH_LIMIT,
  };
}

function countVerdict(
  check: 'fds' | 'redis-keys',
  subject: string,
  first: number | null,
  last: number | null,
  slack: number,
): SoakVerdict {
  const limit = slack > 0 ? `growth ≤ ${slack}` : 'no growth';
  if (first === null || last === null)
    return { check, subject, first, last, growth: null, limit, pass: false, note: 'not measured' };
  return { check, subject, first, last, growth: last - first, limit, pass: last - first <= slack };
}

export interface SoakMinute {
  minute: number;
  /** Means over the minute's samples, MB; ffmpeg: the highest sum seen in the minute. */
  controlPlaneMb: number | null;
  mediaWorkersMb: number | null;
  recordingWorkerMb: number | null;
  redisMb: number | null;
  ffmpegMb: number | null;
  totalMb: number | null;
  fds: number | null;
  redisKeys: number | null;
  deaths: number | null;
  participants: number | null;
}

/** One row per minute of the run (samples with t in (m-1, m] minutes). */
export function minuteTable(samples: readonly SoakSample[], durationS: number): SoakMinute[] {
  const rows: SoakMinute[] = [];
  for (let m = 1; m <= Math.ceil(durationS / 60); m++) {
    const ss = samples.filter((s) => s.t > (m - 1) * 60 && s.t <= m * 60);
    const roleSum = (s: SoakSample, role: ProcessRole): number =>
      s.procs.filter((p) => p.role === role).reduce((acc, p) => acc + p.rssKb, 0);
    const meanMb = (f: (s: SoakSample) => number): number | null =>
      ss.length > 0 ? r1(mb(mean(ss.map(f)))) : null;
    const known = (vs: (number | null)[]): number[] => vs.filter((v): v is number => v !== null);
    const keys = known(ss.map((s) => s.redisKeys));
    const deaths = known(ss.map((s) => s.deaths));
    rows.push({
      minute: m,
      controlPlaneMb: meanMb((s) => roleSum(s, 'control-plane')),
      mediaWorkersMb: meanMb((s) => roleSum(s, 'media-worker')),
      recordingWorkerMb: meanMb((s) => roleSum(s, 'recording-worker')),
      redisMb: meanMb((s) => roleSum(s, 'redis')),
      ffmpegMb: ss.length > 0 ? r1(mb(Math.max(...ss.map((s) => roleSum(s, 'ffmpeg'))))) : null,
      totalMb: meanMb((s) => s.procs.reduce((acc, p) => acc + p.rssKb, 0)),
      fds: ss.length > 0 ? r1(mean(ss.map((s) => s.procs.reduce((acc, p) => acc + (p.fds ?? 0), 0)))) : null,
      redisKeys: keys.length > 0 ? r1(mean(keys)) : null,
      deaths: deaths.length > 0 ? Math.max(...deaths) : null,
      participants: ss.length > 0 ? r1(mean(ss.map((s) => s.participants))) : null,
    });
  }
  return rows;
}

/** Least-squares slope of v over t (per second); 0 for fewer than two points. */
export function slopePerSecond(series: readonly { t: number; v: number }[]): number {
  if (series.length < 2) return 0;
  const mt = mean(series.map((p) => p.t));
  const mv = mean(series.map((p) => p.v));
  let num = 0;
  let den = 0;
  for (const p of series) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den > 0 ? num / den : 0;
}

function mean(vs: readonly number[]): number {
  return vs.reduce((a, b) => a + b, 0) / vs.length;
}

function minOf(vs: readonly (number | null)[]): number | null {
  const known = vs.filter((v): v is number => v !== null);
  return known.length > 0 ? Math.min(...known) : null;
}

function mb(kb: number): number {
  return Math.round((kb / 1024) * 10) / 10;
}

function r1(v: number): number {
  return Math.round(v * 10) / 10;
}

function r4(v: number): number {
  return Math.round(v * 10000) / 10000;
}
