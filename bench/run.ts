/**
 * `npm run bench`: the end-to-end benchmark of the MCU. Runs the selected scenarios one after
 * another (each with a fresh server process), the capacity search and the kernel
 * micro-benchmark, prints progress to stderr and writes bench/results/<stem>.{json,md} at the
 * end of a completed run. Every process and peer connection it starts is stopped on the way
 * out, also on an error, SIGINT/SIGTERM or the overall deadline.
 *
 *   node dist/bench/run.js [--quick] [--scenarios=std-4,low-8,...] [--warmup=S] [--measure=S]
 *                          [--capacity-runs=K] [--out=stem] [--deadline=S]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ScenarioResult } from './aggregate';
import { runBaseline, type BaselineResult } from './baseline';
import { capacityResult, judge, nextCapacityProbe, type CapacityResult } from './capacity';
import { DEFAULT_ANALYSIS_SECONDS, runAudioRoom, type AudioRoomResult } from './audio-room';
import { audioRoomSize, h264RoomSize, leanRoomSpec, parseCli, specFor, type CliOptions } from './catalog';
import { runH264Room, type H264RoomResult } from './h264-room';
import { runLeanRoom, searchLeanCapacity, type LeanCapacity, type LeanRoomResult } from './lean-room';
import { runClusterBench } from './cluster';
import { EGRESS_SECTIONS, runEgressBench, type EgressBenchResult } from './egress';
import { overloadMarkdown, runOverload } from './overload';
import { adaptiveDownlinkMarkdown, DOWNLINK_VARIANTS, runAdaptiveDownlink } from './adaptive-downlink';
import { machineInfo, writeReport, type BenchReport } from './report';
import { runScenario, type RunOptions } from './scenario';
import { mallocTunables } from './server-process';
import { runSoak, soakMarkdown, type SoakResult } from './soak';
import { audioRoomTargets, checkTargets, leanCapacityTargets, sharedEncodeTargets } from './targets';

const RESULTS_DIR = path.resolve(__dirname, '../../bench/results');
const CLEANUP_TIMEOUT_MS = 15_000;
/** About how long the kernel micro-benchmark takes on a 2-core machine. */
const KERNELS_MS = 12_000;
/** Joins, warm-up and window of the audio-only room in the default run. */
const AUDIO_ROOM_MS = 30_000;
/** The egress scenario's short form (bench/egress.ts) on a 2-core machine. */
const EGRESS_MS = 200_000;

const closers = new Set<() => Promise<void> | void>();
const startedAt = performance.now();
let label = 'start';

function progress(line: string): void {
  const s = Math.floor((performance.now() - startedAt) / 1000);
  const clock = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  process.stderr.write(`[bench ${clock} ${label}] ${line}\n`);
}

function track(close: () => Promise<void> | void): () => void {
  closers.add(close);
  return () => closers.delete(close);
}

async function cleanupAll(): Promise<void> {
  const all = [...closers];
  closers.clear();
  await Promise.race([
    Promise.allSettled(all.map(async (c) => c())),
    new Promise((resolve) => setTimeout(resolve, CLEANUP_TIMEOUT_MS)),
  ]);
}

let exiting = false;
async function abort(why: string, code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    progress(`${why}: stopping every process and peer connection (no results written)`);
    await cleanupAll();
  }
  process.exit(code);
}

async function main(opts: CliOptions): Promise<void> {
  const loadAtStart = os.loadavg();
  const runOpts: RunOptions = { warmupMs: opts.warmupMs, measureMs: opts.measureMs, progress, track };
  const scenarioKeys = opts.keys.filter((k) => specFor(k) !== null);
  const steps = opts.keys.length;
  let step = 0;
  let baseline: BaselineResult | null = null;
  const results: ScenarioResult[] = [];
  let capacity: CapacityResult | null = null;
  let capacityShared: CapacityResult | null = null;
  let kernels: Record<string, number> | null = null;
  const notes: string[] = [];
  const scenarioTimes: number[] = [];
  const fitsBudget = (ms: number): boolean => performance.now() - startedAt + ms <= opts.budgetMs;
  const timed = async (spec: NonNullable<ReturnType<typeof specFor>>): Promise<ScenarioResult> => {
    const t0 = performance.now();
    const r = await runScenario(spec, runOpts);
    scenarioTimes.push(performance.now() - t0);
    return r;
  };
  progress(
    `scenarios: ${opts.keys.join(', ')}; warm-up ${opts.warmupMs / 1000} s, measure ${opts.measureMs / 1000} s`,
  );

  if (opts.keys.includes('baseline')) {
    label = `${++step}/${steps} baseline`;
    baseline = await runBaseline({
      warmupMs: Math.min(opts.warmupMs, 3000),
      measureMs: Math.min(opts.measureMs, 10_000),
      progress,
      track,
    });
  }
  for (const key of scenarioKeys) {
    label = `${++step}/${steps} ${key}`;
    const spec = specFor(key);
    if (spec) results.push(await timed(spec));
  }
  const h264: H264RoomResult[] = [];
  for (const key of opts.keys) {
    const n = h264RoomSize(key);
    if (n === null) continue;
    label = `${++step}/${steps} ${key}`;
    h264.push(await runH264Room(key, n, runOpts));
  }
  const lean: LeanRoomResult[] = [];
  for (const key of opts.keys) {
    if (leanRoomSpec(key) === null) continue;
    label = `${++step}/${steps} ${key}`;
    lean.push(await runLeanRoom(key, runOpts));
  }
  const leanCapacity: LeanCapacity = { perPeer: null, shared: null };
  if (opts.keys.includes('capacity-lean')) {
    label = `${++step}/${steps} capacity-lean`;
    leanCapacity.perPeer = await searchLeanCapacity('per-peer', opts.capacityRuns + 4, runOpts, lean);
    leanCapacity.shared = await searchLeanCapacity('shared', opts.capacityRuns + 4, runOpts, lean);
  }
  /** Bisects on one room of N on `standard`, per-peer encodes (`std-N`) or one shared (`shared-N`). */
  const searchCapacity = async (prefix: 'std' | 'shared'): Promise<CapacityResult> => {
    const shared = prefix === 'shared';
    const sweep = results.filter(
      (r) =>
        r.rooms === 1 &&
        r.profile === 'standard' &&
        !r.recording &&
        !r.pinned &&
        !r.churn &&
        r.sharedEncode === shared,
    );
    const tried = sweep.map(judge);
    for (let extra = 0; extra < opts.capacityRuns; extra++) {
      const n = nextCapacityProbe(tried);
      if (n === null) break;
      const estimate = Math.max(...scenarioTimes, opts.warmupMs + opts.measureMs + 5000);
      if (!fitsBudget(estimate)) {
        notes.push(
          `Capacity search (${prefix}) stopped before N=${n}: the run's time budget (${opts.budgetMs / 1000} s) was reached.`,
        );
        break;
      }
      progress(
        `capacity search (${prefix}): trying N=${n} (so far: ${tried.map((t) => `${t.n}:${t.pass ? 'pass' : 'fail'}`).join(' ')})`,
      );
      const spec = specFor(`${prefix}-${n}`);
      if (!spec) break;
      const r = await timed(spec);
      results.push(r);
      tried.push(judge(r));
    }
    const c = capacityResult(tried, os.cpus().length);
    progress(`capacity (${prefix}): ${c.summary}`);
    return c;
  };
  if (opts.keys.includes('capacity')) {
    label = `${++step}/${steps} capacity`;
    capacity = await searchCapacity('std');
  }
  if (opts.keys.includes('capacity-shared')) {
    label = `${++step}/${steps} capacity-shared`;
    capacityShared = await searchCapacity('shared');
  }
  if (opts.keys.includes('kernels')) {
    label = `${++step}/${steps} kernels`;
    if (fitsBudget(KERNELS_MS)) {
      const { runKernelBench } = await import('./micro/kernels');
      kernels = await runKernelBench({ log: (l) => progress(l.trim()) });
    } else {
      notes.push(
        'Kernel micro-benchmark skipped: the time budget was used up (run it with --scenarios=kernels).',
      );
    }
  }

  const audioKey = opts.keys.find((k) => audioRoomSize(k) !== null);
  let audioRoom: AudioRoomResult | null = null;
  if (audioKey) {
    label = `${++step}/${steps} ${audioKey}`;
    if (fitsBudget(AUDIO_ROOM_MS)) {
      const n = audioRoomSize(audioKey) ?? 16;
      audioRoom = await runAudioRoom(
        {
          n,
          speakers: n,
          stack: 'rtp',
          tones: 'spread',
          analysisSeconds: DEFAULT_ANALYSIS_SECONDS,
          warmupMs: Math.min(opts.warmupMs, 3000),
          measureMs: Math.min(opts.measureMs, 10_000),
          env: {},
        },
        progress,
      );
    } else {
      notes.push(`Audio-only room skipped: the time budget was used up (run \`npm run bench:audio\`).`);
    }
  }

  let egress: EgressBenchResult | null = null;
  if (opts.keys.includes('egress')) {
    label = `${++step}/${steps} egress`;
    if (fitsBudget(EGRESS_MS)) {
      egress = await runEgressBench({
        measureS: 5,
        changes: 3,
        sections: EGRESS_SECTIONS,
        short: true,
        progress,
      });
    } else {
      notes.push('Egress scenario skipped: the time budget was used up (run `npm run bench:egress`).');
    }
  }

  if (opts.keys.includes('overload')) {
    label = `${++step}/${steps} overload`;
    const overload = await runOverload({
      roomCounts: opts.overloadRooms,
      maxAttempts: opts.overloadMax,
      videoEncode: opts.overloadEncode,
      // Short windows: the curve has a point per join attempt.
      measureMs: Math.min(opts.measureMs, 4000),
      progress,
      track,
    });
    // --out names the overload's own files when it ran alone; else `overload` for the default
    // run of it and `overload-partial` beside other scenarios.
    const alone = opts.keys.length === 1;
    const named = process.argv.some((a) => a.startsWith('--out='));
    const stem = !alone ? 'overload-partial' : named ? opts.out : 'overload';
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.json`), JSON.stringify(overload, null, 2) + '\n');
    fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.md`), overloadMarkdown(overload, commandLine()));
    notes.push(`Overload scenario: see bench/results/${stem}.md.`);
  }

  if (opts.keys.includes('adaptive-downlink')) {
    label = `${++step}/${steps} adaptive-downlink`;
    const variants = opts.downlinkVariants
      ? DOWNLINK_VARIANTS.filter((v) => opts.downlinkVariants?.includes(v.name))
      : undefined;
    if (variants?.length === 0)
      throw new Error(`--downlink-variants: none of ${DOWNLINK_VARIANTS.map((v) => v.name).join(', ')}`);
    const downlink = await runAdaptiveDownlink({ progress, track, variants });
    // As the overload's: --out names its files when it ran alone.
    const alone = opts.keys.every((k) => k === 'adaptive-downlink');
    const named = process.argv.some((a) => a.startsWith('--out='));
    const stem =
      alone && named ? opts.out : alone && !variants ? 'adaptive-downlink' : 'adaptive-downlink-partial';
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.json`), JSON.stringify(downlink, null, 2) + '\n');
    fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.md`), adaptiveDownlinkMarkdown(downlink, commandLine()));
    notes.push(`Adaptive downlink scenario: see bench/results/${stem}.md.`);
  }

  const baseP50 = baseline?.status === 'ok' ? baseline.latencyP50Ms : null;
  for (const r of results) {
    if (baseP50 === null || r.latencyP50Ms === null || r.latencyP95Ms === null) continue;
    r.addedLatencyP50Ms = Math.round((r.latencyP50Ms - baseP50) * 10) / 10;
    r.addedLatencyP95Ms = Math.round((r.latencyP95Ms - baseP50) * 10) / 10;
  }
  for (const h of h264) {
    // Only against a healthy wrtc run: a starved one (fps p5 < 14, underruns) used less CPU
    // because less media flowed, and the ratio would flatter the H.264 path.
    const vp8 = results.find((r) => r.key === `std-${h.participants}` && r.status === 'ok');
    if (vp8?.serverCpuPerParticipant && h.serverCpuPerParticipant !== null && judge(vp8).pass)
      h.cpuRatioToVp8 = Math.round((h.serverCpuPerParticipant / vp8.serverCpuPerParticipant) * 100) / 100;
    else if (vp8)
      notes.push(
        `${h.title}: no CPU ratio to ${vp8.key}, which did not meet the capacity criterion (${judge(vp8).why}).`,
      );
  }
  const machine = machineInfo(loadAtStart);
  const report: BenchReport = {
    date: new Date().toISOString(),
    command: commandLine(),
    durationSeconds: Math.round((performance.now() - startedAt) / 1000),
    settings: { warmupSeconds: opts.warmupMs / 1000, measureSeconds: opts.measureMs / 1000 },
    machine,
    baseline,
    scenarios: results,
    h264,
    lean,
    leanCapacity,
    capacity,
    capacityShared,
    targets: [
      ...checkTargets(results, capacity, machine.nproc),
      ...sharedEncodeTargets(results, capacity, capacityShared),
      ...leanCapacityTargets(lean, leanCapacity),
      ...audioRoomTargets(audioRoom ? [audioRoom] : []),
    ],
    kernels,
    audioRoom,
    egress,
    notes: [...runNotes(results, baseline), ...notes],
  };
  label = 'done';
  // A scenario with files of its own that ran alone under --out (overload, adaptive-downlink)
  // keeps the name.
  if (
    opts.keys.length === 1 &&
    (opts.keys[0] === 'overload' || opts.keys[0] === 'adaptive-downlink') &&
    process.argv.some((a) => a.startsWith('--out='))
  ) {
    progress(`finished in ${report.durationSeconds} s`);
    return;
  }
  const files = writeReport(RESULTS_DIR, opts.out, report);
  progress(
    `finished in ${report.durationSeconds} s; wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`,
  );
  for (const t of report.targets) progress(`target ${t.verdict}: ${t.target}: ${t.measured}`);
}

function runNotes(results: readonly ScenarioResult[], baseline: BaselineResult | null): string[] {
  const notes: string[] = [];
  const ok = results.filter((r) => r.status === 'ok');
  if (ok.length > 0) {
    const bench = ok.map((r) => r.benchCpuPercent ?? 0);
    notes.push(
      `The load generator runs on the same machine and used ${Math.min(...bench)}–${Math.max(...bench)} % of one core ` +
        '(it encodes every uplink and decodes every downlink, roughly as much work as the server): ' +
        'capacity on a machine serving only real clients would be higher.',
    );
    const healthy = ok.filter(
      (r) =>
        judge(r).pass && r.rooms === 1 && r.profile === 'standard' && !r.recording && !r.pinned && !r.churn,
    );
    const top = healthy.sort((a, b) => b.participants - a.participants)[0];
    if (top?.serverCpuPerParticipant) {
      const cores = os.cpus().length;
      notes.push(
        `Projection, not a measurement: at N=${top.participants} the server used ${top.serverCpuPerParticipant} % of one core per participant; ` +
          `with the load generator elsewhere, ${cores} cores would saturate at about ${Math.floor((cores * 100) / top.serverCpuPerParticipant)} participants.`,
      );
    }
    const other = Math.max(...ok.map((r) => r.otherCpuPercent ?? 0));
    if (other > 15)
      notes.push(
        `Other programs on the machine used up to ${other} % of one core during a measurement: numbers are noisy.`,
      );
  }
  for (const r of results) if (r.status !== 'ok') notes.push(`${r.title}: ${r.reason ?? r.status}.`);
  for (const r of ok) for (const n of r.notes) notes.push(`${r.title}: ${n}.`);
  if (baseline && baseline.status !== 'ok')
    notes.push(`Baseline ${baseline.status}: ${baseline.reason}; added latency not computed.`);
  return notes;
}

/** The command as typed, with the glibc malloc settings it was run under (server-process.ts passes them on). */
function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  const env = Object.entries(mallocTunables())
    .map(([k, v]) => `${k}=${v} `)
    .join('');
  if (process.env.npm_lifecycle_event === 'bench') return `${env}npm run bench${args ? ` -- ${args}` : ''}`;
  return `${env}node dist/bench/run.js${args ? ` ${args}` : ''}`;
}

/** `--scenario cluster` (or `--scenario=cluster`): the two-node benchmark of bench/cluster.ts. */
function clusterEntry(argv: readonly string[]): boolean {
  const i = argv.findIndex((a) => a === '--scenario' || a === '--scenario=cluster');
  if (i < 0 || (argv[i] === '--scenario' && argv[i + 1] !== 'cluster')) return false;
  const flag = (name: string, def: number): number => {
    const v = Number(argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
    return v;
  };
  label = 'cluster';
  process.once('SIGINT', () => void abort('interrupted (SIGINT)', 130));
  process.once('SIGTERM', () => void abort('terminated (SIGTERM)', 143));
  const deadline = setTimeout(() => void abort('deadline of 600 s reached', 1), 600_000);
  runClusterBench({ rooms: flag('rooms', 3), measureMs: flag('measure', 10) * 1000, progress, track })
    .then(async () => {
      clearTimeout(deadline);
      await cleanupAll();
      process.exit(0);
    })
    .catch((err: Error) => void abort(`error: ${err.stack ?? err.message}`, 1));
  return true;
}

/**
 * `--scenario soak [--duration-min=30] [--rooms=1] [--sample=5] [--encode=shared|per-peer] [--out=stem]`: the long run of
 * bench/soak.ts (memory, fds, Redis keys, worker deaths). Writes bench/results/soak.{json,md}
 * with the defaults, soak-partial (or --out) otherwise.
 */
function soakEntry(argv: readonly string[]): boolean {
  const i = argv.findIndex((a) => a === '--scenario' || a === '--scenario=soak');
  if (i < 0 || (argv[i] === '--scenario' && argv[i + 1] !== 'soak')) return false;
  const rest = argv.filter((a, k) => k !== i && !(argv[i] === '--scenario' && k === i + 1));
  const flags = new Map<string, string>();
  for (const a of rest) {
    const m = /^--(duration-min|rooms|sample|out|encode)=(.+)$/.exec(a);
    if (!m) {
      process.stderr.write(
        `soak: unknown argument "${a}" (--duration-min=M, --rooms=R, --sample=S, --encode=shared|per-peer, --out=stem)\n`,
      );
      process.exit(2);
    }
    flags.set(m[1], m[2]);
  }
  const num = (name: string, def: number, min: number, max: number): number => {
    const v = Number(flags.get(name) ?? def);
    if (!Number.isFinite(v) || v < min || v > max) {
      process.stderr.write(`soak: --${name} must be a number from ${min} to ${max}\n`);
      process.exit(2);
    }
    return v;
  };
  const durationMin = num('duration-min', 30, 1, 24 * 60);
  const rooms = num('rooms', 1, 1, 8);
  const sampleS = num('sample', 5, 1, 60);
  const stem = flags.get('out') ?? (rest.length === 0 ? 'soak' : 'soak-partial');
  const videoEncode = flags.get('encode') ?? 'shared';
  if (videoEncode !== 'shared' && videoEncode !== 'per-peer') {
    process.stderr.write(`soak: --encode must be shared or per-peer\n`);
    process.exit(2);
  }
  label = 'soak';
  process.once('SIGINT', () => void abort('interrupted (SIGINT)', 130));
  process.once('SIGTERM', () => void abort('terminated (SIGTERM)', 143));
  // Set-up, the last finalize and teardown come on top of the soak itself.
  const deadlineMs = (durationMin * 60 + 300) * 1000;
  const deadline = setTimeout(() => void abort(`deadline of ${deadlineMs / 1000} s reached`, 1), deadlineMs);
  const write = (r: SoakResult): void => {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.json`), JSON.stringify(r, null, 2) + '\n');
    fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.md`), soakMarkdown(r));
    progress(`wrote bench/results/${stem}.{json,md}: ${r.judgement.pass ? 'PASS' : 'FAIL'}`);
  };
  runSoak(
    { durationMin, rooms: Math.round(rooms), sampleS, videoEncode, progress, track, onResult: write },
    commandLine(),
  )
    .then(async (r) => {
      clearTimeout(deadline);
      for (const v of r.judgement.verdicts.filter((x) => !x.pass))
        progress(
          `FAIL ${v.check} ${v.subject}: ${v.first} -> ${v.last} (${v.limit})${v.note ? ` ${v.note}` : ''}`,
        );
      await cleanupAll();
      process.exit(0);
    })
    .catch((err: Error) => void abort(`error: ${err.stack ?? err.message}`, 1));
  return true;
}

function entry(): void {
  if (clusterEntry(process.argv.slice(2))) return;
  if (soakEntry(process.argv.slice(2))) return;
  let opts: CliOptions;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  process.once('SIGINT', () => void abort('interrupted (SIGINT)', 130));
  process.once('SIGTERM', () => void abort('terminated (SIGTERM)', 143));
  process.on('unhandledRejection', (err) => void abort(`unhandled rejection: ${String(err)}`, 1));
  const deadline = setTimeout(
    () => void abort(`deadline of ${opts.deadlineMs / 1000} s reached`, 1),
    opts.deadlineMs,
  );
  main(opts)
    .then(async () => {
      clearTimeout(deadline);
      await cleanupAll();
      // wrtc objects keep the event loop alive: exit explicitly once everything is closed.
      process.exit(0);
    })
    .catch((err: Error) => void abort(`error: ${err.stack ?? err.message}`, 1));
}

entry();
