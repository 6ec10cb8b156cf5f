/**
 * The `overload` scenario (issue 12, item 3): participants join one by one up to twice the
 * node's capacity, in one room or spread over three; after every join attempt the admitted ones
 * are measured for a short window (through-server latency from the frame stamps, received fps,
 * audio underruns at the server) and refusals are counted. Run twice on the same machine:
 * `before` = the engine alone (no admission control, no quality shedding), `after` = the
 * server's defaults (NODE_CAPACITY, ADMISSION_LIMIT 0.85, shedding on). Target for `after`:
 * every admitted participant at added latency p95 ≤ 300 ms, fps p5 ≥ 7, underruns < 1 %, the
 * others refused with server_busy.
 *
 *   npm run bench -- --scenarios=overload [--overload-rooms=1,3] [--overload-max=14] [--measure=S]
 *
 * Writes bench/results/overload.{json,md} (overload-partial when options were given).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { createRoom, metricSum, readMetrics } from './control-api';
import { ServerProcess } from './server-process';
import { percentile } from './stats';
import { SyntheticParticipant } from './synthetic-participant';

const JOIN_TIMEOUT_MS = 15_000;
/** After a join: let the newcomer's media start and the others' jitter buffers settle. */
const SETTLE_MS = 2_000;

export interface OverloadOptions {
  roomCounts: number[];
  /** Join attempts per curve (default: twice the default NODE_CAPACITY). */
  maxAttempts: number;
  /** VIDEO_ENCODE of every curve: the shared encode (the default) or one encoder per peer. */
  videoEncode: 'per-peer' | 'shared';
  measureMs: number;
  progress: (line: string) => void;
  track: (close: () => Promise<void> | void) => () => void;
}

export interface OverloadRow {
  attempts: number;
  admitted: number;
  refused: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  fpsP5: number | null;
  fpsMedian: number | null;
  underrunPercent: number | null;
  /** Highest quality shedding level among the rooms at the end of the window. */
  qualityLevel: number;
  serverCpuPercent: number | null;
}

export interface OverloadCurve {
  mode: 'before' | 'after';
  rooms: number;
  env: Record<string, string>;
  rows: OverloadRow[];
  /** Why the curve ended early, if it did. */
  stopped?: string;
}

export interface OverloadResult {
  date: string;
  cores: number;
  loadavgStart: number[];
  loadavgEnd: number[];
  videoEncode: OverloadOptions['videoEncode'];
  baselineNote: string;
  curves: OverloadCurve[];
}

const MODES: { mode: OverloadCurve['mode']; env: Record<string, string> }[] = [
  {
    mode: 'before',
    env: {
      NODE_CAPACITY: '100000',
      ADMISSION_LIMIT: '1',
      ADMISSION_MAX_LOOP_DELAY_MS: '100000000',
      QUALITY_SHEDDING: 'off',
    },
  },
  // The server's own defaults, spelled out: ServerProcess switches them off for the classic scenarios.
  {
    mode: 'after',
    env: {
      NODE_CAPACITY: '7',
      ADMISSION_LIMIT: '0.85',
      ADMISSION_MAX_LOOP_DELAY_MS: '200',
      QUALITY_SHEDDING: 'on',
    },
  },
];

export async function runOverload(opts: OverloadOptions): Promise<OverloadResult> {
  const loadavgStart = os.loadavg();
  const curves: OverloadCurve[] = [];
  for (const rooms of opts.roomCounts)
    for (const m of MODES)
      curves.push(await runCurve(m.mode, { ...m.env, VIDEO_ENCODE: opts.videoEncode }, rooms, opts));
  return {
    date: new Date().toISOString(),
    cores: os.cpus().length,
    loadavgStart: loadavgStart.map((x) => Math.round(x * 100) / 100),
    loadavgEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
    videoEncode: opts.videoEncode,
    baselineNote:
      'Latency is through the server (send → receive, frame stamps); the direct peer-to-peer baseline on this machine is ≈ 34 ms p50, so added ≈ latency − 34 ms.',
    curves,
  };
}

async function runCurve(
  mode: OverloadCurve['mode'],
  env: Record<string, string>,
  rooms: number,
  opts: OverloadOptions,
): Promise<OverloadCurve> {
  const server = new ServerProcess();
  const admitted: SyntheticParticipant[] = [];
  const roomIds = Array.from({ length: rooms }, (_, r) => `overload-${mode}-${r}`);
  const close = async () => {
    for (const p of admitted) p.close();
    await server.stop();
  };
  const untrack = opts.track(close);
  const curve: OverloadCurve = { mode, rooms, env, rows: [] };
  try {
    await server.start({ ...env, METRICS_POLL_MS: '1000' });
    for (const roomId of roomIds)
      await createRoom(server, { roomId, profile: 'standard', maxParticipants: opts.maxAttempts });
    let refused = 0;
    for (let attempt = 1; attempt <= opts.maxAttempts; attempt++) {
      const roomId = roomIds[(attempt - 1) % rooms];
      const p = new SyntheticParticipant(1000 + attempt, roomId, 'standard');
      try {
        const joined = await p.join(server, JOIN_TIMEOUT_MS);
        admitted.push(p);
        await p.connect(joined);
        p.sender.start();
        const inRoom = admitted.filter((x) => x.roomId === roomId);
        const ids = inRoom.map((x) => x.participantId);
        for (const x of inRoom) x.setRoomOrder(ids);
      } catch (err) {
        p.close();
        const code = (err as { code?: string }).code ?? (err as Error).message;
        if (!String(code).includes('server_busy')) {
          curve.stopped = `join ${attempt} failed: ${(err as Error).message}`;
          opts.progress(curve.stopped);
          break;
        }
        refused++;
      }
      await sleep(SETTLE_MS);
      const row = await measure(server, admitted, attempt, refused, opts.measureMs);
      curve.rows.push(row);
      opts.progress(
        `${mode} ${rooms} room(s): attempt ${attempt}: ${row.admitted} in, ${row.refused} refused, ` +
          `latency p95 ${row.latencyP95Ms ?? 'n/a'} ms, fps p5 ${row.fpsP5 ?? 'n/a'}, ` +
          `underruns ${row.underrunPercent ?? 'n/a'} %, quality level ${row.qualityLevel}`,
      );
    }
  } finally {
    await close();
    untrack();
  }
  return curve;
}

async function measure(
  server: ServerProcess,
  ps: SyntheticParticipant[],
  attempts: number,
  refused: number,
  ms: number,
): Promise<OverloadRow> {
  const m0 = await readMetrics(server).catch(() => new Map<string, number>());
  const cpu0 = treeTicks(server.pid);
  const t0 = performance.now();
  for (const p of ps) p.beginWindow(t0);
  await sleep(ms);
  const seconds = (performance.now() - t0) / 1000;
  const m1 = await readMetrics(server).catch(() => new Map<string, number>());
  const cpu1 = treeTicks(server.pid);
  const latencies = ps.flatMap((p) => p.reader?.counters.latencies ?? []);
  // Whole seconds only: the last one is cut by the window's end.
  const fps = ps.flatMap((p) => {
    const per = p.window.fpsPerSecond.slice(0, Math.floor(seconds));
    while (per.length < Math.floor(seconds)) per.push(0);
    return per;
  });
  const underruns = metricSum(m1, 'mcu_audio_underruns') - metricSum(m0, 'mcu_audio_underruns');
  let level = 0;
  for (const [k, v] of m1) if (k.startsWith('mcu_quality_level{')) level = Math.max(level, v);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    attempts,
    admitted: ps.length,
    refused,
    latencyP50Ms: latencies.length ? r(percentile(latencies, 50)) : null,
    latencyP95Ms: latencies.length ? r(percentile(latencies, 95)) : null,
    fpsP5: fps.length ? r(percentile(fps, 5)) : null,
    fpsMedian: fps.length ? r(percentile(fps, 50)) : null,
    // Publisher ticks without data per publisher tick (100 per second).
    underrunPercent: ps.length ? r((100 * underruns) / (ps.length * seconds * 100)) : null,
    qualityLevel: level,
    serverCpuPercent: cpu0 !== null && cpu1 !== null ? r((cpu1 - cpu0) / seconds) : null,
  };
}

/** CPU ticks (1/100 s) of a process and its descendants, from /proc. */
function treeTicks(root: number): number | null {
  try {
    const parent = new Map<number, number>();
    const ticks = new Map<number, number>();
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        parent.set(Number(name), Number(f[1]));
        ticks.set(Number(name), Number(f[11]) + Number(f[12]));
      } catch {
        // exited meanwhile
      }
    }
    let total = 0;
    for (const [pid, t] of ticks) {
      for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p)) {
        if (p === root) {
          total += t;
          break;
        }
      }
    }
    return total;
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function overloadMarkdown(r: OverloadResult, command: string): string {
  const out = [
    '# Overload: joining one by one past capacity, before and after admission control + shedding',
    '',
    `- Date: ${r.date}; ${r.cores} cores; load average at start ${r.loadavgStart.join(' / ')}, at end ${r.loadavgEnd.join(' / ')}`,
    `- Command: \`${command}\``,
    `- Encode path: VIDEO_ENCODE=${r.videoEncode} in every curve${r.videoEncode === 'shared' ? ' (one VP8 encode per profile per room, the cost table of docs/overload.md "with the shared encode")' : ' (one libwebrtc encoder per peer)'}.`,
    '- `before`: admission control and shedding off (NODE_CAPACITY=100000, ADMISSION_LIMIT=1, ADMISSION_MAX_LOOP_DELAY_MS huge, QUALITY_SHEDDING=off): the engine alone; `after`: the defaults (NODE_CAPACITY=7, ADMISSION_LIMIT=0.85, ADMISSION_MAX_LOOP_DELAY_MS=200, shedding on).',
    `- ${r.baselineNote}`,
    '- The load generator runs on the same cores as the server, and other work on this machine may too: compare the curves of one run, not across runs.',
    '',
  ];
  for (const c of r.curves) {
    out.push(`## ${c.mode}, ${c.rooms} room${c.rooms > 1 ? 's' : ''}`, '');
    out.push(
      '| join attempts | admitted | refused (server_busy) | latency p50 / p95 ms | rx fps p5 / median | audio underruns % | quality level | server CPU % |',
      '|---:|---:|---:|---|---|---:|---:|---:|',
    );
    for (const row of c.rows)
      out.push(
        `| ${row.attempts} | ${row.admitted} | ${row.refused} | ${row.latencyP50Ms ?? 'n/a'} / ${row.latencyP95Ms ?? 'n/a'} | ${row.fpsP5 ?? 'n/a'} / ${row.fpsMedian ?? 'n/a'} | ${row.underrunPercent ?? 'n/a'} | ${row.qualityLevel} | ${row.serverCpuPercent ?? 'n/a'} |`,
      );
    if (c.stopped) out.push('', `Stopped early: ${c.stopped}`);
    out.push('');
  }
  return out.join('\n');
}
