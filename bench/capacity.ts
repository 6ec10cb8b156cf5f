/**
 * Capacity search: the most `standard` participants in one room this machine holds with
 * received fps p5 >= 14 (of 15) and audio underruns < 0.1 %. It starts from the N sweep's
 * results and bisects between the largest passing and the smallest failing N with a few
 * extra runs (or steps up when nothing failed yet).
 */
import type { ScenarioResult } from './aggregate';

export const MIN_FPS_P5 = 14;
export const MAX_UNDERRUN_RATE = 0.001;
const STEP_UP = 4;
const MAX_N = 64;

export interface CapacityTry {
  n: number;
  pass: boolean;
  why: string;
}

export interface CapacityResult {
  criterion: string;
  /** Largest N that passed below the smallest N that failed; null if even the smallest failed. */
  capacity: number | null;
  /** Smallest failing N, or null when none failed (capacity is then a lower bound). */
  firstFailing: number | null;
  summary: string;
  tried: CapacityTry[];
}

export function judge(r: ScenarioResult): CapacityTry {
  const n = r.participants;
  if (r.status !== 'ok') return { n, pass: false, why: r.reason ?? r.status };
  const problems = videoProblems(r);
  if (r.audioUnderrunRate === null || r.audioUnderrunRate >= MAX_UNDERRUN_RATE) {
    problems.push(
      `audio underrun ${r.audioUnderrunRate === null ? 'n/a' : (r.audioUnderrunRate * 100).toFixed(2) + ' %'}`,
    );
  }
  if (problems.length > 0) return { n, pass: false, why: problems.join(', ') };
  return {
    n,
    pass: true,
    why: `fps p5 ${r.rxFpsP5}, underrun ${((r.audioUnderrunRate ?? 0) * 100).toFixed(3)} %`,
  };
}

/** The figures of a lean-generator run (bench/lean-room.ts) the criterion reads. */
export interface LeanRunFigures {
  participants: number;
  status: 'ok' | 'failed';
  reason?: string;
  participantsWithMedia: number;
  rxFpsP5: number | null;
  serverUnderrunRate: number | null;
  /** Audio packets received / expected. */
  audioReceivedRate: number | null;
}

/** Lean runs count no client-side concealment: the audio packets that arrive stand in for it. */
export const MIN_AUDIO_RECEIVED = 0.99;

/** The capacity criterion on a lean run: fps p5, server underruns, and >= 99 % of the audio arrived. */
export function judgeLean(r: LeanRunFigures): CapacityTry {
  const n = r.participants;
  if (r.status !== 'ok') return { n, pass: false, why: r.reason ?? r.status };
  const problems = videoProblems(r);
  if (r.serverUnderrunRate === null || r.serverUnderrunRate >= MAX_UNDERRUN_RATE)
    problems.push(`server underruns ${((r.serverUnderrunRate ?? NaN) * 100).toFixed(2)} %`);
  if (r.audioReceivedRate === null || r.audioReceivedRate < MIN_AUDIO_RECEIVED)
    problems.push(`audio received ${((r.audioReceivedRate ?? NaN) * 100).toFixed(1)} %`);
  const pct = (x: number | null, d: number): string => `${((x ?? 0) * 100).toFixed(d)} %`;
  const why = `fps p5 ${r.rxFpsP5}, underruns ${pct(r.serverUnderrunRate, 3)}, audio ${pct(r.audioReceivedRate, 1)}`;
  return problems.length > 0 ? { n, pass: false, why: problems.join(', ') } : { n, pass: true, why };
}

/** The video half of the criterion, shared by both judges: everyone receives, fps p5 >= 14. */
function videoProblems(r: {
  participants: number;
  participantsWithMedia: number;
  rxFpsP5: number | null;
}): string[] {
  const problems: string[] = [];
  const missing = r.participants - r.participantsWithMedia;
  if (missing > 0) problems.push(`${missing} without video`);
  if (r.rxFpsP5 === null || r.rxFpsP5 < MIN_FPS_P5) problems.push(`fps p5 ${r.rxFpsP5}`);
  return problems;
}

/** Which N to try next, or null when the answer is known to within one participant. */
export function nextCapacityProbe(tried: readonly CapacityTry[]): number | null {
  if (tried.length === 0) return null;
  const { lo, hi } = bracket(tried);
  if (hi === null) {
    const top = Math.max(...tried.map((t) => t.n));
    return top + STEP_UP <= MAX_N ? top + STEP_UP : null;
  }
  if (hi - lo <= 1) return null;
  return Math.floor((lo + hi) / 2);
}

export function capacityResult(tried: readonly CapacityTry[], nproc: number): CapacityResult {
  const criterion = `received fps p5 >= ${MIN_FPS_P5} (of 15) and audio underruns < ${MAX_UNDERRUN_RATE * 100} %, one room on \`standard\``;
  const sorted = [...tried].sort((a, b) => a.n - b.n);
  if (sorted.length === 0)
    return { criterion, capacity: null, firstFailing: null, summary: 'not measured', tried: [] };
  const { lo, hi } = bracket(sorted);
  let summary: string;
  if (lo === 0) summary = `no tried N passed (smallest tried: ${sorted[0].n})`;
  else if (hi === null)
    summary = `at least ${lo} participants (${(lo / nproc).toFixed(1)} per core); no larger N was tried`;
  else if (hi - lo === 1) summary = `${lo} participants (${(lo / nproc).toFixed(1)} per core); ${hi} failed`;
  else
    summary = `between ${lo} and ${hi - 1} participants (${lo} passed, ${hi} failed; more runs would narrow it)`;
  const above = sorted.filter((t) => t.pass && hi !== null && t.n > hi);
  if (above.length > 0)
    summary += `; note: N=${above.map((t) => t.n).join(', ')} passed above a failure (noisy machine)`;
  return { criterion, capacity: lo === 0 ? null : lo, firstFailing: hi, summary, tried: sorted };
}

/** lo: the largest passing N below the smallest failing N (0 if none); hi: the smallest failing N. */
function bracket(tried: readonly CapacityTry[]): { lo: number; hi: number | null } {
  const fails = tried.filter((t) => !t.pass).map((t) => t.n);
  const hi = fails.length > 0 ? Math.min(...fails) : null;
  const passes = tried.filter((t) => t.pass && (hi === null || t.n < hi)).map((t) => t.n);
  return { lo: passes.length > 0 ? Math.max(...passes) : 0, hi };
}
