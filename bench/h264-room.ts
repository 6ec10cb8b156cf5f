/**
 * The `h264-<N>` scenario of `npm run bench`: one room on `standard` of N H.264-only WebRTC
 * participants (issue #14), each a node-datachannel `RtpPeer` that sends the benchmark's moving,
 * stamped picture through x264 (and an Opus tone) and decodes the composite it receives with our
 * decoder, reading every sender's stamp out of it (bench/composite-reader). The server takes them
 * through its RTP-level path: our H.264 decode of each uplink, the shared x264 encode of the
 * composite (one per profile), packetized once for all. Reported like the wrtc scenarios: server
 * CPU (whole tree and media worker) per participant, received fps, latency p50/p95, and, when the
 * same run has `std-<N>`, the ratio to a VP8 (wrtc) participant's CPU. No "added latency" against
 * the wrtc baseline: that baseline's median includes libwebrtc's receive jitter buffer, which no
 * H.264 endpoint here has, so the difference would understate (even go below zero); the stamp age
 * itself (capture → x264 → uplink → our decode → compose → shared encode → decode) bounds what
 * the server adds from above.
 */
import { CompositeReader, senderPictures } from './composite-reader';
import { createRoom } from './control-api';
import { decodeInbound, h264Sender, quietRtpLogs, rtpSession } from './rtp-endpoint';
import { SOURCE_HEIGHT, SOURCE_WIDTH } from './media-sender';
import { TreeSampler } from './process-tree';
import type { RunOptions } from './scenario';
import { ServerProcess } from './server-process';
import { percentile, round } from './stats';
import { benchNow } from './ticker';

type N = number | null;

export interface H264RoomResult {
  key: string;
  title: string;
  status: 'ok' | 'failed';
  reason?: string;
  participants: number;
  measuredSeconds: N;
  /** Server process tree, % of one core. */
  serverCpuPercent: N;
  serverCpuPerParticipant: N;
  mediaWorkerCpuPercent: N;
  /** This process (N x264 encodes and N decodes of the composite), % of one core. */
  benchCpuPercent: N;
  /** Decoded composite frames per second per participant: lowest and median. */
  rxFpsMin: N;
  rxFpsMedian: N;
  latencyP50Ms: N;
  latencyP95Ms: N;
  latencySamples: number;
  /**
   * Sessions whose DTLS set-up between two libdatachannel peers failed and were joined again
   * (a known libdatachannel-to-itself issue, docs/rtp-stack.md; not a browser's case).
   */
  dtlsRetries: number;
  /** serverCpuPerParticipant / the same run's std-<N> (VP8 wrtc participants); run.ts fills it. */
  cpuRatioToVp8: N;
  serverProblems: string[];
}

const MEDIA_TIMEOUT_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Participant {
  readonly participantId: string;
  decoded: number;
  reader: CompositeReader | null;
  close(): void;
}

export async function runH264Room(key: string, n: number, opts: RunOptions): Promise<H264RoomResult> {
  const title = `1 room x ${n}, standard, H.264 participants`;
  const server = new ServerProcess();
  const participants: Participant[] = [];
  let sampler: TreeSampler | null = null;
  const teardown = async (): Promise<void> => {
    sampler?.stop();
    for (const p of participants) p.close();
    await server.stop();
  };
  const untrack = opts.track(teardown);
  const logs = quietRtpLogs();
  try {
    await server.start({});
    sampler = new TreeSampler(server.pid);
    sampler.start();
    const roomId = `bench-${key}`;
    await createRoom(server, { roomId, profile: 'standard', maxParticipants: n + 4 });
    opts.progress(`server pid ${server.pid}; joining ${n} H.264 participants`);
    // Sequential joins: the join order is the layout order the readers are built from.
    for (let i = 0; i < n; i++) {
      const { peer, socket, joined } = await rtpSession(server, roomId, `h264-${i}`, 'publisher');
      const sender = h264Sender(peer);
      const p: Participant = {
        participantId: joined.participantId,
        decoded: 0,
        reader: null,
        close: () => {
          sender.close();
          inbound.close();
          peer.close();
          socket.close();
        },
      };
      const inbound = decodeInbound(peer, (f) => {
        p.decoded++;
        p.reader?.read(f, benchNow());
      });
      participants.push(p);
      sender.start();
    }
    const ids = participants.map((p) => p.participantId);
    for (const p of participants)
      p.reader = new CompositeReader(senderPictures(ids, 640, 360, SOURCE_WIDTH, SOURCE_HEIGHT), 640, 360);
    const deadline = performance.now() + MEDIA_TIMEOUT_MS;
    while (participants.some((p) => p.decoded === 0) && performance.now() < deadline) await sleep(100);
    opts.progress(
      `${participants.filter((p) => p.decoded > 0).length}/${n} decode the composite; warm-up ${opts.warmupMs / 1000} s`,
    );
    await sleep(opts.warmupMs);

    const decoded0 = participants.map((p) => p.decoded);
    for (const p of participants) p.reader?.resetCounters();
    sampler.beginWindow();
    const bench0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(opts.measureMs);
    const seconds = (performance.now() - t0) / 1000;
    const usage = sampler.endWindow();
    const bench = process.cpuUsage(bench0);
    const fps = participants.map((p, i) => (p.decoded - decoded0[i]) / seconds);
    const latencies: number[] = [];
    for (const p of participants) for (const l of p.reader?.counters.latencies ?? []) latencies.push(l);
    const result: H264RoomResult = {
      key,
      title,
      status: 'ok',
      participants: n,
      measuredSeconds: round(seconds),
      serverCpuPercent: round(usage.cpuPercent),
      serverCpuPerParticipant: round(usage.cpuPercent / n),
      mediaWorkerCpuPercent: round(usage.cpuByRole['media-worker']),
      benchCpuPercent: round(((bench.user + bench.system) / 1e6 / seconds) * 100),
      rxFpsMin: round(Math.min(...fps)),
      rxFpsMedian: round(percentile(fps, 50)),
      latencyP50Ms: round(percentile(latencies, 50)),
      latencyP95Ms: round(percentile(latencies, 95)),
      latencySamples: latencies.length,
      dtlsRetries: logs.dtlsRetries,
      cpuRatioToVp8: null,
      serverProblems: server.problems().slice(-10),
    };
    opts.progress(
      `server ${result.serverCpuPercent} % (${result.serverCpuPerParticipant} %/participant), ` +
        `fps min ${result.rxFpsMin}, latency p50 ${result.latencyP50Ms} / p95 ${result.latencyP95Ms} ms`,
    );
    return result;
  } catch (err) {
    opts.progress(`failed: ${(err as Error).message}`);
    return failed(key, title, n, (err as Error).message);
  } finally {
    await teardown();
    untrack();
    logs.restore();
  }
}

function failed(key: string, title: string, n: number, reason: string): H264RoomResult {
  return {
    key,
    title,
    status: 'failed',
    reason: `failed: ${reason}`,
    participants: n,
    measuredSeconds: null,
    serverCpuPercent: null,
    serverCpuPerParticipant: null,
    mediaWorkerCpuPercent: null,
    benchCpuPercent: null,
    rxFpsMin: null,
    rxFpsMedian: null,
    latencyP50Ms: null,
    latencyP95Ms: null,
    latencySamples: 0,
    dtlsRetries: 0,
    cpuRatioToVp8: null,
    serverProblems: [],
  };
}

/** The report's section for the H.264 rooms. */
export function h264Markdown(results: readonly H264RoomResult[]): string[] {
  if (results.length === 0) return [];
  const v = (x: N, suffix = ''): string => (x === null ? '–' : `${x}${suffix}`);
  const lines = ['', '## H.264 participants (RTP-level path, shared encoder)', ''];
  lines.push(
    '| scenario | N | server CPU % | CPU %/participant | × a VP8 participant (std-N) | media worker CPU % | rx fps min / median | latency p50 / p95 ms | bench CPU % | DTLS retries |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of results) {
    if (r.status !== 'ok') {
      lines.push(`| ${r.title} | ${r.participants} | ${r.reason ?? r.status} | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.title} | ${r.participants} | ${v(r.serverCpuPercent)} | ${v(r.serverCpuPerParticipant)} | ${v(r.cpuRatioToVp8)} | ` +
        `${v(r.mediaWorkerCpuPercent)} | ${v(r.rxFpsMin)} / ${v(r.rxFpsMedian)} | ${v(r.latencyP50Ms)} / ${v(r.latencyP95Ms)} | ` +
        `${v(r.benchCpuPercent)} | ${r.dtlsRetries} |`,
    );
  }
  const problems = results.reduce((k, r) => k + r.serverProblems.length, 0);
  lines.push(
    '',
    'Latency is the stamp age (capture → x264 → uplink → our decode → compose → shared encode → decode), with ' +
      'no receive jitter buffer at the endpoints: an upper bound of what the server adds. It is not set against ' +
      "the wrtc baseline, whose median includes libwebrtc's jitter buffer; a browser adds its own buffer. " +
      `Warning/error lines in the server log: ${problems} (in the JSON).`,
  );
  return lines;
}
