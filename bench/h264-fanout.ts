/**
 * Per-receiver downlink cost and added latency in the media worker: today's wrtc path (libwebrtc
 * encodes the composite once per peer connection) against the RTP-level H.264 path (one shared
 * x264 encode per profile, packetized once, sent to every H.264 receiver), in one run, interleaved.
 *
 * Each scenario: a fresh room on `standard`, one publisher sending a moving picture with a time
 * stamp (bench/stamp) and a tone, and K receive-only viewers that read the stamp out of every
 * composite they decode (latency = sent → uplink decode → composed → encoded → received → decoded):
 *   wrtc      a wrtc VP8 publisher (bench/synthetic-participant), wrtc viewers (VP8)
 *   h264      the same wrtc publisher, node-datachannel viewers offering H.264 only
 *   h264-pub  an H.264-only publisher (x264 + RtpPeer: our decoder on the uplink), H.264 viewers
 * After a warm-up the media worker's CPU (from /proc, bench/process-tree), the frames each viewer
 * received and the stamp ages are measured. Per-receiver cost = slope of worker CPU over K.
 *
 * Run: npm run build && node dist/bench/h264-fanout.js [--k=1,4,8] [--warmup=4] [--measure=10]
 *      [--variants=wrtc,h264,h264-pub]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as wrtc from '@roamhq/wrtc';
import { setLogSink } from '../workers/kernel/logger';
import { createVideoSink, type VideoSink } from '../workers/media/wrtc';
import { CompositeReader, senderPictures } from './composite-reader';
import { createRoom, signal, type ServerEndpoint } from './control-api';
import { decodeInbound, h264Sender, joinSocket, rtpSession } from './rtp-endpoint';
import { SOURCE_HEIGHT, SOURCE_WIDTH } from './media-sender';
import { TreeSampler } from './process-tree';
import { ServerProcess } from './server-process';
import { SyntheticParticipant } from './synthetic-participant';
import { benchNow } from './ticker';

const { RTCPeerConnection } = wrtc;

const VARIANTS = ['wrtc', 'h264', 'h264-pub'] as const;
type Variant = (typeof VARIANTS)[number];

interface Viewer {
  frames: number;
  readonly reader: CompositeReader;
  close(): void;
}

interface Publisher {
  readonly participantId: string;
  start(): void;
  close(): void;
}

function arg(name: string, fallback: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The publisher's picture in a grid of one, placed as the engine places it. */
function readerFor(publisherId: string): CompositeReader {
  return new CompositeReader(senderPictures([publisherId], 640, 360, SOURCE_WIDTH, SOURCE_HEIGHT), 640, 360);
}

async function wrtcViewer(
  server: ServerEndpoint,
  roomId: string,
  name: string,
  publisherId: string,
): Promise<Viewer> {
  const { socket, joined } = await joinSocket(server, roomId, name, 'viewer');
  const pc = new RTCPeerConnection({ iceServers: joined.iceServers });
  const sinks: VideoSink[] = [];
  const v: Viewer = {
    frames: 0,
    reader: readerFor(publisherId),
    close: () => {
      for (const s of sinks) {
        s.onframe = null;
        s.stop();
      }
      pc.close();
      socket.close();
    },
  };
  pc.onicecandidate = (e) => {
    const c = e.candidate;
    signal(socket, 'ice', {
      candidate: c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : null,
    }).catch(() => undefined);
  };
  socket.on('ice', (d: { candidate: RTCIceCandidateInit | null }) => {
    if (d.candidate) pc.addIceCandidate(d.candidate).catch(() => undefined);
  });
  pc.ontrack = (e) => {
    if (e.track.kind !== 'video') return;
    const sink = createVideoSink(e.track);
    sink.onframe = ({ frame }) => {
      v.frames++;
      v.reader.read(frame, benchNow());
    };
    sinks.push(sink);
  };
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const answer = await signal<{ sdp: string }>(socket, 'offer', { sdp: pc.localDescription?.sdp });
  await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  return v;
}

async function h264Viewer(
  server: ServerEndpoint,
  roomId: string,
  name: string,
  publisherId: string,
): Promise<Viewer> {
  const { peer, socket } = await rtpSession(server, roomId, name, 'viewer');
  const reader = readerFor(publisherId);
  const inbound = decodeInbound(peer, (f) => reader.read(f, benchNow()));
  return {
    get frames() {
      return inbound.frames;
    },
    reader,
    close: () => {
      peer.close();
      inbound.close();
      socket.close();
    },
  };
}

async function wrtcPublisher(server: ServerEndpoint, roomId: string): Promise<Publisher> {
  const p = new SyntheticParticipant(0, roomId, 'standard');
  await p.connect(await p.join(server, 15000));
  return { participantId: p.participantId, start: () => p.sender.start(), close: () => p.close() };
}

/** An H.264 endpoint: the bench's moving, stamped picture through x264 and an RtpPeer; Opus tone. */
async function h264Publisher(server: ServerEndpoint, roomId: string): Promise<Publisher> {
  const { peer, socket, joined } = await rtpSession(server, roomId, 'pub', 'publisher');
  const sender = h264Sender(peer);
  return {
    participantId: joined.participantId,
    start: () => sender.start(),
    close: () => {
      sender.close();
      peer.close();
      socket.close();
    },
  };
}

interface Row {
  variant: Variant;
  k: number;
  workerCpuPercent: number;
  fpsPerViewer: number;
  minFps: number;
  latencyP50: number;
  latencyP95: number;
  samples: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function scenario(
  server: ServerProcess,
  sampler: TreeSampler,
  variant: Variant,
  k: number,
  warmupS: number,
  measureS: number,
): Promise<Row> {
  const roomId = `fanout-${variant}-${k}-${Date.now().toString(36)}`;
  await createRoom(server, { roomId, profile: 'standard', maxParticipants: k + 2 });
  const publisher = await (variant === 'h264-pub' ? h264Publisher : wrtcPublisher)(server, roomId);
  publisher.start();
  const viewers: Viewer[] = [];
  try {
    for (let i = 0; i < k; i++)
      viewers.push(
        await (variant === 'wrtc' ? wrtcViewer : h264Viewer)(
          server,
          roomId,
          `v${i}`,
          publisher.participantId,
        ),
      );
    await sleep(warmupS * 1000);
    const before = viewers.map((v) => v.frames);
    for (const v of viewers) v.reader.resetCounters();
    sampler.beginWindow();
    await sleep(measureS * 1000);
    const usage = sampler.endWindow();
    const fps = viewers.map((v, i) => (v.frames - before[i]) / measureS);
    const latencies = viewers.flatMap((v) => v.reader.counters.latencies).sort((a, b) => a - b);
    return {
      variant,
      k,
      workerCpuPercent: usage.cpuByRole['media-worker'],
      fpsPerViewer: fps.reduce((a, b) => a + b, 0) / fps.length,
      minFps: Math.min(...fps),
      latencyP50: percentile(latencies, 50),
      latencyP95: percentile(latencies, 95),
      samples: latencies.length,
    };
  } finally {
    for (const v of viewers) v.close();
    publisher.close();
    // The room's worker leaves after MEDIA_IDLE_TIMEOUT_MS: the next scenario measures its own worker only.
    await sleep(2500);
  }
}

const LABEL: Record<Variant, string> = {
  wrtc: 'wrtc VP8 publisher → wrtc viewers (libwebrtc encode per peer)',
  h264: 'wrtc VP8 publisher → H.264 viewers (shared encode)',
  'h264-pub': 'H.264 publisher → H.264 viewers (our decode + shared encode)',
};

async function main(): Promise<void> {
  setLogSink(() => undefined);
  const ks = arg('k', '1,4,8').split(',').map(Number);
  const variants = arg('variants', VARIANTS.join(','))
    .split(',')
    .map((name) => {
      const v = VARIANTS.find((x) => x === name);
      if (!v) throw new Error(`unknown variant ${name}`);
      return v;
    });
  const warmupS = Number(arg('warmup', '4'));
  const measureS = Number(arg('measure', '10'));
  const server = new ServerProcess();
  await server.start({ MEDIA_IDLE_TIMEOUT_MS: '1000' });
  const sampler = new TreeSampler(server.pid);
  sampler.start();
  const rows: Row[] = [];
  try {
    for (const k of ks)
      for (const variant of variants) {
        const r = await scenario(server, sampler, variant, k, warmupS, measureS);
        rows.push(r);
        process.stdout.write(
          `${variant} K=${k}: worker ${r.workerCpuPercent.toFixed(1)} % of a core, ${r.fpsPerViewer.toFixed(1)} fps/viewer (min ${r.minFps.toFixed(1)}), latency p50 ${r.latencyP50.toFixed(0)} / p95 ${r.latencyP95.toFixed(0)} ms (${r.samples})\n`,
        );
      }
  } finally {
    await server.stop();
  }
  const lines = [
    `| receivers | path | media worker CPU % of one core | fps per viewer (min) | latency p50 / p95 ms |`,
    `| --: | --- | --: | --: | --: |`,
    ...rows.map(
      (r) =>
        `| ${r.k} | ${LABEL[r.variant]} | ${r.workerCpuPercent.toFixed(1)} | ${r.fpsPerViewer.toFixed(1)} (${r.minFps.toFixed(1)}) | ${r.latencyP50.toFixed(0)} / ${r.latencyP95.toFixed(0)} |`,
    ),
  ];
  const lo = Math.min(...ks);
  const hi = Math.max(...ks);
  if (hi > lo) {
    lines.push('');
    for (const variant of variants) {
      const a = rows.find((r) => r.variant === variant && r.k === lo);
      const b = rows.find((r) => r.variant === variant && r.k === hi);
      if (!a || !b) continue;
      const slope = (b.workerCpuPercent - a.workerCpuPercent) / (hi - lo);
      lines.push(`- ${variant}: ${slope.toFixed(2)} % of a core per extra receiver (K=${lo}→${hi})`);
    }
  }
  const out = lines.join('\n') + '\n';
  process.stdout.write('\n' + out);
  const dir = path.resolve(__dirname, '../../bench/results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'h264-fanout.md'), out);
  process.exit(0); // wrtc and node-datachannel hold native handles (docs/rtp-stack.md)
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
