/**
 * `npm run bench:audio`: what an audio-only room costs (overload issue, item 4). N wrtc
 * participants join one room offering audio only (no video m-line), each sending a sine tone of
 * its own frequency at 48 kHz (bench/tones.ts); the server mixes a mix-minus per listener.
 * Measured over a window: CPU of the serving process tree (% of one core), its peak RSS, the Opus
 * rate each listener receives, and for each speaker how far its own tone is below the others' in
 * what it hears (own-voice suppression, dB, over the last 4 s and the last 1 s). The reference,
 * Janus 1.1.2 AudioBridge (the issue gives 34 % of one core, RSS 33 MB, 31 dB), is measured in
 * the same run on the same clients when Debian's `janus` is installed (bench/janus.ts).
 *
 *   node dist/bench/audio-room.js [--n=16] [--speakers=K] [--stacks=janus,wrtc,rtp]
 *     [--tones=spread|grid] [--analysis=4] [--janus-bitrate=BPS] [--warmup=5] [--measure=15]
 *     [--env=K:V,K:V]
 *
 * Each run is a row: `--stacks` says what serves the audio-only participants (`janus`; ours with
 * AUDIO_ONLY_STACK `wrtc` = a libwebrtc peer connection each, or `rtp` = the RTP-level member),
 * run one after the other; `--speakers=K`: only the first K send a tone, the others a silent
 * track (the shared full-mix encode serves them). The default run: Janus at its own bitrate and
 * at ours, wrtc and rtp with everyone speaking, then rtp with 4 speakers, and the issue's targets
 * judged on them. Writes bench/results/audio-room.{json,md} for the default run
 * (audio-room-grid with `--tones=grid`), audio-room-partial otherwise.
 */
import * as wrtc from '@roamhq/wrtc';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import type { JoinedPayload } from '../workers/protocol/signaling';
// Our downlinks' Opus rate: the second Janus row of the default run is set to it.
import { DOWNLINK_OPUS } from '../workers/media/shared-mix-encoder';
import {
  createRoom,
  metricSum,
  provisionJoin,
  readMetrics,
  signal,
  type ServerEndpoint,
} from './control-api';
import { TreeSampler } from './process-tree';
import { JanusProcess, JanusSession, janusMissing } from './janus';
import { ServerProcess } from './server-process';
import { audioRoomTargets } from './targets';
import { percentile } from './stats';
import { ownToneSuppressionDb, toneHz, type ToneSet } from './tones';

const RESULTS_DIR = path.resolve(__dirname, '../../bench/results');
const RATE = 48000;
const FRAME = RATE / 100;
/** Low enough that 15 tones summed never clip (clipping would put distortion at every frequency). */
const AMPLITUDE = 0.05 * 32767;
/** What the ring keeps of each listener's audio: the longest analysis window allowed. */
const RING_SECONDS = 8;
/**
 * The suppression is read from the last 4 s heard: a 1 s window's Goertzel bin (≈ 2 Hz with the
 * Hann window) takes in four times the noise power of a 4 s one's (6 dB); the tones are steady,
 * so the longer window only narrows the bin. Both are reported.
 */
export const DEFAULT_ANALYSIS_SECONDS = 4;

const { RTCPeerConnection } = wrtc;
const { RTCAudioSource, RTCAudioSink } = wrtc.nonstandard;

class AudioParticipant {
  socket: Socket | null = null;
  janus: JanusSession | null = null;
  pc: InstanceType<typeof RTCPeerConnection> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sink: InstanceType<typeof RTCAudioSink> | null = null;
  private readonly ring = new Int16Array(RATE * RING_SECONDS);
  private written = 0;
  samplesReceived = 0;

  constructor(
    readonly index: number,
    readonly roomId: string,
    /** False: sends a silent track (a listener who does not speak). */
    readonly speaks: boolean,
    readonly tones: ToneSet,
  ) {}

  /** Our server: a join token over REST, then the browser's signaling over socket.io. */
  async join(server: ServerEndpoint): Promise<JoinedPayload> {
    const token = await provisionJoin(server, this.roomId, `audio-${this.index}`);
    const socket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return signal<JoinedPayload>(socket, 'join', { roomId: this.roomId, token });
  }

  async connect(joined: JoinedPayload): Promise<void> {
    const socket = this.socket as Socket;
    const pc = new RTCPeerConnection({ iceServers: joined.iceServers });
    this.pc = pc;
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      const candidate = c
        ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }
        : null;
      signal(socket, 'ice', { candidate }).catch(() => undefined);
    };
    socket.on('ice', (d: { candidate: RTCIceCandidateInit | null }) => {
      if (d.candidate) pc.addIceCandidate(d.candidate).catch(() => undefined);
    });
    socket.on('offer', (d: { sdp: string }) => {
      void (async () => {
        await pc.setRemoteDescription({ type: 'offer', sdp: d.sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        await signal(socket, 'answer', { sdp: pc.localDescription?.sdp });
      })().catch(() => undefined);
    });
    this.attachMedia(pc);
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await signal<{ sdp: string }>(socket, 'offer', { sdp: pc.localDescription?.sdp });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  /**
   * Janus AudioBridge, as its own demo page does: join the room, then `configure` with an
   * offer (candidates gathered into it: Janus answers with its own in the SDP).
   */
  async joinJanus(url: string, room: number): Promise<void> {
    const janus = await JanusSession.open(url);
    this.janus = janus;
    await janus.message({ request: 'join', room, display: `audio-${this.index}` });
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    this.attachMedia(pc);
    const gathered = new Promise<void>((resolve) => {
      pc.onicecandidate = (e) => {
        if (!e.candidate) resolve();
      };
    });
    await pc.setLocalDescription(await pc.createOffer());
    await Promise.race([gathered, sleep(5000)]);
    const reply = await janus.message(
      { request: 'configure', muted: false },
      { type: 'offer', sdp: pc.localDescription?.sdp ?? '' },
    );
    if (reply.jsep?.type !== 'answer')
      throw new Error(`janus configure: no answer (${JSON.stringify(reply.data)})`);
    await pc.setRemoteDescription({ type: 'answer', sdp: reply.jsep.sdp });
  }

  /** The tone (or silence) up, what is heard into the ring. */
  private attachMedia(pc: InstanceType<typeof RTCPeerConnection>): void {
    pc.ontrack = (e) => {
      if (e.track.kind !== 'audio') return;
      const sink = new RTCAudioSink(e.track);
      this.sink = sink;
      sink.ondata = (d: { samples: Int16Array; channelCount: number }) => {
        const ch = d.channelCount;
        for (let i = 0; i < d.samples.length; i += ch) {
          this.ring[this.written % this.ring.length] = d.samples[i];
          this.written++;
        }
        this.samplesReceived += d.samples.length / ch;
      };
    };
    this.startTone(pc);
  }

  private startTone(pc: InstanceType<typeof RTCPeerConnection>): void {
    const source = new RTCAudioSource();
    pc.addTrack(source.createTrack());
    const samples = new Int16Array(FRAME);
    const data = { samples, sampleRate: RATE, bitsPerSample: 16, channelCount: 1, numberOfFrames: FRAME };
    const step = (2 * Math.PI * toneHz(this.index, this.tones)) / RATE;
    let phase = 0;
    const started = Date.now();
    let sent = 0;
    this.timer = setInterval(() => {
      for (const due = Math.floor((Date.now() - started) / 10); sent < due; sent++) {
        for (let i = 0; i < FRAME; i++) {
          samples[i] = this.speaks ? Math.round(AMPLITUDE * Math.sin(phase)) : 0;
          phase += step;
        }
        phase %= 2 * Math.PI;
        source.onData(data);
      }
    }, 10);
  }

  /** Audio payload bytes received so far (getStats, inbound-rtp): the downlink's Opus rate. */
  async audioBytesReceived(): Promise<number> {
    if (!this.pc) return 0;
    let bytes = 0;
    const report = (await this.pc.getStats()) as Map<
      string,
      { type: string; kind?: string; bytesReceived?: number }
    >;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') bytes += s.bytesReceived ?? 0;
    });
    return bytes;
  }

  /** The last `seconds` heard: own tone vs the mean of the other speakers', in dB below them. */
  suppressionDb(speakers: number, seconds: number): number {
    return ownToneSuppressionDb(this.lastHeard(seconds), RATE, this.index, speakers, this.tones);
  }

  private lastHeard(seconds: number): Int16Array {
    const len = Math.min(Math.round(RATE * seconds), this.ring.length);
    const x = new Int16Array(len);
    for (let i = 0; i < len; i++)
      x[i] = this.ring[(this.written - len + i + this.ring.length * 4) % this.ring.length];
    return x;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.sink) {
      this.sink.ondata = null;
      this.sink.stop();
    }
    this.pc?.close();
    this.socket?.disconnect();
    this.janus?.close();
  }
}

export type AudioStack = 'wrtc' | 'rtp' | 'janus';

interface Options {
  n: number;
  speakers: number;
  /** Who serves the room: our server with AUDIO_ONLY_STACK=wrtc or rtp, or Janus AudioBridge. */
  stack: AudioStack;
  tones: ToneSet;
  /** Seconds of what each listener heard last that the suppression is read from. */
  analysisSeconds: number;
  /** Janus rooms' `default_bitrate` (its Opus encoders' rate); absent: Janus's default. */
  janusBitrateBps?: number;
  warmupMs: number;
  measureMs: number;
  env: Record<string, string>;
}

export interface AudioRoomResult {
  date: string;
  participants: number;
  speakers: number;
  stack: AudioStack;
  /** Janus only: the room's `default_bitrate`, null for Janus's own choice. */
  janusBitrateBps: number | null;
  tones: ToneSet;
  connected: number;
  env: Record<string, string>;
  windowSeconds: number;
  serverCpuPercent: number;
  cpuPercentPerParticipant: number;
  cpuByRole: Record<string, number>;
  peakRssMb: number;
  /** Own tone below the others', over the last `analysisSeconds` heard. */
  suppressionDb: { min: number; median: number };
  analysisSeconds: number;
  /** The same over the last second only (the earlier runs' window). */
  suppression1sDb: { min: number; median: number };
  /** Median over the listeners of the audio payload rate each received, kbit/s (no RTP/UDP/IP headers). */
  downlinkKbps: number;
  /** Our server's underrun ticks per publisher tick, %; null for Janus (not exported). */
  audioUnderruns: number | null;
  loadavg: number[];
  cores: number;
}

/** What runs the room: our server's process tree or Janus's process. */
interface AudioServer {
  pid: number;
  join(p: AudioParticipant): Promise<void>;
  underrunTicks(): Promise<number | null>;
  stop(): Promise<void>;
}

async function startOurs(opts: Options): Promise<AudioServer> {
  const server = new ServerProcess();
  await server.start({ ...opts.env, AUDIO_ONLY_STACK: opts.stack });
  const roomId = 'bench-audio';
  await createRoom(server, { roomId, profile: 'standard', maxParticipants: opts.n });
  return {
    pid: server.pid,
    join: async (p) => {
      const joined = await p.join(server);
      await p.connect(joined);
    },
    underrunTicks: () =>
      readMetrics(server)
        .then((m) => metricSum(m, 'mcu_audio_underruns'))
        .catch(() => null),
    stop: () => server.stop(),
  };
}

/**
 * Janus AudioBridge with the room as its demo creates it, but mixing at 48 kHz (the issue's
 * load); every other setting is Janus's default (Opus encoder `quality` 4, i.e. complexity 4,
 * and Opus's own bitrate choice).
 */
async function startJanus(opts: Options): Promise<AudioServer> {
  const janus = new JanusProcess();
  await janus.start();
  const room = 1234;
  const admin = await JanusSession.open(janus.url);
  try {
    await admin.message({
      request: 'create',
      room,
      sampling_rate: RATE,
      audiolevel_event: false,
      ...(opts.janusBitrateBps ? { default_bitrate: opts.janusBitrateBps } : {}),
    });
  } finally {
    admin.close();
  }
  return {
    pid: janus.pid,
    join: (p) => p.joinJanus(janus.url, room),
    underrunTicks: () => Promise.resolve(null),
    stop: () => janus.stop(),
  };
}

export async function runAudioRoom(opts: Options, progress: (l: string) => void): Promise<AudioRoomResult> {
  const ps: AudioParticipant[] = [];
  let server: AudioServer | null = null;
  let sampler: TreeSampler | null = null;
  try {
    server = opts.stack === 'janus' ? await startJanus(opts) : await startOurs(opts);
    sampler = new TreeSampler(server.pid);
    sampler.start();
    const connecting: Promise<void>[] = [];
    for (let i = 0; i < opts.n; i++) {
      const p = new AudioParticipant(i, 'bench-audio', i < opts.speakers, opts.tones);
      ps.push(p);
      connecting.push(server.join(p));
      // One join at a time up to its signaling; the media connects in parallel.
      await sleep(50);
    }
    await Promise.all(connecting);
    const deadline = Date.now() + 30000;
    while (ps.some((p) => p.samplesReceived < RATE) && Date.now() < deadline) await sleep(200);
    const connected = ps.filter((p) => p.samplesReceived >= RATE).length;
    progress(`${connected}/${opts.n} participants hear the room; warming up ${opts.warmupMs / 1000} s`);
    await sleep(opts.warmupMs);
    const u0 = await server.underrunTicks();
    const bytes0 = await Promise.all(ps.map((p) => p.audioBytesReceived()));
    sampler.beginWindow();
    const t0 = performance.now();
    // The window must hold the seconds the suppression is read from.
    await sleep(Math.max(opts.measureMs, opts.analysisSeconds * 1000));
    const usage = sampler.endWindow();
    const seconds = (performance.now() - t0) / 1000;
    const u1 = await server.underrunTicks();
    const bytes1 = await Promise.all(ps.map((p) => p.audioBytesReceived()));
    const kbps = bytes1.map((b, i) => (8 * (b - bytes0[i])) / 1000 / seconds);
    const speakers = ps.filter((p) => p.speaks);
    const sup = speakers.map((p) => p.suppressionDb(opts.speakers, opts.analysisSeconds));
    const sup1 = speakers.map((p) => p.suppressionDb(opts.speakers, 1));
    const r2 = (x: number) => Math.round(x * 10) / 10;
    const minMedian = (xs: number[]) => ({ min: r2(Math.min(...xs)), median: r2(percentile(xs, 50)) });
    return {
      date: new Date().toISOString(),
      participants: opts.n,
      speakers: opts.speakers,
      stack: opts.stack,
      janusBitrateBps: opts.stack === 'janus' ? (opts.janusBitrateBps ?? null) : null,
      tones: opts.tones,
      connected,
      env: opts.env,
      windowSeconds: r2(seconds),
      serverCpuPercent: r2(usage.cpuPercent),
      cpuPercentPerParticipant: r2(usage.cpuPercent / opts.n),
      cpuByRole: Object.fromEntries(Object.entries(usage.cpuByRole).map(([k, v]) => [k, r2(v)])),
      peakRssMb: r2(usage.peakRssMb),
      suppressionDb: minMedian(sup),
      analysisSeconds: opts.analysisSeconds,
      suppression1sDb: minMedian(sup1),
      downlinkKbps: r2(percentile(kbps, 50)),
      // Underrun ticks per publisher tick in the window.
      audioUnderruns: u0 === null || u1 === null ? null : r2((100 * (u1 - u0)) / (opts.n * seconds * 100)),
      loadavg: os.loadavg().map(r2),
      cores: os.cpus().length,
    };
  } finally {
    sampler?.stop();
    for (const p of ps) p.close();
    await server?.stop();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function markdown(
  rows: readonly AudioRoomResult[],
  command: string,
  notes: readonly string[] = [],
): string {
  const r0 = rows[0];
  return [
    '# Audio-only room',
    '',
    `- Date: ${r0.date}; ${r0.cores} cores; load average at the end ${rows[rows.length - 1].loadavg.join(' / ')}`,
    `- Command: \`${command}\``,
    `- N wrtc participants, audio only (no video m-line), one tone each at 48 kHz (${r0.tones} tone set; silent track for non-speakers); ${r0.windowSeconds} s window per row, rows run one after the other`,
    `- Suppression: each speaker's own tone below the mean of the other speakers' tones in what it hears (Hann-windowed Goertzel over the last ${r0.analysisSeconds} s heard, and over the last 1 s)`,
    ...notes.map((n) => `- ${n}`),
    '',
    markdownTable(rows),
    '',
    ...targetsTable(rows),
    'Reference given by issue 12: Janus 1.1.2 AudioBridge, 16 participants: 34 % of one core, 2.1 % per participant, RSS 33 MB, own-voice suppression 31 dB (the `janus` rows above measure it in the same run).',
    '',
  ].join('\n');
}

/** Issue #12's audio targets over the rows, when the rows hold our RTP-level room of everyone speaking. */
function targetsTable(rows: readonly AudioRoomResult[]): string[] {
  const checks = audioRoomTargets(rows);
  if (checks.length === 0) return [];
  return [
    '| target | measured | verdict |',
    '|---|---|---|',
    ...checks.map((c) => `| ${c.target} | ${c.measured} | ${c.verdict} |`),
    '',
  ];
}

export function markdownTable(rows: readonly AudioRoomResult[]): string {
  const roles = (r: AudioRoomResult) =>
    r.stack === 'janus' ? 'one process' : `${r.cpuByRole['media-worker']} / ${r.cpuByRole['control-plane']}`;
  return [
    '| stack | N | speakers | tones | connected | server tree CPU % of one core | per participant | media worker / control plane % | peak RSS MB | downlink Opus kbit/s | own-voice suppression min / median dB | same, last 1 s | server underruns % |',
    '|---|---:|---:|---|---:|---:|---:|---|---:|---:|---|---|---:|',
    ...rows.map(
      (r) =>
        `| ${stackLabel(r)} | ${r.participants} | ${r.speakers} | ${r.tones} | ${r.connected} | ${r.serverCpuPercent} | ${r.cpuPercentPerParticipant} | ${roles(r)} | ${r.peakRssMb} | ${r.downlinkKbps} | ${r.suppressionDb.min} / ${r.suppressionDb.median} (${r.analysisSeconds} s) | ${r.suppression1sDb.min} / ${r.suppression1sDb.median} | ${r.audioUnderruns ?? '—'} |`,
    ),
  ].join('\n');
}

function stackLabel(r: AudioRoomResult): string {
  if (r.stack !== 'janus') return r.stack;
  return r.janusBitrateBps ? `janus, bitrate ${r.janusBitrateBps / 1000}k` : 'janus, its default bitrate';
}

const STACKS: readonly AudioStack[] = ['janus', 'wrtc', 'rtp'];

async function main(): Promise<void> {
  const base: Options = {
    n: 16,
    speakers: 0,
    stack: 'rtp',
    tones: 'spread',
    analysisSeconds: DEFAULT_ANALYSIS_SECONDS,
    warmupMs: 5000,
    measureMs: 15000,
    env: {},
  };
  let stacks: AudioStack[] | null = null;
  let isDefault = true;
  const usage =
    '--n=N, --speakers=K, --stacks=janus,wrtc,rtp, --tones=spread|grid, --analysis=S, --janus-bitrate=BPS, --warmup=S, --measure=S, --env=K:V,K:V';
  for (const arg of process.argv.slice(2)) {
    const [k, v] = arg.split('=', 2);
    if (k === '--n' && Number(v) >= 2) base.n = Number(v);
    else if (k === '--speakers' && Number(v) >= 2) base.speakers = Number(v);
    else if (k === '--stacks' && v && v.split(',').every((x) => STACKS.includes(x as AudioStack)))
      stacks = v.split(',') as AudioStack[];
    else if (k === '--tones' && (v === 'spread' || v === 'grid')) base.tones = v;
    else if (k === '--janus-bitrate' && Number(v) >= 6000) base.janusBitrateBps = Number(v);
    else if (k === '--analysis' && Number(v) >= 1 && Number(v) <= RING_SECONDS)
      base.analysisSeconds = Number(v);
    else if (k === '--warmup' && Number(v) > 0) base.warmupMs = Number(v) * 1000;
    else if (k === '--measure' && Number(v) > 0) base.measureMs = Number(v) * 1000;
    else if (k === '--env' && v)
      for (const kv of v.split(',')) {
        const [ek, ev] = kv.split(':', 2);
        base.env[ek] = ev ?? '';
      }
    else throw new Error(`unknown option ${arg} (${usage})`);
    if (k !== '--tones' && k !== '--analysis') isDefault = false;
  }
  const notes: string[] = [];
  const runs: Options[] = [];
  const withStack = (stack: AudioStack, speakers: number): Options => ({
    ...base,
    stack,
    speakers: Math.min(speakers, base.n),
  });
  if (isDefault) {
    const missing = janusMissing();
    if (missing) notes.push(`Janus row skipped: ${missing}`);
    else
      runs.push(withStack('janus', base.n), {
        ...withStack('janus', base.n),
        janusBitrateBps: DOWNLINK_OPUS.bitrateBps,
      });
    runs.push(withStack('wrtc', base.n), withStack('rtp', base.n), withStack('rtp', 4));
  } else for (const stack of stacks ?? ['rtp']) runs.push(withStack(stack, base.speakers || base.n));
  const rows: AudioRoomResult[] = [];
  for (const opts of runs) {
    const tag = `${opts.stack}, ${opts.speakers} of ${opts.n} speaking`;
    rows.push(await runAudioRoom(opts, (l) => process.stderr.write(`[audio-room ${tag}] ${l}\n`)));
    process.stderr.write(markdownTable(rows.slice(-1)) + '\n');
  }
  const stem = isDefault
    ? base.tones === 'spread'
      ? 'audio-room'
      : `audio-room-${base.tones}`
    : 'audio-room-partial';
  const command = `npm run bench:audio${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.json`), JSON.stringify(rows, null, 2) + '\n');
  fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.md`), markdown(rows, command, notes));
  process.stdout.write(markdown(rows, command, notes));
  process.exit(0);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`[audio-room] failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
