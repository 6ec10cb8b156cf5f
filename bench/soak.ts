/**
 * `npm run bench -- --scenario soak [--duration-min=30] [--rooms=1]`: memory and leaks over a long
 * run (overload issue, item 5). Rooms of 4 on `standard`: 3 stable participants and one place that
 * churns: every 10 s a new participant joins (token, socket.io join, offer/answer, media), stays
 * 7 s and leaves. Every 2 minutes a recording is started in one room (rooms in turn), stopped
 * after 60 s, and once finalized deleted, so each recording goes through its whole life.
 * Every few seconds: RSS and open file descriptors (/proc/<pid>/fd) of every process of the
 * server's tree (control plane, media workers, recording worker, redis, ffmpeg), Redis DBSIZE and
 * mcu_worker_deaths_total. Verdicts (soak-verdict.ts) compare the start and the end of the last
 * 20 minutes (of a 30-minute run). Writes bench/results/soak.{json,md} (soak-partial with other
 * options than the defaults).
 */
import Redis from 'ioredis';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  adminRequest,
  createRoom,
  metricSum,
  readMetrics,
  startRecording,
  stopRecording,
  type ServerEndpoint,
} from './control-api';
import {
  machineBusyTicks,
  snapshotTree,
  ticksToPercent,
  TreeSampler,
  type ProcessSnapshot,
} from './process-tree';
import { ServerProcess } from './server-process';
import {
  CAPTURE_SERIES,
  judgeSoak,
  minuteTable,
  soakPlan,
  RECORDING_CYCLE_S,
  type SoakJudgement,
  type SoakMinute,
  type SoakProcSample,
  type SoakSample,
} from './soak-verdict';
import { SyntheticParticipant } from './synthetic-participant';

export const PER_ROOM = 4;
const STABLE_PER_ROOM = PER_ROOM - 1;
export const CHURN_PERIOD_S = 10;
export const CHURN_STAY_S = 7;
export const RECORDING_ON_S = 60;
/** Recordings start a little after each cycle's start, away from the first churn join. */
const RECORDING_OFFSET_S = 5;
const STEP_TIMEOUT_MS = 15_000;
const MEDIA_TIMEOUT_MS = 30_000;
const FINALIZE_TIMEOUT_MS = 100_000;
const FINAL_STATES = new Set(['ready', 'interrupted', 'failed']);

export interface SoakOptions {
  durationMin: number;
  rooms: number;
  sampleS: number;
  /** VIDEO_ENCODE of the server (default: shared, the server's default). */
  videoEncode: 'shared' | 'per-peer';
  progress: (line: string) => void;
  track: (close: () => Promise<void> | void) => () => void;
  /**
   * Called with the result before the teardown closes the stable participants' peer connections
   * (where the load generator's wrtc may crash): the result is written whatever happens next.
   */
  onResult: (r: SoakResult) => void;
}

export interface SoakResult {
  date: string;
  command: string;
  /** Absent in results from before the shared encode became the default (they were per peer). */
  videoEncode?: 'shared' | 'per-peer';
  durationMin: number;
  rooms: number;
  perRoom: number;
  sampleSeconds: number;
  machine: {
    cores: number;
    loadavgStart: number[];
    loadavgEnd: number[];
    /** Whole machine (all programs) and the server's tree over the soak, % of one core. */
    machineCpuPercent: number;
    serverCpuPercent: number;
    serverCpuByRole: Record<string, number>;
    benchCpuPercent: number;
  };
  churn: {
    periodSeconds: number;
    staySeconds: number;
    attempted: number;
    completed: number;
    errors: string[];
    /**
     * Churn participants' processes (soak-churner.ts) that died by a signal: the load
     * generator's wrtc, not the server (its deaths are mcu_worker_deaths_total).
     */
    loadGeneratorCrashes: string[];
  };
  recordings: {
    cycleSeconds: number;
    onSeconds: number;
    started: number;
    finalStates: Record<string, number>;
    deleted: number;
    errors: string[];
    /** How long each REST stop took (s): a capture behind real time encodes its backlog first. */
    stopSeconds: number[];
    /** Media in each finalized recording (s; the manifest's durationSec), against onSeconds. */
    recordedSeconds: number[];
    /** Sound each recording's capture could not keep (s; the manifest's captureLosses). */
    audioDroppedSeconds: number[];
  };
  /** Redis keys grouped by pattern (ids replaced by *) at the judged window's start and at the end. */
  redisKeyPatterns: { windowStart: Record<string, number>; end: Record<string, number> };
  minutes: SoakMinute[];
  judgement: SoakJudgement;
  serverProblems: string[];
  samples: SoakSample[];
}

export async function runSoak(opts: SoakOptions, command: string): Promise<SoakResult> {
  const server = new ServerProcess();
  const stable: SyntheticParticipant[] = [];
  let sampler: TreeSampler | null = null;
  // A holder, not a `let`: it is set inside the sampling loop and read after it.
  const conn = { redis: null as Redis | null };
  const live = new Set<string>();
  const teardown = async (): Promise<void> => {
    sampler?.stop();
    for (const p of stable) p.close();
    conn.redis?.disconnect();
    await server.stop();
  };
  const untrack = opts.track(teardown);
  try {
    const loadavgStart = os.loadavg();
    await server.start({ VIDEO_ENCODE: opts.videoEncode });
    sampler = new TreeSampler(server.pid, 5000);
    sampler.start();
    const roomIds = Array.from({ length: opts.rooms }, (_, r) => `soak-${r}`);
    opts.progress(`server pid ${server.pid}; ${opts.rooms} room(s) of ${PER_ROOM}, ${opts.durationMin} min`);
    const connecting: Promise<void>[] = [];
    for (const roomId of roomIds) {
      await createRoom(server, { roomId, profile: 'standard', maxParticipants: PER_ROOM });
      for (let i = 0; i < STABLE_PER_ROOM; i++) {
        const p = new SyntheticParticipant(stable.length, roomId, 'standard');
        stable.push(p);
        const joined = await withTimeout(p.join(server, STEP_TIMEOUT_MS), `join ${p.index}`);
        connecting.push(withTimeout(p.connect(joined), `connect ${p.index}`).then(() => p.sender.start()));
      }
    }
    await Promise.all(connecting);
    await waitUntil(() => stable.every((p) => p.framesTotal > 0), MEDIA_TIMEOUT_MS);
    opts.progress(
      `${stable.filter((p) => p.framesTotal > 0).length}/${stable.length} stable participants receive video`,
    );

    const durationS = opts.durationMin * 60;
    const plan = soakPlan(durationS);
    const t0 = performance.now();
    const endAt = t0 + durationS * 1000;
    const since = (): number => Math.round((performance.now() - t0) / 100) / 10;
    sampler.beginWindow();
    const machine0 = machineBusyTicks();
    const bench0 = process.cpuUsage();

    const churn = {
      attempted: 0,
      completed: 0,
      errors: [] as string[],
      loadGeneratorCrashes: [] as string[],
    };
    const recs = {
      started: 0,
      finalStates: {} as Record<string, number>,
      deleted: 0,
      errors: [] as string[],
      stopSeconds: [] as number[],
      recordedSeconds: [] as number[],
      audioDroppedSeconds: [] as number[],
    };
    let recordingOn = false;
    const background: Promise<void>[] = [];

    const churnLoop = async (r: number): Promise<void> => {
      const roomId = roomIds[r];
      for (let k = 0; ; k++) {
        const at = t0 + (k * CHURN_PERIOD_S + (r * CHURN_PERIOD_S) / opts.rooms) * 1000;
        if (at + CHURN_STAY_S * 1000 > endAt) return;
        await sleep(at - performance.now());
        churn.attempted++;
        // A fresh identity each time; index past the stable ones (its colour and tone).
        const c = await churnCycle(server, roomId, stable.length + (k % 8), opts.track, live);
        if (c.error === null && c.frames > 0) churn.completed++;
        else
          churn.errors.push(`${since()} s, ${roomId}: ${c.error ?? 'no video received while in the room'}`);
        if (c.signal !== null)
          churn.loadGeneratorCrashes.push(
            `${since()} s, ${roomId}: ${c.signal} ${c.left ? 'after its leave' : 'before its leave'}`,
          );
      }
    };

    const recordingLoop = async (): Promise<void> => {
      for (let k = 0; ; k++) {
        const at = t0 + (k * RECORDING_CYCLE_S + RECORDING_OFFSET_S) * 1000;
        if (at + RECORDING_ON_S * 1000 > endAt) return;
        await sleep(at - performance.now());
        const roomId = roomIds[k % roomIds.length];
        const started = await startRecording(server, roomId).catch(
          (err: Error) => ({ ok: false, reason: err.message }) as const,
        );
        if (!started.ok) {
          recs.errors.push(`${since()} s, ${roomId}: ${started.reason}`);
          continue;
        }
        recs.started++;
        recordingOn = true;
        await sleep(at + RECORDING_ON_S * 1000 - performance.now());
        const stopAt = performance.now();
        await stopRecording(server, started.recordingId).then(
          () => recs.stopSeconds.push(Math.round((performance.now() - stopAt) / 100) / 10),
          (err: Error) => recs.errors.push(`${since()} s, stop ${started.recordingId}: ${err.message}`),
        );
        recordingOn = false;
        background.push(finalizeAndDelete(server, started.recordingId, recs));
      }
    };

    const samples: SoakSample[] = [];
    const keyPatterns = { windowStart: {} as Record<string, number>, end: {} as Record<string, number> };
    const samplingLoop = async (): Promise<void> => {
      const windowStartAt = t0 + (durationS - plan.judgedS) * 1000;
      let patternsTaken = false;
      for (let k = 0; ; k++) {
        const at = t0 + k * opts.sampleS * 1000;
        if (at > endAt + 1) return;
        await sleep(at - performance.now());
        const tree = snapshotTree(server.pid);
        conn.redis = redisFor(tree, conn.redis);
        const redis = conn.redis;
        const [keys, deaths] = await Promise.all([
          redis ? redis.dbsize().catch(() => null) : Promise.resolve(null),
          readMetrics(server)
            .then((m) => metricSum(m, 'mcu_worker_deaths_total'))
            .catch(() => null),
        ]);
        samples.push({
          t: Math.round((at - t0) / 100) / 10,
          procs: tree.map(procSample),
          redisKeys: keys,
          deaths,
          participants: stable.length + live.size,
          recording: recordingOn,
        });
        if (!patternsTaken && at >= windowStartAt && redis) {
          patternsTaken = true;
          keyPatterns.windowStart = await keyPatternsOf(redis);
        }
        if (k % Math.max(1, Math.round(60 / opts.sampleS)) === 0) {
          const s = samples[samples.length - 1];
          const rss = s.procs.reduce((a, p) => a + p.rssKb, 0) / 1024;
          opts.progress(
            `${(s.t / 60).toFixed(1)}/${opts.durationMin} min: tree RSS ${rss.toFixed(0)} MB, ` +
              `${s.procs.length} processes, keys ${s.redisKeys ?? '?'}, deaths ${s.deaths ?? '?'}, ` +
              `churn ${churn.completed}/${churn.attempted}, recordings ${recs.started}, server CPU ${sampler?.liveCpuPercent.toFixed(0)} %`,
          );
        }
      }
    };

    await Promise.all([samplingLoop(), recordingLoop(), ...roomIds.map((_, r) => churnLoop(r))]);
    if (conn.redis) keyPatterns.end = await keyPatternsOf(conn.redis);
    const seconds = (performance.now() - t0) / 1000;
    const usage = sampler.endWindow();
    const bench = process.cpuUsage(bench0);
    const machineCpuPercent = ticksToPercent(machineBusyTicks() - machine0, seconds);
    // Finalize and delete of the last recordings (not judged: they end after the window).
    await Promise.race([Promise.allSettled(background), sleep(FINALIZE_TIMEOUT_MS)]);

    const r1 = (v: number): number => Math.round(v * 10) / 10;
    const result: SoakResult = {
      date: new Date().toISOString(),
      command,
      videoEncode: opts.videoEncode,
      durationMin: opts.durationMin,
      rooms: opts.rooms,
      perRoom: PER_ROOM,
      sampleSeconds: opts.sampleS,
      machine: {
        cores: os.cpus().length,
        loadavgStart: loadavgStart.map(r1),
        loadavgEnd: os.loadavg().map(r1),
        machineCpuPercent: r1(machineCpuPercent),
        serverCpuPercent: r1(usage.cpuPercent),
        serverCpuByRole: Object.fromEntries(Object.entries(usage.cpuByRole).map(([k, v]) => [k, r1(v)])),
        benchCpuPercent: r1(((bench.user + bench.system) / 1e6 / seconds) * 100),
      },
      churn: { periodSeconds: CHURN_PERIOD_S, staySeconds: CHURN_STAY_S, ...churn },
      recordings: { cycleSeconds: RECORDING_CYCLE_S, onSeconds: RECORDING_ON_S, ...recs },
      redisKeyPatterns: keyPatterns,
      minutes: minuteTable(samples, durationS),
      judgement: judgeSoak(samples, plan),
      serverProblems: server.problems().slice(-20),
      samples,
    };
    opts.onResult(result);
    return result;
  } finally {
    await teardown();
    untrack();
  }
}

interface ChurnOutcome {
  frames: number;
  error: string | null;
  /** The server acknowledged its leave (or the leave timed out) before the process ended. */
  left: boolean;
  signal: NodeJS.Signals | null;
}

/**
 * One churn participant for CHURN_STAY_S, in a process of its own (soak-churner.ts): joins,
 * sends and receives, leaves. Its participant id is in `live` while it is in the room.
 */
function churnCycle(
  server: ServerEndpoint,
  roomId: string,
  index: number,
  track: SoakOptions['track'],
  live: Set<string>,
): Promise<ChurnOutcome> {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'soak-churner.js'), roomId, String(index), String(CHURN_STAY_S)],
    {
      env: { ...process.env, SOAK_SERVER_URL: server.url, SOAK_ADMIN_KEY: server.adminApiKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const untrack = track(() => void child.kill('SIGKILL'));
  // Join, stay, leave, each step bounded: a hung cycle is killed and counted as an error.
  const kill = setTimeout(() => child.kill('SIGKILL'), (CHURN_STAY_S + (4 * STEP_TIMEOUT_MS) / 1000) * 1000);
  const out: ChurnOutcome = { frames: 0, error: null, left: false, signal: null };
  let participantId: string | null = null;
  let stderr = '';
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const msg = JSON.parse(line) as {
        joined?: string;
        frames?: number;
        error?: string | null;
        left?: boolean;
      };
      if (msg.joined) live.add((participantId = msg.joined));
      if (msg.frames !== undefined) out.frames = msg.frames;
      if (msg.error !== undefined) out.error = msg.error;
      if (msg.left) out.left = true;
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-500)));
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      clearTimeout(kill);
      untrack();
      if (participantId) live.delete(participantId);
      out.signal = signal;
      if (code !== 0 && signal === null && out.error === null)
        out.error = `churn process exited ${code}: ${stderr.trim().split('\n').pop() ?? ''}`;
      resolve(out);
    });
  });
}

/** Long-lived processes by role (media workers by pid); ffmpeg runs are instances of a series. */
function procSample(p: ProcessSnapshot): SoakProcSample {
  const base = { role: p.role, rssKb: p.rssKb, fds: p.fds };
  if (p.role === 'ffmpeg') {
    const series = p.parentRole === 'media-worker' ? CAPTURE_SERIES : `ffmpeg (under ${p.parentRole})`;
    return { ...base, key: `${series} ${p.pid}:${p.start}`, instanceOf: series };
  }
  if (p.role === 'media-worker' || p.role === 'other') return { ...base, key: `${p.role} ${p.pid}` };
  return { ...base, key: p.role };
}

/** A client of the server's embedded redis-server, found in its process tree (its port in the title). */
function redisFor(tree: ProcessSnapshot[], current: Redis | null): Redis | null {
  if (current) return current;
  const proc = tree.find((p) => p.role === 'redis');
  if (!proc) return null;
  let cmd = '';
  try {
    cmd = fs.readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return null;
  }
  const port = /--port (\d+)/.exec(cmd)?.[1] ?? /127\.0\.0\.1:(\d+)/.exec(cmd)?.[1];
  if (!port) return null;
  const client = new Redis(Number(port), '127.0.0.1', { maxRetriesPerRequest: 1 });
  // A failed DBSIZE is a null in the sample; the client's own error events need a listener.
  client.on('error', () => undefined);
  return client;
}

/** Every key, grouped by its name with id-like parts replaced by `*` (what grew, if anything). */
export async function keyPatternsOf(redis: Redis): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const k of keys) {
        const pattern = keyPattern(k);
        out[pattern] = (out[pattern] ?? 0) + 1;
      }
    } while (cursor !== '0');
  } catch {
    // Redis unreachable: the pattern listing is diagnostic only
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** `bull:finalize:rec_AbC123` → `bull:finalize:*`: parts with a digit are taken for ids. */
export function keyPattern(key: string): string {
  return key
    .split(':')
    .map((part) => (/\d/.test(part) && part.length >= 4 ? '*' : part))
    .join(':');
}

async function finalizeAndDelete(
  server: ServerEndpoint,
  id: string,
  recs: {
    finalStates: Record<string, number>;
    deleted: number;
    errors: string[];
    recordedSeconds: number[];
    audioDroppedSeconds: number[];
  },
): Promise<void> {
  const deadline = performance.now() + FINALIZE_TIMEOUT_MS;
  let state = 'unknown';
  let durationSec: number | undefined;
  let audioDroppedSec: number | undefined;
  while (performance.now() < deadline) {
    const res = await adminRequest<{
      state: string;
      media?: { durationSec: number };
      captureLosses?: { audioDroppedSec: number };
    }>(server, 'GET', `/api/recordings/${id}`).catch(() => null);
    state = res?.body?.state ?? state;
    durationSec = res?.body?.media?.durationSec;
    audioDroppedSec = res?.body?.captureLosses?.audioDroppedSec;
    if (FINAL_STATES.has(state)) break;
    await sleep(2000);
  }
  if (durationSec !== undefined) recs.recordedSeconds.push(Math.round(durationSec * 10) / 10);
  if (audioDroppedSec !== undefined) recs.audioDroppedSeconds.push(audioDroppedSec);
  recs.finalStates[state] = (recs.finalStates[state] ?? 0) + 1;
  if (!FINAL_STATES.has(state)) {
    recs.errors.push(`${id}: still ${state} after ${FINALIZE_TIMEOUT_MS / 1000} s`);
    return;
  }
  const del = await adminRequest(server, 'DELETE', `/api/recordings/${id}`).catch((err: Error) => ({
    status: 0,
    body: err.message,
  }));
  if (del.status === 204) recs.deleted++;
  else recs.errors.push(`DELETE ${id}: ${del.status} ${JSON.stringify(del.body)}`);
}

export function soakMarkdown(r: SoakResult): string {
  const j = r.judgement;
  const pct = (v: number | null): string =>
    v === null ? '–' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} %`;
  const num = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : String(v));
  const cell = (v: number | null, growth: boolean): string => (growth ? pct(v) : num(v));
  const warm = (r.durationMin * 60 - j.plan.judgedS) / 60;
  const lines = [
    '# Soak: memory, file descriptors, Redis keys',
    '',
    `- Date: ${r.date}; command: \`${r.command}\``,
    `- ${r.rooms} room(s) of ${r.perRoom} on \`standard\`, VIDEO_ENCODE=${r.videoEncode ?? 'per-peer'}: ${r.perRoom - 1} stable participants and one place where a new participant joins every ${r.churn.periodSeconds} s, stays ${r.churn.staySeconds} s and leaves; a recording started every ${r.recordings.cycleSeconds} s (rooms in turn), stopped after ${r.recordings.onSeconds} s, deleted once finalized.`,
    `- ${r.durationMin} min; sampled every ${r.sampleSeconds} s; warm-up ${round1(warm)} min, judged window the last ${round1(j.plan.judgedS / 60)} min, whose first and last ${round1(j.plan.segmentS / 60)} min are compared.`,
    `- Load: ${r.machine.cores} cores; load average ${r.machine.loadavgStart.join(' / ')} at the start, ${r.machine.loadavgEnd.join(' / ')} at the end; whole machine ${r.machine.machineCpuPercent} % of one core on average, of which the server's tree ${r.machine.serverCpuPercent} % and this load generator ${r.machine.benchCpuPercent} % (the rest: other programs on the shared machine).`,
    `- Churn: ${r.churn.completed}/${r.churn.attempted} joins completed with video${r.churn.errors.length ? `; errors: ${r.churn.errors.slice(0, 5).join('; ')}` : ''}.`,
    `- Load generator: ${r.churn.loadGeneratorCrashes.length} churn process(es) died by a signal (each cycle runs in its own process, bench/soak-churner.ts)${r.churn.loadGeneratorCrashes.length ? `: ${r.churn.loadGeneratorCrashes.slice(0, 5).join('; ')}` : ''}.`,
    `- Recordings: ${r.recordings.started} started, final states ${JSON.stringify(r.recordings.finalStates)}, ${r.recordings.deleted} deleted${r.recordings.errors.length ? `; errors: ${r.recordings.errors.slice(0, 5).join('; ')}` : ''}.`,
    `- Recording stops took ${JSON.stringify(r.recordings.stopSeconds ?? [])} s; the recordings hold ${JSON.stringify(r.recordings.recordedSeconds ?? [])} s of media (each recorded for ${r.recordings.onSeconds} s); their captures could not keep ${JSON.stringify(r.recordings.audioDroppedSeconds ?? [])} s of sound (the manifests' captureLosses).`,
    '',
    `## Verdicts: ${j.pass ? '**PASS**' : '**FAIL**'}`,
    '',
    '| check | process | first | last | growth | trend MB/h | limit | verdict |',
    '|---|---|---:|---:|---:|---:|---|---|',
    ...j.verdicts.map(
      (v) =>
        `| ${v.check} | ${v.subject} | ${num(v.first)} | ${num(v.last)} | ${cell(v.growth, v.check === 'rss' || v.check === 'instance-rss')} | ${num(v.slopeMbPerHour)} | ${v.limit} | ${v.pass ? 'pass' : '**FAIL**'}${v.note ? ` (${v.note})` : ''} |`,
    ),
    '',
    'RSS in MB (mean over the compared segment; ffmpeg: peak of one recording); fds and keys: the lowest count in the segment.',
    '',
    '## Every minute',
    '',
    '| min | control plane MB | media workers MB | recording worker MB | redis MB | ffmpeg MB (max) | whole tree MB | open fds | Redis keys | worker deaths | participants |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.minutes.map(
      (m) =>
        `| ${m.minute} | ${num(m.controlPlaneMb)} | ${num(m.mediaWorkersMb)} | ${num(m.recordingWorkerMb)} | ${num(m.redisMb)} | ${num(m.ffmpegMb)} | ${num(m.totalMb)} | ${num(m.fds)} | ${num(m.redisKeys)} | ${num(m.deaths)} | ${num(m.participants)} |`,
    ),
    '',
    '## Redis keys by pattern',
    '',
    '| pattern | window start | end |',
    '|---|---:|---:|',
    ...[...new Set([...Object.keys(r.redisKeyPatterns.windowStart), ...Object.keys(r.redisKeyPatterns.end)])]
      .sort()
      .map(
        (k) => `| \`${k}\` | ${r.redisKeyPatterns.windowStart[k] ?? 0} | ${r.redisKeyPatterns.end[k] ?? 0} |`,
      ),
    '',
  ];
  if (r.serverProblems.length > 0) {
    lines.push('## Server warnings and errors (last 20)', '', '```', ...r.serverProblems, '```', '');
  }
  return lines.join('\n');
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond() && performance.now() < deadline) await sleep(100);
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
