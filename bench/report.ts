/**
 * The results files: bench/results/<stem>.json (everything) and <stem>.md (the tables, the
 * targets with PASS/MISS, the machine and the exact command).
 */
import { markdownTable, type AudioRoomResult } from './audio-room';
import { egressMarkdown, type EgressBenchResult } from './egress';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ScenarioResult } from './aggregate';
import type { BaselineResult } from './baseline';
import type { CapacityResult } from './capacity';
import { h264Markdown, type H264RoomResult } from './h264-room';
import { leanMarkdown, type LeanCapacity, type LeanRoomResult } from './lean-room';
import type { TargetCheck } from './targets';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  wrtc: string;
  platform: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
}

export interface BenchReport {
  date: string;
  command: string;
  durationSeconds: number;
  settings: { warmupSeconds: number; measureSeconds: number };
  machine: MachineInfo;
  baseline: BaselineResult | null;
  scenarios: ScenarioResult[];
  /** The `h264-<N>` scenarios (bench/h264-room.ts). */
  h264: H264RoomResult[];
  /** The `lean-<N>` / `lean-shared-<N>` runs and the `capacity-lean` search (bench/lean-room.ts). */
  lean: LeanRoomResult[];
  leanCapacity: LeanCapacity;
  capacity: CapacityResult | null;
  /** The same search with VIDEO_ENCODE=shared (`capacity-shared`). */
  capacityShared: CapacityResult | null;
  targets: TargetCheck[];
  kernels: Record<string, number> | null;
  /** The audio-only room (`audio-<N>`), served by the default (RTP-level) stack. */
  audioRoom: AudioRoomResult | null;
  /** Live egress and ingest (`egress`, short form of bench/egress.ts). */
  egress: EgressBenchResult | null;
  notes: string[];
}

export function machineInfo(loadAtStart: number[]): MachineInfo {
  let wrtcVersion = 'unknown';
  try {
    wrtcVersion = String(require('@roamhq/wrtc/package.json').version);
  } catch {
    // not resolvable as a package file: leave unknown
  }
  return {
    nproc: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    wrtc: wrtcVersion,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: loadAtStart.map((v) => Math.round(v * 100) / 100),
    loadAverageAtEnd: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

export function writeReport(dir: string, stem: string, report: BenchReport): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${stem}.json`);
  const md = path.join(dir, `${stem}.md`);
  fs.writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(md, markdown(report));
  return [json, md];
}

const v = (x: number | null | undefined, suffix = ''): string =>
  x === null || x === undefined ? '–' : `${x}${suffix}`;
const pct = (x: number | null): string => (x === null ? '–' : `${Math.round(x * 100000) / 1000} %`);

/** The churn scenarios: what the stable participants saw while one more joined and left. */
function churnSection(scenarios: readonly ScenarioResult[]): string[] {
  const runs = scenarios.filter((s) => s.status === 'ok' && s.churn);
  if (runs.length === 0) return [];
  const lines = ['', '## Joins and leaves (stable participants while one more joins and leaves)', ''];
  lines.push(
    '| scenario | cycles | video max gap: near events / away / overall ms | gaps > 200 ms (near events) | rx fps p5 | audio dropout max: near events / overall ms | audible arrival max gap ms | audio deficit ms | concealed ms/event max | server underrun | newcomer: join ack / first frame / own picture ms (median, max) | bench stall max ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  );
  for (const s of runs) {
    const c = s.churn;
    if (!c) continue;
    lines.push(
      `| ${s.title} | ${c.completedCycles}/${c.cycles} | ${v(c.videoMaxGapNearEventsMs)} / ${v(c.videoMaxGapQuietMs)} / ${v(c.videoMaxGapMs)} | ` +
        `${c.videoGapsOver200} (${c.videoGapsOver200NearEvents}) | ${v(s.rxFpsP5)} | ${v(c.audioMaxGapNearEventsMs)} / ${v(c.audioMaxGapMs)} | ` +
        `${v(c.audioMaxArrivalGapMs)} | ${v(c.audioDeficitMs)} | ${v(c.concealedMsPerEventMax)} | ${pct(c.serverAudioUnderrunRate)} | ` +
        `${v(c.joinAckMsMedian)} / ${v(c.firstFrameMsMedian)} (${v(c.firstFrameMsMax)}) / ${v(c.ownPictureMsMedian)} (${v(c.ownPictureMsMax)}) | ${v(c.benchStallMaxMs)} |`,
    );
  }
  for (const s of runs) {
    const c = s.churn;
    if (!c) continue;
    lines.push('', `Per event, ${s.title} (${v(c.seconds)} s window, --measure does not apply):`, '');
    lines.push(
      '| event | at s | video max gap ms (±1 s) | audio dropout ms (±1 s) | audible arrival gap ms (±1 s) | concealed ms (1 s after) | bench stall ms (±1 s) |',
      '|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const e of c.events) {
      lines.push(
        `| ${e.kind} ${e.cycle} | ${v(e.atSeconds)} | ${v(e.videoMaxGapMs)} | ${v(e.audioMaxGapMs)} | ${v(e.audioArrivalGapMs)} | ${v(e.concealedMs)} | ${v(e.benchStallMs)} |`,
      );
    }
    if (c.errors.length > 0) lines.push('');
    for (const err of c.errors) lines.push(`- ${err}`);
  }
  return lines;
}

export function markdown(r: BenchReport): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push('# MCU benchmark results', '');
  lines.push(`- Date: ${r.date}`);
  lines.push(`- Command: \`${r.command}\` (${Math.round(r.durationSeconds)} s wall time)`);
  lines.push(
    `- Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memoryGb} GB RAM, ${m.platform}, Node ${m.node}, @roamhq/wrtc ${m.wrtc}`,
  );
  lines.push(
    `- Load average at start ${m.loadAverageAtStart.join(' / ')}, at end ${m.loadAverageAtEnd.join(' / ')}`,
  );
  lines.push(
    `- Each scenario: fresh server process, ${r.settings.warmupSeconds} s warm-up, ${r.settings.measureSeconds} s measured. ` +
      'Load generator and server share the same cores (see "bench CPU").',
    '',
  );
  if (r.baseline) {
    const b = r.baseline;
    lines.push(
      `**Baseline** (direct wrtc peer-to-peer, no server): latency p50 ${v(b.latencyP50Ms, ' ms')}, ` +
        `p95 ${v(b.latencyP95Ms, ' ms')}, ${v(b.rxFps)} fps, stamp decode rate ${pct(b.decodeRate)}` +
        (b.status === 'ok' ? '' : ` (${b.status}: ${b.reason})`),
      '',
    );
  }
  lines.push(
    '| scenario | N | server CPU % | CPU %/participant | peak RSS MB | rx fps p5 / median | latency p50 / p95 ms | added p50 / p95 ms | rx kbps/participant (max) | audio underrun | bench CPU % | other CPU % |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of r.scenarios) {
    if (s.status !== 'ok') {
      lines.push(`| ${s.title} | ${s.participants} | ${s.reason ?? s.status} | | | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${s.title} | ${s.participants} | ${v(s.serverCpuPercent)} | ${v(s.serverCpuPerParticipant)} | ${v(s.peakRssMb)} | ` +
        `${v(s.rxFpsP5)} / ${v(s.rxFpsMedian)} | ${v(s.latencyP50Ms)} / ${v(s.latencyP95Ms)} | ` +
        `${v(s.addedLatencyP50Ms)} / ${v(s.addedLatencyP95Ms)} | ${v(s.rxKbpsMean)} (${v(s.rxKbpsMax)}) | ` +
        `${pct(s.audioUnderrunRate)} | ${v(s.benchCpuPercent)} | ${v(s.otherCpuPercent)} |`,
    );
  }
  lines.push('', '### More detail', '');
  lines.push(
    '| scenario | CPU: control plane / media workers / recording worker / redis / ffmpeg | freezes/min | frozen % | tile stalls/min | stamp decode | downscaled frames % | video / audio kbps | concealed / server underrun / silent | composed fps | undelivered % | bench loop p99 ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of r.scenarios) {
    if (s.status !== 'ok' || !s.cpuByRole) continue;
    const c = s.cpuByRole;
    lines.push(
      `| ${s.title} | ${v(c['control-plane'])} / ${v(c['media-worker'])} / ${v(c['recording-worker'])} / ${v(c.redis)} / ${v(c.ffmpeg)} | ` +
        `${v(s.freezesPerMinute)} | ${v(s.frozenPercent)} | ${v(s.tileStallsPerMinute)} | ${pct(s.stampDecodeRate)} | ` +
        `${v(s.downscaledFramePercent)} | ${v(s.rxVideoKbpsMean)} / ${v(s.rxAudioKbpsMean)} | ` +
        `${pct(s.audioConcealedRate)} / ${pct(s.serverAudioUnderrunRate)} / ${pct(s.audioSilentRate)} | ` +
        `${v(s.composedFps)} | ${v(s.rxUndeliveredFramePercent)} | ${v(s.benchEventLoopP99Ms)} |`,
    );
  }
  lines.push('', '### Transport and load generator', '');
  lines.push(
    '| scenario | uplink encoded fps | uplink encode ms | uplink pacer delay ms | uplink CPU-limited % | RTT ms | rx jitter buffer ms | sent fps |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of r.scenarios) {
    if (s.status !== 'ok') continue;
    lines.push(
      `| ${s.title} | ${v(s.upEncodedFps)} | ${v(s.upEncodeMs)} | ${v(s.upPacerDelayMs)} | ${v(s.upCpuLimitedPercent)} | ` +
        `${v(s.rttMs)} | ${v(s.rxJitterBufferMs)} | ${v(s.sentFps)} |`,
    );
  }
  lines.push(...churnSection(r.scenarios));
  lines.push(...h264Markdown(r.h264));
  lines.push(...leanMarkdown(r.lean, r.leanCapacity));
  for (const [title, c] of [
    ['Capacity', r.capacity],
    ['Capacity with one shared VP8 encode (VIDEO_ENCODE=shared)', r.capacityShared],
  ] as const) {
    if (!c) continue;
    lines.push('', `## ${title}`, '');
    lines.push(`Criterion: ${c.criterion}.`, '');
    lines.push(`**${c.summary}**`, '');
    lines.push(`Runs: ${c.tried.map((t) => `N=${t.n} ${t.pass ? 'pass' : 'fail'} (${t.why})`).join('; ')}`);
  }
  if (r.targets.length > 0) {
    lines.push('', '## Targets', '', '| target | measured | verdict |', '|---|---|---|');
    for (const t of r.targets) lines.push(`| ${t.target} | ${t.measured} | ${t.verdict} |`);
  }
  if (r.kernels) {
    lines.push('', '## Kernel micro-benchmark (bench/micro)', '', '| case | best |', '|---|---:|');
    for (const [k, val] of Object.entries(r.kernels))
      if (!k.endsWith('_median')) lines.push(`| ${k} | ${val} |`);
  }
  if (r.audioRoom) {
    lines.push('', '## Audio-only room (bench/audio-room.ts)', '', markdownTable([r.audioRoom]));
  }
  if (r.egress) {
    lines.push('', '## Live egress and ingest (bench/egress.ts, short form)', '', egressMarkdown(r.egress));
  }
  if (r.notes.length > 0) {
    lines.push('', '## Notes', '');
    for (const n of r.notes) lines.push(`- ${n}`);
  }
  lines.push('');
  return lines.join('\n');
}
