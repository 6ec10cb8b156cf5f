/**
 * One benchmark scenario end to end: start a fresh server process, create the rooms over
 * REST, join the synthetic participants through tokens + signaling, warm up, measure for a
 * fixed window, tear everything down. Aggregation of what was measured is in aggregate.ts.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { aggregate, type ScenarioResult, type WindowInputs } from './aggregate';
import { churnResult, churnWindowMs, driveChurn, type ChurnLog } from './churn';
import { createRoom, readMetrics, startRecording, stopRecording } from './control-api';
import { machineBusyTicks, ticksToPercent, TreeSampler } from './process-tree';
import { ServerProcess } from './server-process';
import type { ScenarioSpec } from './scenario-spec';
import { percentile } from './stats';
import { SyntheticParticipant } from './synthetic-participant';

export interface RunOptions {
  warmupMs: number;
  measureMs: number;
  progress: (line: string) => void;
  /** Registers a close function for interrupt handling; returns its unregister function. */
  track: (close: () => Promise<void> | void) => () => void;
}

const JOIN_TIMEOUT_MS = 15_000;
const MEDIA_TIMEOUT_MS = 30_000;
const PROGRESS_EVERY_MS = 2_000;

export async function runScenario(spec: ScenarioSpec, opts: RunOptions): Promise<ScenarioResult> {
  const server = new ServerProcess();
  const participants: SyntheticParticipant[] = [];
  let sampler: TreeSampler | null = null;
  let recordingId: string | null = null;
  const teardown = async (): Promise<void> => {
    sampler?.stop();
    if (recordingId) await stopRecording(server, recordingId).catch(() => undefined);
    for (const p of participants) p.close();
    await server.stop();
  };
  const untrack = opts.track(teardown);
  try {
    if (spec.pinned) pinSelf(true);
    // Each scenario names its encode path: std-<N> is the per-peer one whatever the default.
    await server.start(
      { VIDEO_ENCODE: spec.sharedEncode ? 'shared' : 'per-peer' },
      spec.pinned ? '0' : undefined,
    );
    sampler = new TreeSampler(server.pid);
    sampler.start();
    opts.progress(`server pid ${server.pid} at ${server.url}; joining ${spec.rooms} x ${spec.perRoom}`);
    const connecting: Promise<void>[] = [];
    for (let r = 0; r < spec.rooms; r++) {
      const roomId = `bench-${spec.key}-${r}`;
      const maxParticipants = spec.perRoom + (spec.churn ? 1 : 0);
      await createRoom(server, { roomId, profile: spec.profile, maxParticipants });
      const inRoom: SyntheticParticipant[] = [];
      for (let i = 0; i < spec.perRoom; i++) {
        const p = new SyntheticParticipant(r * spec.perRoom + i, roomId, spec.profile);
        participants.push(p);
        inRoom.push(p);
        // Joins are sequential (the server's join order is the layout order); the media
        // negotiation of each runs in the background.
        const joined = await withTimeout(p.join(server, JOIN_TIMEOUT_MS), JOIN_TIMEOUT_MS, `join ${p.index}`);
        connecting.push(
          withTimeout(p.connect(joined), JOIN_TIMEOUT_MS, `connect ${p.index}`).then(() => p.sender.start()),
        );
      }
      const ids = inRoom.map((p) => p.participantId);
      for (const p of inRoom) p.setRoomOrder(ids);
    }
    await Promise.all(connecting);
    server.rememberTree();
    await waitUntil(() => participants.every((p) => p.framesTotal > 0), MEDIA_TIMEOUT_MS);
    const withMedia = participants.filter((p) => p.framesTotal > 0).length;
    opts.progress(`${withMedia}/${participants.length} participants receive video`);

    let recordingNote: string | undefined;
    if (spec.recording) {
      const started = await startRecording(server, `bench-${spec.key}-0`);
      if (!started.ok) {
        opts.progress(started.reason);
        return { ...skipped(spec, started.reason) };
      }
      recordingId = started.recordingId;
      recordingNote = `recording ${recordingId} in room bench-${spec.key}-0`;
    }

    await phase('warm-up', opts.warmupMs, participants, sampler, opts);
    server.rememberTree();

    // --- measurement window ---
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const startedAt = performance.now();
    for (const p of participants) p.beginWindow(startedAt);
    sampler.beginWindow();
    const benchCpu0 = process.cpuUsage();
    const machine0 = machineBusyTicks();
    const totals0 = await Promise.all(participants.map((p) => p.inboundTotals()));
    const metrics0 = await readMetrics(server).catch(() => new Map<string, number>());
    const sent0 = participants.map((p) => p.sender.framesSent);

    let churnLog: ChurnLog | null = null;
    if (spec.churn) {
      // The window is as long as the joins and leaves take, whatever --measure says.
      [churnLog] = await Promise.all([
        driveChurn({
          server,
          roomId: `bench-${spec.key}-0`,
          stable: participants,
          plan: spec.churn,
          track: opts.track,
          progress: opts.progress,
        }),
        phase('measure', churnWindowMs(spec.churn), participants, sampler, opts),
      ]);
    } else {
      await phase('measure', opts.measureMs, participants, sampler, opts);
    }

    const seconds = (performance.now() - startedAt) / 1000;
    const usage = sampler.endWindow();
    const benchCpu = process.cpuUsage(benchCpu0);
    const machineCpuPercent = ticksToPercent(machineBusyTicks() - machine0, seconds);
    const totals1 = await Promise.all(participants.map((p) => p.inboundTotals()));
    const metrics1 = await readMetrics(server).catch(() => new Map<string, number>());
    loopDelay.disable();
    server.rememberTree();

    const inputs: WindowInputs = {
      seconds,
      participants,
      totals0,
      totals1,
      metrics0,
      metrics1,
      sentFrames: participants.map((p, i) => p.sender.framesSent - sent0[i]),
      usage,
      benchCpuPercent: ((benchCpu.user + benchCpu.system) / 1e6 / seconds) * 100,
      eventLoopP99Ms: loopDelay.percentile(99) / 1e6,
      machineCpuPercent,
      withMedia,
      serverProblems: server.problems(),
    };
    const result = aggregate(spec, inputs);
    if (recordingNote) result.notes.push(recordingNote);
    if (spec.churn && churnLog) {
      result.churn = churnResult(spec.churn, churnLog, participants, metrics0, metrics1);
    }
    return result;
  } catch (err) {
    opts.progress(`failed: ${(err as Error).message}`);
    return { ...skipped(spec, `failed: ${(err as Error).message}`), status: 'failed' };
  } finally {
    await teardown();
    untrack();
    if (spec.pinned) pinSelf(false);
  }
}

/** Moves every thread of this process to CPUs 1..n-1 (or back to all CPUs). */
function pinSelf(pinned: boolean): void {
  const n = os.cpus().length;
  if (n < 2) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', pinned ? `1-${n - 1}` : `0-${n - 1}`, String(process.pid)], {
      stdio: 'ignore',
    });
  } catch {
    // taskset missing: the scenario still runs, unpinned (the title says pinned; notes tell)
  }
}

function skipped(spec: ScenarioSpec, reason: string): ScenarioResult {
  return aggregate(spec, null, reason);
}

/** Waits `ms`, printing a live line every couple of seconds. */
async function phase(
  name: string,
  ms: number,
  participants: SyntheticParticipant[],
  sampler: TreeSampler,
  opts: RunOptions,
): Promise<void> {
  const start = performance.now();
  let lastFrames = participants.reduce((s, p) => s + p.framesTotal, 0);
  let lastAt = start;
  while (performance.now() - start < ms) {
    await sleep(Math.min(PROGRESS_EVERY_MS, ms - (performance.now() - start)));
    const now = performance.now();
    const frames = participants.reduce((s, p) => s + p.framesTotal, 0);
    const fps = (frames - lastFrames) / participants.length / ((now - lastAt) / 1000);
    lastFrames = frames;
    lastAt = now;
    const recent: number[] = [];
    for (const p of participants) {
      const l = p.reader?.counters.latencies ?? [];
      for (let i = Math.max(0, l.length - 30); i < l.length; i++) recent.push(l[i]);
    }
    const lat = recent.length > 0 ? `${percentile(recent, 50).toFixed(0)} ms` : 'n/a';
    opts.progress(
      `${name} ${((now - start) / 1000).toFixed(0)}/${(ms / 1000).toFixed(0)} s: ` +
        `rx ${fps.toFixed(1)} fps/participant, latency p50 ${lat}, server CPU ${sampler.liveCpuPercent.toFixed(0)} %`,
    );
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond() && performance.now() < deadline) await sleep(100);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
