/**
 * Turns one scenario's raw measurements into the numbers we report. Every metric is defined
 * here once; docs/benchmark.md explains them in words.
 */
import { metricSum } from './control-api';
import type { ChurnResult } from './churn';
import type { ProcessRole, TreeUsage } from './process-tree';
import type { ScenarioSpec } from './scenario-spec';
import { concat, mean, percentile, round } from './stats';
import type { InboundTotals, SyntheticParticipant } from './synthetic-participant';

export interface WindowInputs {
  seconds: number;
  participants: SyntheticParticipant[];
  totals0: InboundTotals[];
  totals1: InboundTotals[];
  metrics0: Map<string, number>;
  metrics1: Map<string, number>;
  sentFrames: number[];
  usage: TreeUsage;
  benchCpuPercent: number;
  eventLoopP99Ms: number;
  /** Whole machine, % of one core: minus server and bench, what other programs used. */
  machineCpuPercent: number;
  withMedia: number;
  serverProblems: string[];
}

type N = number | null;

export interface ScenarioResult {
  key: string;
  title: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  participants: number;
  rooms: number;
  profile: string;
  recording: boolean;
  /** Server pinned to one core, load generator on the others. */
  pinned: boolean;
  /** VIDEO_ENCODE=shared (one VP8 encode per profile), else libwebrtc's encode per peer. */
  sharedEncode: boolean;
  measuredSeconds: N;
  /** Server process tree (control plane + media workers + redis + ffmpeg), % of one core. */
  serverCpuPercent: N;
  serverCpuPerParticipant: N;
  cpuByRole: Record<ProcessRole, N> | null;
  peakRssMb: N;
  /** The load generator (this process): it shares the machine's cores with the server. */
  benchCpuPercent: N;
  benchEventLoopP99Ms: N;
  /** CPU used by programs other than the server tree and the bench (noise from the machine). */
  otherCpuPercent: N;
  sentFps: N;
  rxFpsP5: N;
  rxFpsMedian: N;
  freezesPerMinute: N;
  frozenPercent: N;
  tileStallsPerMinute: N;
  latencyP50Ms: N;
  latencyP95Ms: N;
  latencyP99Ms: N;
  /** Through-server latency minus the peer-to-peer baseline's median (filled in by run.ts). */
  addedLatencyP50Ms: N;
  addedLatencyP95Ms: N;
  latencySamples: number;
  stampDecodeRate: N;
  downscaledFramePercent: N;
  rxKbpsMean: N;
  rxKbpsMax: N;
  rxVideoKbpsMean: N;
  rxAudioKbpsMean: N;
  /** Share of received audio samples the client's jitter buffer had to conceal. */
  audioConcealedRate: N;
  /** Share of (publisher x 10 ms) mix ticks where the server had no audio from that publisher. */
  serverAudioUnderrunRate: N;
  /** Share of received 10 ms chunks that were silent though others were sending tones. */
  audioSilentRate: N;
  /** max(concealed, server underrun): the rate used for the capacity criterion. */
  audioUnderrunRate: N;
  composedFps: N;
  /** Mean video jitter-buffer delay in the receiving client (ms per frame). */
  rxJitterBufferMs: N;
  /** Frames decoded natively but not (yet) delivered to the bench's JS: load-generator backlog. */
  rxUndeliveredFramePercent: N;
  /** Uplink (load generator's encoders): encoded fps, ms per encode, pacer delay, CPU-limited share. */
  upEncodedFps: N;
  upEncodeMs: N;
  upPacerDelayMs: N;
  upCpuLimitedPercent: N;
  /** Median over participants of the last RTCP round-trip time to the server. */
  rttMs: N;
  participantsWithMedia: number;
  /** The `churn` scenario's join/leave figures (the other fields cover its stable participants). */
  churn: ChurnResult | null;
  notes: string[];
}

export function aggregate(spec: ScenarioSpec, w: WindowInputs | null, reason?: string): ScenarioResult {
  const base: ScenarioResult = {
    key: spec.key,
    title: spec.title,
    status: w ? 'ok' : 'skipped',
    reason,
    participants: spec.rooms * spec.perRoom,
    rooms: spec.rooms,
    profile: spec.profile,
    recording: spec.recording,
    pinned: spec.pinned === true,
    sharedEncode: spec.sharedEncode === true,
    measuredSeconds: null,
    serverCpuPercent: null,
    serverCpuPerParticipant: null,
    cpuByRole: null,
    peakRssMb: null,
    benchCpuPercent: null,
    benchEventLoopP99Ms: null,
    otherCpuPercent: null,
    sentFps: null,
    rxFpsP5: null,
    rxFpsMedian: null,
    freezesPerMinute: null,
    frozenPercent: null,
    tileStallsPerMinute: null,
    latencyP50Ms: null,
    latencyP95Ms: null,
    latencyP99Ms: null,
    addedLatencyP50Ms: null,
    addedLatencyP95Ms: null,
    latencySamples: 0,
    stampDecodeRate: null,
    downscaledFramePercent: null,
    rxKbpsMean: null,
    rxKbpsMax: null,
    rxVideoKbpsMean: null,
    rxAudioKbpsMean: null,
    audioConcealedRate: null,
    serverAudioUnderrunRate: null,
    audioSilentRate: null,
    audioUnderrunRate: null,
    composedFps: null,
    rxJitterBufferMs: null,
    rxUndeliveredFramePercent: null,
    upEncodedFps: null,
    upEncodeMs: null,
    upPacerDelayMs: null,
    upCpuLimitedPercent: null,
    rttMs: null,
    participantsWithMedia: 0,
    churn: null,
    notes: [],
  };
  if (!w) return base;

  const ps = w.participants;
  const n = ps.length;
  const s = w.seconds;
  const minutes = s / 60;
  // Only whole seconds count as fps samples; a participant that got nothing contributes zeros.
  const wholeSeconds = Math.floor(s);
  const fpsSamples: number[] = [];
  for (const p of ps) {
    for (let i = 0; i < wholeSeconds; i++) fpsSamples.push(p.window.fpsPerSecond[i] ?? 0);
  }
  const latencies = concat(ps.map((p) => p.reader?.counters.latencies ?? []));
  const sum = (f: (p: SyntheticParticipant) => number): number => ps.reduce((acc, p) => acc + f(p), 0);
  const attempts = sum((p) => p.reader?.counters.attempts ?? 0);
  const frames = sum((p) => p.window.frames);

  const kbps = ps.map((_, i) => {
    const a = w.totals0[i];
    const b = w.totals1[i];
    const dt = (b.at - a.at) / 1000;
    const k = (bytes: number): number => (dt > 0 ? (bytes * 8) / dt / 1000 : 0);
    return {
      total: k(b.videoBytes + b.audioBytes + b.headerBytes - (a.videoBytes + a.audioBytes + a.headerBytes)),
      video: k(b.videoBytes - a.videoBytes),
      audio: k(b.audioBytes - a.audioBytes),
    };
  });
  const samples = w.totals1.reduce((acc, t, i) => acc + t.audioSamples - w.totals0[i].audioSamples, 0);
  const concealed = w.totals1.reduce(
    (acc, t, i) => acc + t.concealedSamples - w.totals0[i].concealedSamples,
    0,
  );
  const concealedRate = samples > 0 ? concealed / samples : NaN;
  const underruns =
    metricSum(w.metrics1, 'mcu_audio_underruns') - metricSum(w.metrics0, 'mcu_audio_underruns');
  const serverUnderrunRate = w.metrics1.size > 0 ? Math.max(0, underruns) / (n * 100 * s) : NaN;
  const chunks = sum((p) => p.window.audioChunks);
  const delta = (f: (t: InboundTotals) => number): number =>
    w.totals1.reduce((acc, t, i) => acc + f(t) - f(w.totals0[i]), 0);
  const decodedFrames = delta((t) => t.framesDecoded);
  const jbEmitted = delta((t) => t.jitterBufferEmitted);
  const composed = [...w.metrics1].filter(([k]) => k.startsWith('mcu_composed_fps{')).map(([, v]) => v);

  const roles = {} as Record<ProcessRole, N>;
  for (const [role, v] of Object.entries(w.usage.cpuByRole)) roles[role as ProcessRole] = round(v);

  const notes: string[] = [];
  if (w.withMedia < n) notes.push(`${n - w.withMedia} of ${n} participants never received video`);
  if (w.serverProblems.length > 0) {
    const first = w.serverProblems.slice(0, 3).map((l) => l.slice(0, 300));
    notes.push(`server logged ${w.serverProblems.length} warnings/errors, first: ${first.join(' | ')}`);
  }

  return {
    ...base,
    measuredSeconds: round(s),
    serverCpuPercent: round(w.usage.cpuPercent),
    serverCpuPerParticipant: round(w.usage.cpuPercent / n),
    cpuByRole: roles,
    peakRssMb: round(w.usage.peakRssMb),
    benchCpuPercent: round(w.benchCpuPercent),
    benchEventLoopP99Ms: round(w.eventLoopP99Ms),
    otherCpuPercent: round(Math.max(0, w.machineCpuPercent - w.usage.cpuPercent - w.benchCpuPercent)),
    sentFps: round(w.sentFrames.reduce((a, b) => a + b, 0) / n / s),
    rxFpsP5: round(percentile(fpsSamples, 5)),
    rxFpsMedian: round(percentile(fpsSamples, 50)),
    freezesPerMinute: round(sum((p) => p.window.freezes) / n / minutes, 2),
    frozenPercent: round((100 * sum((p) => p.window.frozenMs)) / (n * s * 1000), 2),
    tileStallsPerMinute: round(sum((p) => p.reader?.counters.tileFreezes ?? 0) / n / minutes, 2),
    latencyP50Ms: round(percentile(latencies, 50)),
    latencyP95Ms: round(percentile(latencies, 95)),
    latencyP99Ms: round(percentile(latencies, 99)),
    latencySamples: latencies.length,
    stampDecodeRate: round(attempts > 0 ? sum((p) => p.reader?.counters.decoded ?? 0) / attempts : NaN, 4),
    downscaledFramePercent: round(
      frames > 0 ? (100 * sum((p) => p.reader?.counters.downscaledFrames ?? 0)) / frames : NaN,
    ),
    rxKbpsMean: round(mean(kbps.map((k) => k.total))),
    rxKbpsMax: round(Math.max(...kbps.map((k) => k.total))),
    rxVideoKbpsMean: round(mean(kbps.map((k) => k.video))),
    rxAudioKbpsMean: round(mean(kbps.map((k) => k.audio))),
    audioConcealedRate: round(concealedRate, 5),
    serverAudioUnderrunRate: round(serverUnderrunRate, 5),
    audioSilentRate: round(chunks > 0 ? sum((p) => p.window.silentAudioChunks) / chunks : NaN, 5),
    audioUnderrunRate: round(
      Math.max(concealedRate, Number.isFinite(serverUnderrunRate) ? serverUnderrunRate : 0),
      5,
    ),
    composedFps: round(mean(composed)),
    rxJitterBufferMs: round(jbEmitted > 0 ? (1000 * delta((t) => t.jitterBufferDelay)) / jbEmitted : NaN),
    rxUndeliveredFramePercent: round(
      decodedFrames > 0 ? (100 * Math.max(0, decodedFrames - frames)) / decodedFrames : NaN,
    ),
    upEncodedFps: round(delta((t) => t.upFramesEncoded) / n / s),
    upEncodeMs: round(
      (1000 * delta((t) => t.upEncodeSeconds)) /
        Math.max(
          1,
          delta((t) => t.upFramesEncoded),
        ),
    ),
    upPacerDelayMs: round(
      (1000 * delta((t) => t.upPacketSendDelay)) /
        Math.max(
          1,
          delta((t) => t.upPacketsSent),
        ),
    ),
    upCpuLimitedPercent: round((100 * delta((t) => t.upCpuLimitedSeconds)) / (n * s)),
    rttMs: round(percentile(w.totals1.map((t) => t.rttMs).filter(Number.isFinite), 50)),
    participantsWithMedia: w.withMedia,
    notes,
  };
}
