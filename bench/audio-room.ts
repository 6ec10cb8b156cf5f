/**
 * `npm run bench:audio`: what an audio-only room costs (overload issue, item 4). N wrtc
 * participants join one room offering audio only (no video m-line), each sending a sine tone of
 * its own frequency at 48 kHz; the server mixes a mix-minus per listener. Measured over a window:
 * CPU of the server's whole process tree (% of one core), its peak RSS, and for each listener
 * how far its own tone is below the others' in what it hears (own-voice suppression, dB).
 * Reference: Janus 1.1.2 AudioBridge, same client load (16, one room): 34 % of one core, RSS
 * 33 MB, own-voice suppression 31 dB.
 *
 *   node dist/bench/audio-room.js [--n=16] [--speakers=K] [--stacks=wrtc,rtp] [--warmup=5]
 *     [--measure=15] [--env=K:V,K:V]
 *
 * Each run is a row: `--stacks` says which stacks serve the audio-only participants
 * (AUDIO_ONLY_STACK: `wrtc` = a libwebrtc peer connection each, `rtp` = the RTP-level member),
 * run one after the other; `--speakers=K`: only the first K send a tone, the others a silent
 * track (the shared full-mix encode serves them). The default run: wrtc and rtp with everyone
 * speaking, then rtp with 4 speakers. Writes bench/results/audio-room.{json,md} for the default
 * run, audio-room-partial otherwise.
 */
import * as wrtc from '@roamhq/wrtc';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import type { JoinedPayload } from '../workers/protocol/signaling';
import {
  createRoom,
  metricSum,
  provisionJoin,
  readMetrics,
  signal,
  type ServerEndpoint,
} from './control-api';
import { TreeSampler } from './process-tree';
import { ServerProcess } from './server-process';
import { percentile } from './stats';

const RESULTS_DIR = path.resolve(__dirname, '../../bench/results');
const RATE = 48000;
const FRAME = RATE / 100;
/** Low enough that 15 tones summed never clip (clipping would put distortion at every frequency). */
const AMPLITUDE = 0.05 * 32767;
const RING_SECONDS = 2;

const { RTCPeerConnection } = wrtc;
const { RTCAudioSource, RTCAudioSink } = wrtc.nonstandard;

function toneHz(i: number): number {
  // 16 tones 80 Hz apart between 300 and 1500 Hz: far apart for a 1 s Goertzel, inside Opus's band.
  return 300 + i * 80;
}

/**
 * Amplitude of `freq` in `x` (relative to full scale): Goertzel over the whole buffer with a
 * Hann window, so that the other 15 tones' spectral leakage does not read as the own tone.
 */
function goertzel(x: Int16Array, rate: number, freq: number): number {
  const k = (2 * Math.PI * freq) / rate;
  const c = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    const s = (w * x[i]) / 32768 + c * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const power = s1 * s1 + s2 * s2 - c * s1 * s2;
  return (4 * Math.sqrt(Math.max(0, power))) / n;
}

class AudioParticipant {
  socket: Socket | null = null;
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
  ) {}

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
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await signal<{ sdp: string }>(socket, 'offer', { sdp: pc.localDescription?.sdp });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  private startTone(pc: InstanceType<typeof RTCPeerConnection>): void {
    const source = new RTCAudioSource();
    pc.addTrack(source.createTrack());
    const samples = new Int16Array(FRAME);
    const data = { samples, sampleRate: RATE, bitsPerSample: 16, channelCount: 1, numberOfFrames: FRAME };
    const step = (2 * Math.PI * toneHz(this.index)) / RATE;
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

  /** The last second heard: own tone vs the mean of the other speakers', in dB below them. */
  suppressionDb(speakers: number): number {
    const len = RATE;
    const x = new Int16Array(len);
    for (let i = 0; i < len; i++)
      x[i] = this.ring[(this.written - len + i + this.ring.length * 4) % this.ring.length];
    const own = goertzel(x, RATE, toneHz(this.index));
    let others = 0;
    for (let j = 0; j < speakers; j++) if (j !== this.index) others += goertzel(x, RATE, toneHz(j));
    others /= speakers - 1;
    return 20 * Math.log10(others / Math.max(own, 1e-9));
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.sink) {
      this.sink.ondata = null;
      this.sink.stop();
    }
    this.pc?.close();
    this.socket?.disconnect();
  }
}

interface Options {
  n: number;
  speakers: number;
  warmupMs: number;
  measureMs: number;
  env: Record<string, string>;
}

export interface AudioRoomResult {
  date: string;
  participants: number;
  speakers: number;
  stack: 'wrtc' | 'rtp';
  connected: number;
  env: Record<string, string>;
  windowSeconds: number;
  serverCpuPercent: number;
  cpuPercentPerParticipant: number;
  cpuByRole: Record<string, number>;
  peakRssMb: number;
  suppressionDb: { min: number; median: number };
  audioUnderruns: number;
  loadavg: number[];
  cores: number;
}

export async function runAudioRoom(opts: Options, progress: (l: string) => void): Promise<AudioRoomResult> {
  const server = new ServerProcess();
  const ps: AudioParticipant[] = [];
  const sampler = { s: null as TreeSampler | null };
  try {
    await server.start(opts.env);
    sampler.s = new TreeSampler(server.pid);
    sampler.s.start();
    const roomId = 'bench-audio';
    await createRoom(server, { roomId, profile: 'standard', maxParticipants: opts.n });
    const connecting: Promise<void>[] = [];
    for (let i = 0; i < opts.n; i++) {
      const p = new AudioParticipant(i, roomId, i < opts.speakers);
      ps.push(p);
      const joined = await p.join(server);
      connecting.push(p.connect(joined));
    }
    await Promise.all(connecting);
    const deadline = Date.now() + 30000;
    while (ps.some((p) => p.samplesReceived < RATE) && Date.now() < deadline) await sleep(200);
    const connected = ps.filter((p) => p.samplesReceived >= RATE).length;
    progress(`${connected}/${opts.n} participants hear the room; warming up ${opts.warmupMs / 1000} s`);
    await sleep(opts.warmupMs);
    const m0 = await readMetrics(server).catch(() => new Map<string, number>());
    sampler.s.beginWindow();
    const t0 = performance.now();
    await sleep(opts.measureMs);
    const usage = sampler.s.endWindow();
    const seconds = (performance.now() - t0) / 1000;
    const m1 = await readMetrics(server).catch(() => new Map<string, number>());
    const sup = ps.filter((p) => p.speaks).map((p) => p.suppressionDb(opts.speakers));
    const under = metricSum(m1, 'mcu_audio_underruns') - metricSum(m0, 'mcu_audio_underruns');
    const r2 = (x: number) => Math.round(x * 10) / 10;
    return {
      date: new Date().toISOString(),
      participants: opts.n,
      speakers: opts.speakers,
      stack: opts.env.AUDIO_ONLY_STACK === 'wrtc' ? 'wrtc' : 'rtp',
      connected,
      env: opts.env,
      windowSeconds: r2(seconds),
      serverCpuPercent: r2(usage.cpuPercent),
      cpuPercentPerParticipant: r2(usage.cpuPercent / opts.n),
      cpuByRole: Object.fromEntries(Object.entries(usage.cpuByRole).map(([k, v]) => [k, r2(v)])),
      peakRssMb: r2(usage.peakRssMb),
      suppressionDb: { min: r2(Math.min(...sup)), median: r2(percentile(sup, 50)) },
      // Underrun ticks per publisher tick in the window.
      audioUnderruns: r2((100 * under) / (opts.n * seconds * 100)),
      loadavg: os.loadavg().map(r2),
      cores: os.cpus().length,
    };
  } finally {
    sampler.s?.stop();
    for (const p of ps) p.close();
    await server.stop();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function markdown(rows: readonly AudioRoomResult[], command: string): string {
  const r0 = rows[0];
  return [
    '# Audio-only room',
    '',
    `- Date: ${r0.date}; ${r0.cores} cores; load average at the end ${rows[rows.length - 1].loadavg.join(' / ')}`,
    `- Command: \`${command}\``,
    `- N wrtc participants, audio only (no video m-line), one tone each at 48 kHz (silent track for non-speakers); ${r0.windowSeconds} s window per row, rows run one after the other`,
    '',
    markdownTable(rows),
    '',
    'Reference (issue 12): Janus 1.1.2 AudioBridge, 16 participants: 34 % of one core, 2.1 % per participant, RSS 33 MB, own-voice suppression 31 dB.',
    '',
  ].join('\n');
}

export function markdownTable(rows: readonly AudioRoomResult[]): string {
  return [
    '| stack | N | speakers | connected | server tree CPU % of one core | per participant | media worker / control plane % | peak RSS MB | own-voice suppression min / median dB | server underruns % |',
    '|---|---:|---:|---:|---:|---:|---|---:|---|---:|',
    ...rows.map(
      (r) =>
        `| ${r.stack} | ${r.participants} | ${r.speakers} | ${r.connected} | ${r.serverCpuPercent} | ${r.cpuPercentPerParticipant} | ${r.cpuByRole['media-worker']} / ${r.cpuByRole['control-plane']} | ${r.peakRssMb} | ${r.suppressionDb.min} / ${r.suppressionDb.median} | ${r.audioUnderruns} |`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const base: Options = { n: 16, speakers: 0, warmupMs: 5000, measureMs: 15000, env: {} };
  let stacks: Array<'wrtc' | 'rtp'> | null = null;
  let isDefault = true;
  for (const arg of process.argv.slice(2)) {
    const [k, v] = arg.split('=', 2);
    if (k === '--n' && Number(v) >= 2) base.n = Number(v);
    else if (k === '--speakers' && Number(v) >= 2) base.speakers = Number(v);
    else if (k === '--stacks' && v && v.split(',').every((x) => x === 'wrtc' || x === 'rtp'))
      stacks = v.split(',') as Array<'wrtc' | 'rtp'>;
    else if (k === '--warmup' && Number(v) > 0) base.warmupMs = Number(v) * 1000;
    else if (k === '--measure' && Number(v) > 0) base.measureMs = Number(v) * 1000;
    else if (k === '--env' && v)
      for (const kv of v.split(',')) {
        const [ek, ev] = kv.split(':', 2);
        base.env[ek] = ev ?? '';
      }
    else
      throw new Error(
        `unknown option ${arg} (--n=N, --speakers=K, --stacks=wrtc,rtp, --warmup=S, --measure=S, --env=K:V,K:V)`,
      );
    isDefault = false;
  }
  const runs: Options[] = [];
  const withStack = (stack: 'wrtc' | 'rtp', speakers: number): Options => ({
    ...base,
    speakers: Math.min(speakers, base.n),
    env: { ...base.env, AUDIO_ONLY_STACK: stack },
  });
  if (isDefault) runs.push(withStack('wrtc', base.n), withStack('rtp', base.n), withStack('rtp', 4));
  else for (const stack of stacks ?? ['rtp']) runs.push(withStack(stack, base.speakers || base.n));
  const rows: AudioRoomResult[] = [];
  for (const opts of runs) {
    const tag = `${opts.env.AUDIO_ONLY_STACK}, ${opts.speakers} of ${opts.n} speaking`;
    rows.push(await runAudioRoom(opts, (l) => process.stderr.write(`[audio-room ${tag}] ${l}\n`)));
    process.stderr.write(markdownTable(rows.slice(-1)) + '\n');
  }
  const stem = isDefault ? 'audio-room' : 'audio-room-partial';
  const command = `npm run bench:audio${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.json`), JSON.stringify(rows, null, 2) + '\n');
  fs.writeFileSync(path.join(RESULTS_DIR, `${stem}.md`), markdown(rows, command));
  process.stdout.write(markdown(rows, command));
  process.exit(0);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`[audio-room] failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
