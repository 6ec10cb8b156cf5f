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
import * as os from 'node:os';
import * as path from 'node:path';
import type { ScenarioResult } from './aggregate';
import { runBaseline, type BaselineResult } from './baseline';
import { capacityResult, judge, nextCapacityProbe, type CapacityResult } from './capacity';
import { parseCli, specFor, type CliOptions } from './catalog';
import { machineInfo, writeReport, type BenchReport } from './report';
import { runScenario, type RunOptions } from './scenario';
import { checkTargets } from './targets';

const RESULTS_DIR = path.resolve(__dirname, '../../bench/results');
const CLEANUP_TIMEOUT_MS = 15_000;
/** About how long the kernel micro-benchmark takes on a 2-core machine. */
const KERNELS_MS = 12_000;

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
  if (opts.keys.includes('capacity')) {
    label = `${++step}/${steps} capacity`;
    const sweep = results.filter(
      (r) => r.rooms === 1 && r.profile === 'standard' && !r.recording && !r.pinned && !r.churn,
    );
    const tried = sweep.map(judge);
    for (let extra = 0; extra < opts.capacityRuns; extra++) {
      const n = nextCapacityProbe(tried);
      if (n === null) break;
      const estimate = Math.max(...scenarioTimes, opts.warmupMs + opts.measureMs + 5000);
      if (!fitsBudget(estimate)) {
        notes.push(
          `Capacity search stopped before N=${n}: the run's time budget (${opts.budgetMs / 1000} s) was reached.`,
        );
        break;
      }
      progress(
        `capacity search: trying N=${n} (so far: ${tried.map((t) => `${t.n}:${t.pass ? 'pass' : 'fail'}`).join(' ')})`,
      );
      const spec = specFor(`std-${n}`);
      if (!spec) break;
      const r = await timed(spec);
      results.push(r);
      tried.push(judge(r));
    }
    capacity = capacityResult(tried, os.cpus().length);
    progress(`capacity: ${capacity.summary}`);
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

  const baseP50 = baseline?.status === 'ok' ? baseline.latencyP50Ms : null;
  for (const r of results) {
    if (baseP50 === null || r.latencyP50Ms === null || r.latencyP95Ms === null) continue;
    r.addedLatencyP50Ms = Math.round((r.latencyP50Ms - baseP50) * 10) / 10;
    r.addedLatencyP95Ms = Math.round((r.latencyP95Ms - baseP50) * 10) / 10;
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
    capacity,
    targets: checkTargets(results, capacity, machine.nproc),
    kernels,
    notes: [...runNotes(results, baseline), ...notes],
  };
  label = 'done';
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

function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${args ? ` -- ${args}` : ''}`;
  return `node dist/bench/run.js${args ? ` ${args}` : ''}`;
}

function entry(): void {
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
