/**
 * `npm run bench -- --scenario cluster`: two nodes (two `npm start` processes) on one Redis on
 * this machine; rooms of 4 arrive one by one, their participants connecting alternately to
 * node A and node B. Reports where each room went, each node's CPU, and the join times of
 * participants whose socket is on the hosting node (local) against those relayed from the
 * other node (remote): join ack, and join to first composite frame. Writes
 * bench/results/cluster.{json,md}.
 *
 *   node dist/bench/run.js --scenario cluster [--rooms=N] [--measure=S]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { adminRequest, createRoom, signal, type ServerEndpoint } from './control-api';
import { TreeSampler } from './process-tree';
import { ServerProcess } from './server-process';
import { SyntheticParticipant } from './synthetic-participant';

const RESULTS_DIR = path.resolve(__dirname, '../../bench/results');
const ROOM_SIZE = 4;
const JOIN_TIMEOUT_MS = 30_000;
const RTT_ROUNDS = 20;
const NODE_CAPACITY = 14;

interface JoinSample {
  roomId: string;
  index: number;
  via: string;
  host: string;
  relayed: boolean;
  joinAckMs: number;
  firstFrameMs: number | null;
}

export interface ClusterBenchOptions {
  rooms: number;
  measureMs: number;
  progress: (line: string) => void;
  track: (close: () => Promise<void> | void) => () => void;
}

export async function runClusterBench(opts: ClusterBenchOptions): Promise<void> {
  const redis = await startRedis();
  opts.track(() => {
    redis.kill('SIGKILL');
  });
  const shared = {
    REDIS_URL: redis.url,
    ADMIN_API_KEY: randomBytes(24).toString('hex'),
    JWT_SECRET: randomBytes(32).toString('hex'),
    WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    RECORDINGS_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-bench-cluster-rec-')),
  };
  const nodes: { id: string; proc: ServerProcess; api: ServerEndpoint; sampler: TreeSampler }[] = [];
  for (const id of ['node-a', 'node-b']) {
    const proc = new ServerProcess();
    opts.track(() => proc.stop());
    // A real capacity (ServerProcess turns admission off with a huge one, which would leave
    // placement only the lagging CPU figure): 14 units keeps 3 rooms of 4 on two nodes admitted.
    await proc.start({ ...shared, NODE_ID: id, LOG_LEVEL: 'info', NODE_CAPACITY: String(NODE_CAPACITY) });
    const sampler = new TreeSampler(proc.pid);
    sampler.start();
    opts.track(() => sampler.stop());
    nodes.push({ id, proc, api: { url: proc.url, adminApiKey: shared.ADMIN_API_KEY }, sampler });
  }
  opts.progress(`two nodes up: ${nodes.map((n) => `${n.id} ${n.proc.url}`).join(', ')}`);
  // Each registry entry is refreshed every 2 s: let both be seen with their load.
  await new Promise((r) => setTimeout(r, 2500));

  const samples: JoinSample[] = [];
  const placements: { roomId: string; node: string }[] = [];
  const participants: SyntheticParticipant[] = [];
  for (let r = 0; r < opts.rooms; r++) {
    const roomId = `cluster-${r + 1}`;
    await createRoom(nodes[0].api, { roomId, profile: 'standard', maxParticipants: ROOM_SIZE });
    const ids: string[] = [];
    const inRoom: SyntheticParticipant[] = [];
    for (let i = 0; i < ROOM_SIZE; i++) {
      const via = nodes[i % 2];
      const p = new SyntheticParticipant(r * ROOM_SIZE + i, roomId, 'standard');
      opts.track(() => p.close());
      participants.push(p);
      const t0 = performance.now();
      let firstFrameAt: number | null = null;
      p.onFrame = (at) => (firstFrameAt ??= at);
      const joined = await p.join(via.api, JOIN_TIMEOUT_MS);
      const joinAckMs = performance.now() - t0;
      ids.push(joined.participantId);
      inRoom.push(p);
      for (const q of inRoom) q.setRoomOrder(ids);
      await p.connect(joined);
      const deadline = performance.now() + JOIN_TIMEOUT_MS;
      while (firstFrameAt === null && performance.now() < deadline)
        await new Promise((res) => setTimeout(res, 10));
      const host = await hostOf(nodes[0].api, roomId);
      const frameAt: number | null = firstFrameAt;
      samples.push({
        roomId,
        index: i,
        via: via.id,
        host,
        relayed: host !== via.id,
        joinAckMs: round(joinAckMs),
        firstFrameMs: frameAt === null ? null : round(frameAt - t0),
      });
    }
    const host = await hostOf(nodes[0].api, roomId);
    placements.push({ roomId, node: host });
    opts.progress(`${roomId} (4 participants) on ${host}`);
  }

  // Relay overhead on one signaling round trip: an end-of-candidates `ice` (what every client
  // sends once) goes to the room's media worker and back, directly or through the other node.
  const rtt: { relayed: boolean; ms: number }[] = [];
  for (const [k, p] of participants.entries()) {
    const s = samples[k];
    if (!p.socket) continue;
    for (let i = 0; i < RTT_ROUNDS; i++) {
      const t0 = performance.now();
      await signal(p.socket, 'ice', { candidate: null });
      rtt.push({ relayed: s.relayed, ms: performance.now() - t0 });
    }
  }

  for (const n of nodes) n.sampler.beginWindow();
  opts.progress(`measuring CPU for ${opts.measureMs / 1000} s`);
  await new Promise((r) => setTimeout(r, opts.measureMs));
  const cpu = nodes.map((n) => ({ node: n.id, ...n.sampler.endWindow() }));
  const registry =
    (await adminRequest<{ nodes: unknown[] }>(nodes[0].api, 'GET', '/api/nodes')).body?.nodes ?? [];

  // The first participant of a room also waits for its media worker to start: compared apart.
  const joiners = samples.filter((s) => s.index > 0);
  const stat = (xs: (number | null)[]) => summary(xs.filter((x): x is number => x !== null));
  const result = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, loadavg: os.loadavg() },
    rooms: opts.rooms,
    placements,
    cpu: cpu.map((c) => ({ node: c.node, cpuPercent: round(c.cpuPercent), peakRssMb: round(c.peakRssMb) })),
    registry,
    joins: samples,
    joinAckMs: {
      local: stat(joiners.filter((s) => !s.relayed).map((s) => s.joinAckMs)),
      relayed: stat(joiners.filter((s) => s.relayed).map((s) => s.joinAckMs)),
    },
    signalingRttMs: {
      local: stat(rtt.filter((x) => !x.relayed).map((x) => round(x.ms))),
      relayed: stat(rtt.filter((x) => x.relayed).map((x) => round(x.ms))),
    },
    placementLog: nodes.flatMap((n) => n.proc.logTail.filter((l) => l.includes('"room placed"'))),
    firstFrameMs: {
      local: stat(joiners.filter((s) => !s.relayed).map((s) => s.firstFrameMs)),
      relayed: stat(joiners.filter((s) => s.relayed).map((s) => s.firstFrameMs)),
    },
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, 'cluster.json'), JSON.stringify(result, null, 2) + '\n');
  fs.writeFileSync(path.join(RESULTS_DIR, 'cluster.md'), markdown(result));
  opts.progress(`wrote bench/results/cluster.{json,md}`);
  process.stdout.write(markdown(result));
  for (const p of participants) p.close();
}

async function hostOf(api: ServerEndpoint, roomId: string): Promise<string> {
  const res = await adminRequest<{ node: string | null }>(api, 'GET', `/api/rooms/${roomId}`);
  return res.body?.node ?? 'none';
}

interface Summary {
  n: number;
  median: number | null;
  p90: number | null;
  max: number | null;
}

function summary(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : null);
  return { n: s.length, median: at(0.5), p90: at(0.9), max: s.length ? s[s.length - 1] : null };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function markdown(r: {
  at: string;
  rooms: number;
  machine: { cpus: number; loadavg: number[] };
  placements: { roomId: string; node: string }[];
  cpu: { node: string; cpuPercent: number; peakRssMb: number }[];
  joinAckMs: Record<'local' | 'relayed', Summary>;
  signalingRttMs: Record<'local' | 'relayed', Summary>;
  firstFrameMs: Record<'local' | 'relayed', Summary>;
}): string {
  const row = (name: string, s: Summary) => `| ${name} | ${s.n} | ${s.median} | ${s.p90} | ${s.max} |`;
  return [
    `# Cluster benchmark (${r.at})`,
    '',
    `Two nodes on one Redis on this machine (${r.machine.cpus} cores, load ${r.machine.loadavg.map((x) => x.toFixed(2)).join(' ')} at the end); ${r.rooms} rooms of 4 \`standard\` participants arriving one by one, participants connecting alternately to node-a and node-b.`,
    '',
    '| room | hosted on |',
    '| --- | --- |',
    ...r.placements.map((p) => `| ${p.roomId} | ${p.node} |`),
    '',
    '| node | CPU (% of one core, process tree) | peak RSS (MiB) |',
    '| --- | --- | --- |',
    ...r.cpu.map((c) => `| ${c.node} | ${c.cpuPercent} | ${c.peakRssMb} |`),
    '',
    'Participants 2–4 of each room (the room is already running):',
    '',
    '| join ack (ms) | n | median | p90 | max |',
    '| --- | --- | --- | --- | --- |',
    row('local (socket on the hosting node)', r.joinAckMs.local),
    row('relayed (socket on the other node)', r.joinAckMs.relayed),
    '',
    `| signaling round trip, \`ice\` to the media worker (ms, ${RTT_ROUNDS} per participant) | n | median | p90 | max |`,
    '| --- | --- | --- | --- | --- |',
    row('local', r.signalingRttMs.local),
    row('relayed', r.signalingRttMs.relayed),
    '',
    '| join → first composite frame (ms) | n | median | p90 | max |',
    '| --- | --- | --- | --- | --- |',
    row('local', r.firstFrameMs.local),
    row('relayed', r.firstFrameMs.relayed),
    '',
  ].join('\n');
}

/** A private redis-server on a free loopback port, no persistence. */
async function startRedis(): Promise<ChildProcess & { url: string }> {
  const port = await new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const p = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(p));
    });
  });
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
      s.once('data', (b) => (s.destroy(), resolve(b.toString().startsWith('+PONG'))));
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return Object.assign(child, { url: `redis://127.0.0.1:${port}` });
}
