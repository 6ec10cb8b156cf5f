/**
 * The `churn` scenario's extra part: while the stable participants are measured, one more
 * participant joins (REST token + socket.io join + offer/answer, like everyone else), stays
 * a few seconds and leaves with `leave`, again and again. Then, for the stable receivers
 * only: the longest gap between received frames and between audible audio chunks, overall
 * and within ±1 s of each join/leave, client concealment right after each event, and the
 * newcomer's join-to-first-frame times. The "smooth joins and leaves" figure.
 */
import { metricSum, type ServerEndpoint } from './control-api';
import { percentile, round } from './stats';
import { FREEZE_GAP_MS, SyntheticParticipant, type InboundTotals } from './synthetic-participant';

export interface ChurnPlan {
  cycles: number;
}

/** A join every 5 s, leaving after 3 s: 2 s with 4 and 3 s with 5 in the room per cycle. */
export const CHURN_PERIOD_MS = 5000;
export const CHURN_STAY_MS = 3000;
/** Quiet time before the first join and after the last leave, so every ±1 s span is inside the window. */
const LEAD_MS = 1500;
const TAIL_MS = 1500;
/** "Around an event": gaps overlapping [event - 1 s, event + 1 s]. */
export const NEAR_EVENT_MS = 1000;
/** No audio dropout: the longest stretch without an audible 10 ms chunk stays under this. */
export const AUDIO_GAP_TARGET_MS = 60;
const STEP_TIMEOUT_MS = 10_000;
/** The bench's own event loop is probed this often: its stalls delay every sink callback. */
const LAG_PROBE_MS = 5;

export function churnWindowMs(plan: ChurnPlan): number {
  return LEAD_MS + (plan.cycles - 1) * CHURN_PERIOD_MS + CHURN_STAY_MS + TAIL_MS;
}

interface ChurnEvent {
  kind: 'join' | 'leave';
  cycle: number;
  /** When the server acknowledged it (performance.now()): the layout changes from here. */
  at: number;
  /** Stable receivers' counters at the event and 1 s later (for concealment right after it). */
  totalsAt: InboundTotals[];
  totalsAfter: InboundTotals[];
}

interface CycleLog {
  joinStartedAt: number;
  /** Join ack, first composite frame at the newcomer, first fresh stamp of its own picture in it. */
  joinedAt: number | null;
  firstFrameAt: number | null;
  ownPictureAt: number | null;
  error: string | null;
}

export interface ChurnLog {
  startedAt: number;
  endedAt: number;
  events: ChurnEvent[];
  cycles: CycleLog[];
  /** Bench event-loop stalls (time, ms late) seen by a 5 ms probe. */
  lags: { at: number; ms: number }[];
}

export interface ChurnContext {
  server: ServerEndpoint;
  roomId: string;
  stable: SyntheticParticipant[];
  plan: ChurnPlan;
  track: (close: () => Promise<void> | void) => () => void;
  progress: (line: string) => void;
}

/** Runs the joins and leaves, starting now (the measurement window has just begun). */
export async function driveChurn(ctx: ChurnContext): Promise<ChurnLog> {
  const { stable, plan } = ctx;
  const stableIds = stable.map((p) => p.participantId);
  const log: ChurnLog = { startedAt: performance.now(), endedAt: 0, events: [], cycles: [], lags: [] };
  let expected = performance.now() + LAG_PROBE_MS;
  const probe = setInterval(() => {
    const now = performance.now();
    if (now - expected > 15) log.lags.push({ at: now, ms: now - expected });
    expected = now + LAG_PROBE_MS;
  }, LAG_PROBE_MS);
  const pending: Promise<void>[] = [];
  const event = async (kind: ChurnEvent['kind'], cycle: number): Promise<void> => {
    const e: ChurnEvent = { kind, cycle, at: performance.now(), totalsAt: [], totalsAfter: [] };
    log.events.push(e);
    // Stats in the background: the join/leave sequence must not wait for them.
    pending.push(
      (async () => {
        e.totalsAt = await Promise.all(stable.map((p) => p.inboundTotals()));
        await sleep(e.at + NEAR_EVENT_MS - performance.now());
        e.totalsAfter = await Promise.all(stable.map((p) => p.inboundTotals()));
      })(),
    );
  };
  try {
    for (let k = 0; k < plan.cycles; k++) {
      await sleep(log.startedAt + LEAD_MS + k * CHURN_PERIOD_MS - performance.now());
      const c: CycleLog = {
        joinStartedAt: performance.now(),
        joinedAt: null,
        firstFrameAt: null,
        ownPictureAt: null,
        error: null,
      };
      log.cycles.push(c);
      const p = new SyntheticParticipant(100 + k, ctx.roomId, stable[0].profile);
      const untrack = ctx.track(() => p.close());
      try {
        const joined = await withTimeout(p.join(ctx.server, STEP_TIMEOUT_MS), `join ${k + 1}`);
        c.joinedAt = performance.now();
        await event('join', k);
        const ids = [...stableIds, p.participantId];
        for (const s of stable) s.setRoomOrder(ids);
        p.setRoomOrder(ids);
        p.beginWindow(c.joinedAt);
        p.onFrame = (at) => {
          c.firstFrameAt ??= at;
          if (c.ownPictureAt === null && (p.reader?.counters.freshBySender[ids.length - 1] ?? 0) > 0) {
            c.ownPictureAt = at;
          }
        };
        await withTimeout(p.connect(joined), `connect ${k + 1}`);
        p.sender.start();
        await sleep(c.joinStartedAt + CHURN_STAY_MS - performance.now());
      } catch (err) {
        c.error = (err as Error).message;
        ctx.progress(`churn cycle ${k + 1}: ${c.error}`);
      } finally {
        await p.leave(STEP_TIMEOUT_MS);
        untrack();
        if (c.joinedAt !== null) {
          await event('leave', k);
          for (const s of stable) s.setRoomOrder(stableIds);
        }
      }
      const own = c.ownPictureAt === null ? 'never' : `${Math.round(c.ownPictureAt - c.joinStartedAt)} ms`;
      ctx.progress(`churn cycle ${k + 1}/${plan.cycles}: joined, left; own picture after ${own}`);
    }
    await sleep((log.events.at(-1)?.at ?? 0) + TAIL_MS - performance.now());
    await Promise.all(pending);
  } finally {
    clearInterval(probe);
  }
  log.endedAt = performance.now();
  return log;
}

type N = number | null;

export interface ChurnEventResult {
  kind: 'join' | 'leave';
  cycle: number;
  /** Seconds into the churn. */
  atSeconds: N;
  /** Over the stable receivers, within ±1 s: longest frame gap, audio dropout and audible arrival gap. */
  videoMaxGapMs: N;
  audioMaxGapMs: N;
  audioArrivalGapMs: N;
  /** Most audio any one stable receiver's jitter buffer concealed in the second after the event. */
  concealedMs: N;
  /** Longest stall of the bench's own event loop within ±1 s (delays every callback it measures). */
  benchStallMs: N;
}

export interface ChurnResult {
  cycles: number;
  completedCycles: number;
  stableParticipants: number;
  seconds: N;
  /** Video at the stable receivers: longest inter-frame gap overall, near events, away from them. */
  videoMaxGapMs: N;
  videoMaxGapNearEventsMs: N;
  videoMaxGapQuietMs: N;
  /** Gaps longer than 3 frame intervals (200 ms), all stable receivers together. */
  videoGapsOver200: number;
  videoGapsOver200NearEvents: number;
  /**
   * Longest audio dropout at a stable receiver in stream time: 10 ms plus the silent chunks
   * between two audible ones (10 ms when smooth). Counted in samples, so a stall of the
   * bench's own event loop (late but complete callbacks) does not look like a dropout.
   */
  audioMaxGapMs: N;
  audioMaxGapNearEventsMs: N;
  /** The same by arrival time of audible chunks: includes the bench's event-loop stalls. */
  audioMaxArrivalGapMs: N;
  /** Real time minus received audio duration over the churn, worst stable receiver. */
  audioDeficitMs: N;
  /** Most audio concealed by one stable receiver in the second after one event. */
  concealedMsPerEventMax: N;
  /** Server mixer ticks with no audio from a publisher / publisher ticks (incl. the newcomer's). */
  serverAudioUnderrunRate: N;
  /** Newcomer, from its token request: join ack, first composite frame, own picture visible in it. */
  joinAckMsMedian: N;
  firstFrameMsMedian: N;
  firstFrameMsMax: N;
  ownPictureMsMedian: N;
  ownPictureMsMax: N;
  benchStallMaxMs: N;
  events: ChurnEventResult[];
  errors: string[];
}

/** The numbers, from the stable receivers' arrival times and the churn log. */
export function churnResult(
  plan: ChurnPlan,
  log: ChurnLog,
  stable: readonly SyntheticParticipant[],
  metrics0: Map<string, number>,
  metrics1: Map<string, number>,
): ChurnResult {
  const from = log.startedAt;
  const to = log.endedAt;
  const near = (a: number, b: number, at: number): boolean =>
    a <= at + NEAR_EVENT_MS && b >= at - NEAR_EVENT_MS;
  const nearAny = (a: number, b: number): boolean => log.events.some((e) => near(a, b, e.at));
  const video = stable.flatMap((p) => gaps(p.window.frameTimes, from, to));
  const audio = stable.flatMap((p) => audioGaps(p, from, to));
  const arrivals = stable.flatMap((p) =>
    gaps(
      p.window.audioTimes.filter((_, i) => p.window.audioAudible[i]),
      from,
      to,
    ),
  );
  const maxOf = (gs: readonly Gap[]): N => (gs.length > 0 ? round(Math.max(...gs.map((g) => g.ms))) : null);
  const videoNear = video.filter((g) => nearAny(g.from, g.to));
  const deficits = stable.map((p) => {
    const w = p.window;
    let frames = 0;
    for (let i = 0; i < w.audioTimes.length; i++)
      if (w.audioTimes[i] > from && w.audioTimes[i] <= to) frames += w.audioFrames[i];
    return to - from - (1000 * frames) / w.audioSampleRate;
  });
  const concealedMs = (e: ChurnEvent): N => {
    if (e.totalsAfter.length === 0) return null;
    const per = e.totalsAfter.map((t, i) => t.concealedSamples - e.totalsAt[i].concealedSamples);
    return round((1000 * Math.max(...per)) / 48000);
  };
  const stallNear = (at: number): N =>
    round(Math.max(0, ...log.lags.filter((l) => near(l.at - l.ms, l.at, at)).map((l) => l.ms)));
  const events = log.events.map((e) => ({
    kind: e.kind,
    cycle: e.cycle + 1,
    atSeconds: round((e.at - from) / 1000, 2),
    videoMaxGapMs: maxOf(video.filter((g) => near(g.from, g.to, e.at))),
    audioMaxGapMs: maxOf(audio.filter((g) => near(g.from, g.to, e.at))),
    audioArrivalGapMs: maxOf(arrivals.filter((g) => near(g.from, g.to, e.at))),
    concealedMs: concealedMs(e),
    benchStallMs: stallNear(e.at),
  }));
  const seconds = (to - from) / 1000;
  // The newcomer publishes from its join to its leave: count its mixer ticks too.
  const newcomerSeconds =
    log.cycles.reduce((acc, c) => acc + (c.joinedAt === null ? 0 : CHURN_STAY_MS), 0) / 1000;
  const underruns = metricSum(metrics1, 'mcu_audio_underruns') - metricSum(metrics0, 'mcu_audio_underruns');
  const publisherTicks = (stable.length * seconds + newcomerSeconds) * 100;
  const since = (at: number | null, c: CycleLog): number[] => (at === null ? [] : [at - c.joinStartedAt]);
  const firstFrames = log.cycles.flatMap((c) => since(c.firstFrameAt, c));
  const ownPictures = log.cycles.flatMap((c) => since(c.ownPictureAt, c));
  const errors = log.cycles.flatMap((c, i) => (c.error ? [`cycle ${i + 1}: ${c.error}`] : []));
  for (const [i, c] of log.cycles.entries()) {
    if (c.joinedAt !== null && c.ownPictureAt === null) errors.push(`cycle ${i + 1}: own picture never seen`);
  }
  return {
    cycles: plan.cycles,
    completedCycles: log.cycles.filter((c) => c.joinedAt !== null && c.error === null).length,
    stableParticipants: stable.length,
    seconds: round(seconds),
    videoMaxGapMs: maxOf(video),
    videoMaxGapNearEventsMs: maxOf(videoNear),
    videoMaxGapQuietMs: maxOf(video.filter((g) => !nearAny(g.from, g.to))),
    videoGapsOver200: video.filter((g) => g.ms > FREEZE_GAP_MS).length,
    videoGapsOver200NearEvents: videoNear.filter((g) => g.ms > FREEZE_GAP_MS).length,
    audioMaxGapMs: maxOf(audio),
    audioMaxGapNearEventsMs: maxOf(audio.filter((g) => nearAny(g.from, g.to))),
    audioMaxArrivalGapMs: maxOf(arrivals),
    audioDeficitMs: round(Math.max(...deficits)),
    concealedMsPerEventMax: round(Math.max(...events.map((e) => e.concealedMs ?? 0))),
    serverAudioUnderrunRate: metrics1.size > 0 ? round(Math.max(0, underruns) / publisherTicks, 5) : null,
    joinAckMsMedian: round(
      percentile(
        log.cycles.flatMap((c) => since(c.joinedAt, c)),
        50,
      ),
    ),
    firstFrameMsMedian: round(percentile(firstFrames, 50)),
    firstFrameMsMax: firstFrames.length > 0 ? round(Math.max(...firstFrames)) : null,
    ownPictureMsMedian: round(percentile(ownPictures, 50)),
    ownPictureMsMax: ownPictures.length > 0 ? round(Math.max(...ownPictures)) : null,
    benchStallMaxMs: round(Math.max(0, ...log.lags.map((l) => l.ms))),
    events,
    errors,
  };
}

interface Gap {
  from: number;
  to: number;
  ms: number;
}

/** Gaps between consecutive arrivals inside [from, to], the stretch up to `to` included (a freeze at the end). */
function gaps(times: readonly number[], from: number, to: number): Gap[] {
  const out: Gap[] = [];
  let prev = NaN;
  for (const t of times) {
    if (t > to) break;
    if (t >= from && Number.isFinite(prev)) out.push({ from: prev, to: t, ms: t - prev });
    prev = t;
  }
  if (Number.isFinite(prev) && prev < to) out.push({ from: prev, to, ms: to - prev });
  return out;
}

/**
 * Audio dropouts in stream time: between two audible chunks, 10 ms plus the duration of the
 * silent chunks in between (from their sample counts); placed at the chunks' arrival times.
 */
function audioGaps(p: SyntheticParticipant, from: number, to: number): Gap[] {
  const w = p.window;
  const out: Gap[] = [];
  let lastAudibleAt = NaN;
  let silentMs = 0;
  for (let i = 0; i < w.audioTimes.length; i++) {
    const t = w.audioTimes[i];
    if (t > to) break;
    if (!w.audioAudible[i]) {
      silentMs += (1000 * w.audioFrames[i]) / w.audioSampleRate;
      continue;
    }
    if (t >= from && Number.isFinite(lastAudibleAt))
      out.push({ from: lastAudibleAt, to: t, ms: 10 + silentMs });
    lastAudibleAt = t;
    silentMs = 0;
  }
  if (silentMs > 0 && Number.isFinite(lastAudibleAt))
    out.push({ from: lastAudibleAt, to, ms: 10 + silentMs });
  return out;
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out`)), STEP_TIMEOUT_MS);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
