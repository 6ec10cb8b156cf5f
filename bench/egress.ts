/**
 * Live egress figures (docs/egress.md): CPU of one egress encode per profile, the added cost of
 * a second destination (a remux), the cost of a recording's own encode beside an egress of the
 * same profile, and the HLS delay from a colour change at the publisher to the first fetchable
 * segment that shows it.
 *
 *   npm run build && node dist/bench/egress.js [--measure=S] [--changes=N]
 *
 * Writes bench/results/egress.{json,md}. The publisher sends 640x360 @ 15 fps with a band of
 * fresh noise in every frame (hard to compress, a worst case for x264) and a tone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { EgressView } from '../src/egress/egress.schemas';
import type { Profile } from '../workers/protocol/media';
import * as os from 'node:os';
import { api, ensureRoom, registerAdminKey, token } from '../test/helpers/api';
import { frameContainsColour, rgbToYuv } from '../test/helpers/media-analysis';
import { TestClient } from '../test/helpers/wrtc-client';
import type { Rgb } from '../workers/media/engine/video/i420';
import { processTree, ticksToPercent } from './process-tree';
import { ServerProcess } from './server-process';
import { runProcess } from '../workers/kernel/process-control';
import * as net from 'node:net';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds of each CPU window and colour changes per delay measurement of the current run. */
const settings = { measureS: 10, changes: 5 };

/** The parts of the egress bench; `npm run bench` runs all of them in their short form. */
export const EGRESS_SECTIONS = ['cpu', 'hls', 'player', 'rtmp-ingest', 'rtsp-ingest'] as const;
export type EgressSection = (typeof EGRESS_SECTIONS)[number];

export interface EgressBenchOptions {
  measureS: number;
  changes: number;
  sections: readonly EgressSection[];
  /** Short form: the player at one segment behind the edge only, RTSP over TCP only. */
  short: boolean;
  progress: (line: string) => void;
}

type Cpu = Record<string, { cpu: number; n: number }>;
export interface EgressBenchResult {
  measureSeconds: number;
  changes: number;
  cpus: number;
  /** One HLS egress per profile: CPU (% of one core) of its encode and its remux. */
  perProfile?: Record<string, Cpu>;
  /** HLS + RTMP of one profile: one encode, two remuxes. */
  twoDestinations?: Cpu;
  /** The same with a recording beside them (its own encode). */
  withRecording?: Cpu;
  /** Colour change → first listed segment that shows it, ms (-1: not seen). */
  hlsAvailableMs?: number[];
  /** Colour change → a real hls.js player showing it, by `liveSyncDurationCount`. */
  hlsPlayerMs?: Record<string, number[]>;
  rtmpIngestMs?: number[];
  rtspIngestMs?: Record<string, number[]>;
}

type Server = ServerProcess;
const RED: Rgb = { r: 220, g: 30, b: 30 };
const BLUE: Rgb = { r: 30, g: 60, b: 220 };
const GREEN: Rgb = { r: 40, g: 200, b: 60 };
let serverPid = 0;
const tempDir = (prefix: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `mcu-${prefix}-`));

/** ffmpeg processes under this process, by what they do (from their command line). */
function ffmpegs(): {
  pid: number;
  ticks: number;
  kind: 'egress-encode' | 'remux' | 'recording' | 'other';
}[] {
  return processTree(serverPid)
    .filter((p) => p.comm === 'ffmpeg')
    .map((p) => {
      let cmd = '';
      try {
        cmd = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0').join(' ');
      } catch {
        // exited meanwhile
      }
      const raw = cmd.includes('rawvideo');
      const kind =
        raw && cmd.includes('pipe:1')
          ? ('egress-encode' as const)
          : raw && cmd.includes('-f segment')
            ? ('recording' as const)
            : cmd.includes('-c copy') && cmd.includes('pipe:0')
              ? ('remux' as const)
              : ('other' as const);
      return { pid: p.pid, ticks: p.ticks, kind };
    });
}

/** CPU (% of one core) of each ffmpeg over `seconds`, summed by kind, and the count of each kind. */
async function ffmpegCpu(seconds: number): Promise<Record<string, { cpu: number; n: number }>> {
  const before = new Map(ffmpegs().map((p) => [p.pid, p.ticks]));
  await sleep(seconds * 1000);
  const out: Record<string, { cpu: number; n: number }> = {};
  for (const p of ffmpegs()) {
    const b = before.get(p.pid);
    if (b === undefined) continue;
    const e = (out[p.kind] ??= { cpu: 0, n: 0 });
    e.cpu += ticksToPercent(p.ticks - b, seconds);
    e.n++;
  }
  for (const e of Object.values(out)) e.cpu = Math.round(e.cpu * 10) / 10;
  return out;
}

async function startEgress(
  server: Server,
  roomId: string,
  body: Record<string, unknown>,
): Promise<EgressView> {
  const r = await api<EgressView>(server, `/api/rooms/${roomId}/egress`, { method: 'POST', body });
  if (r.status !== 201) throw new Error(`egress start: ${r.status} ${JSON.stringify(r.body)}`);
  for (let i = 0; i < 150; i++) {
    const g = await api<EgressView>(server, `/api/egress/${r.body.id}`);
    if (g.body.state === 'active') return g.body;
    if (g.body.state === 'failed') throw new Error(`egress failed: ${g.body.error}`);
    await sleep(200);
  }
  throw new Error('egress never became active');
}

const stopEgress = (server: Server, id: string) => api(server, `/api/egress/${id}`, { method: 'DELETE' });

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * Colour change at the publisher → first segment listed in the playlist that shows the new
 * colour. Polls the playlist every 100 ms, fetches each new segment at once and decodes its last
 * frame. This is the time until a viewer *can* have the picture; a player adds its own buffer
 * (docs/egress.md).
 */
async function hlsDelay(server: Server, client: TestClient, roomId: string) {
  const eg = await startEgress(server, roomId, { type: 'hls', profile: 'standard' });
  const base = server.url;
  const plUrl = eg.playlistUrl as string;
  const dir = tempDir('hls-delay');
  const seen = new Set<string>();
  const results: { availableMs: number }[] = [];
  const colours = [BLUE, GREEN];
  await sleep(5000);
  for (let i = 0; i < settings.changes; i++) {
    const colour = colours[i % 2];
    // Mark what is already listed so that only later segments count.
    for (const s of await listed(base, plUrl)) seen.add(s);
    const t0 = Date.now();
    client.setColour(colour);
    let found = -1;
    while (found < 0 && Date.now() - t0 < 20000) {
      await sleep(100);
      for (const s of await listed(base, plUrl)) {
        if (seen.has(s)) continue;
        seen.add(s);
        const at = Date.now();
        const file = path.join(dir, s);
        const res = await fetch(base + plUrl.replace('index.m3u8', s));
        fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
        if (await lastFrameHas(file, colour)) {
          found = at - t0;
          break;
        }
      }
    }
    results.push({ availableMs: found });
    await sleep(1000 + Math.random() * 2000); // land the next change elsewhere within a segment
  }
  await stopEgress(server, eg.id);
  fs.rmSync(dir, { recursive: true, force: true });
  return results;
}

/** What the player page records: each time the picture's dominant test colour changes. */
interface PlayerChange {
  colour: number;
  at: number;
}

/**
 * Glass to glass through a real HLS player: Debian's Chromium plays the egress playlist with the
 * hls.js this server serves (/vendor/hls.js/), the page samples the playing <video> every 20 ms
 * into a canvas and records when its dominant colour changes (wall clock; same machine as the
 * publisher, so one clock). The delay is from the publisher's colour change (its next frame) to
 * the player showing it: WebRTC leg, composite, encode, segmenting, HTTP, the player's buffer and
 * decode. `liveSyncDurationCount` is how many segments behind the live edge hls.js plays (its
 * default 3, and 1 for a low-delay player).
 */
async function playerDelay(
  server: Server,
  client: TestClient,
  roomId: string,
  liveSyncDurationCount: number,
): Promise<number[]> {
  const { chromium } = await import('playwright-core');
  const eg = await startEgress(server, roomId, { type: 'hls', profile: 'standard' });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-gpu'],
  });
  const results: number[] = [];
  // Every run starts from red, so the first change (to blue) is a change.
  client.setColour(RED);
  try {
    const page = await browser.newPage();
    // Same origin as the playlist: no CORS question in this measurement.
    await page.goto(`${server.url}/healthz`);
    await page.addScriptTag({ url: `${server.url}/vendor/hls.js/hls.min.js` });
    const colours = [RED, BLUE, GREEN].map((c) => [c.r, c.g, c.b]);
    await sleep(4000); // a first segment or two listed
    await page.evaluate(
      ([src, sync, targets]) =>
        new Promise<void>((resolve, reject) => {
          type HlsCtor = new (cfg: Record<string, unknown>) => {
            loadSource(u: string): void;
            attachMedia(v: HTMLVideoElement): void;
          };
          const w = window as unknown as { Hls: HlsCtor; changes: PlayerChange[] };
          w.changes = [];
          const video = document.createElement('video');
          video.muted = true;
          video.autoplay = true;
          document.body.replaceChildren(video);
          const hls = new w.Hls({ liveSyncDurationCount: sync, lowLatencyMode: false });
          hls.loadSource(src);
          hls.attachMedia(video);
          const canvas = document.createElement('canvas');
          canvas.width = 32;
          canvas.height = 18;
          const ctx = canvas.getContext('2d', { willReadFrequently: true });
          if (!ctx) return reject(new Error('no 2d canvas'));
          let current = -1;
          setInterval(() => {
            if (video.readyState < 2) return;
            ctx.drawImage(video, 0, 0, 32, 18);
            const px = ctx.getImageData(0, 0, 32, 18).data;
            // The colour that covers the most pixels (within 60 per channel), if ≥ 20 % of them.
            const counts = targets.map(() => 0);
            for (let i = 0; i < px.length; i += 4) {
              for (let k = 0; k < targets.length; k++) {
                const t = targets[k];
                if (
                  Math.abs(px[i] - t[0]) < 60 &&
                  Math.abs(px[i + 1] - t[1]) < 60 &&
                  Math.abs(px[i + 2] - t[2]) < 60
                )
                  counts[k]++;
              }
            }
            let best = 0;
            for (let k = 1; k < counts.length; k++) if (counts[k] > counts[best]) best = k;
            if (counts[best] < 0.2 * 32 * 18 || best === current) return;
            current = best;
            w.changes.push({ colour: best, at: Date.now() });
          }, 20);
          const started = Date.now();
          const ready = setInterval(() => {
            if (w.changes.some((c) => c.colour === 0)) {
              clearInterval(ready);
              resolve();
            } else if (Date.now() - started > 30000) {
              clearInterval(ready);
              reject(new Error(`the player showed no red in 30 s (readyState ${video.readyState})`));
            }
          }, 100);
        }),
      [`${server.url}${eg.playlistUrl as string}`, liveSyncDurationCount, colours] as const,
    );
    await sleep(3000);
    for (let i = 0; i < settings.changes; i++) {
      const k = i % 2 === 0 ? 1 : 2; // BLUE, GREEN, BLUE, …
      const t0 = Date.now();
      client.setColour(k === 1 ? BLUE : GREEN);
      let found = -1;
      while (found < 0 && Date.now() - t0 < 30000) {
        await sleep(100);
        const changes = await page.evaluate(() => (window as unknown as { changes: PlayerChange[] }).changes);
        const hit = changes.find((c) => c.colour === k && c.at >= t0);
        if (hit) found = hit.at - t0;
      }
      results.push(found);
      console.log(`hls player (sync ${liveSyncDurationCount}) change ${i + 1}: ${found} ms`);
      await sleep(1000 + Math.random() * 2000);
    }
  } finally {
    await browser.close();
    await stopEgress(server, eg.id);
  }
  return results;
}

async function listed(base: string, plUrl: string): Promise<string[]> {
  const r = await fetch(base + plUrl);
  if (r.status !== 200) return [];
  return (await r.text()).split('\n').filter((l) => l.endsWith('.ts'));
}

async function lastFrameHas(file: string, colour: Rgb): Promise<boolean> {
  const { stdout } = await runProcess(
    'ffmpeg',
    ['-v', 'error', '-i', file, '-an', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-'],
    { timeoutMs: 20000 },
  );
  const size = (640 * 360 * 3) / 2;
  const n = Math.floor(stdout.length / size);
  if (n === 0) return false;
  const frame = { width: 640, height: 360, data: new Uint8Array(stdout.subarray((n - 1) * size, n * size)) };
  return frameContainsColour(frame, rgbToYuv(colour));
}

/**
 * Source to screen for RTMP ingest: the bench writes raw frames (15 fps) into a publisher ffmpeg
 * (x264 ultrafast zerolatency → FLV → our RTMP port) and times a colour change from the frame
 * that first carries it to the viewer's first decoded frame (WebRTC) that shows it. Includes the
 * publisher's encode, RTMP, the relay, the decode, the composite tick and the WebRTC leg.
 */
async function ingestDelay(server: Server): Promise<number[]> {
  const roomId = 'ingest-bench';
  await ensureRoom(server, roomId);
  const viewer = await TestClient.connect(server.url, {
    roomId,
    displayName: 'viewer',
    role: 'viewer',
    token: await token(server, roomId, { identity: 'viewer', displayName: 'viewer', role: 'viewer' }),
  });
  const r = await api<{ url: string; id: string }>(server, `/api/rooms/${roomId}/ingress`, {
    method: 'POST',
    body: { type: 'rtmp', displayName: 'bench' },
  });
  if (r.status !== 201) throw new Error(`ingress: ${r.status} ${JSON.stringify(r.body)}`);
  const frame = Buffer.alloc((640 * 360 * 3) / 2);
  const fill = (c: Rgb): void => {
    const { y, u, v } = rgbToYuv(c);
    frame.fill(y, 0, 640 * 360);
    frame.fill(u, 640 * 360, 640 * 360 * 1.25);
    frame.fill(v, 640 * 360 * 1.25);
  };
  fill(RED);
  const pub = spawn('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error'],
    ...['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', '640x360', '-r', '15', '-i', 'pipe:0'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30'],
    ...['-f', 'flv', r.body.url],
  ]);
  pub.stdin.on('error', () => undefined);
  pub.stderr.on('data', (b: Buffer) => process.stderr.write(`publisher: ${b.toString()}`));
  let pending: { colour: Rgb; at: number } | null = null;
  let sentAt = 0;
  const timer = setInterval(() => {
    pub.stdin.write(Buffer.from(frame));
    if (pending && sentAt === 0) sentAt = performance.now();
  }, 1000 / 15);
  const results: number[] = [];
  try {
    const waitColour = async (c: Rgb, ms: number): Promise<boolean> => {
      const yuv = rgbToYuv(c);
      const end = performance.now() + ms;
      while (performance.now() < end) {
        if (viewer.latestFrame && frameContainsColour(viewer.latestFrame, yuv)) return true;
        await sleep(5);
      }
      return false;
    };
    if (!(await waitColour(RED, 20000)))
      throw new Error(`ingest never showed up: ${server.logTail.slice(-15).join('\n')}`);
    await sleep(2000);
    for (let i = 0; i < settings.changes; i++) {
      const colour = i % 2 === 0 ? BLUE : GREEN;
      sentAt = 0;
      pending = { colour, at: 0 };
      fill(colour);
      const ok = await waitColour(colour, 10000);
      results.push(ok && sentAt > 0 ? Math.round(performance.now() - sentAt) : -1);
      pending = null;
      await sleep(1000 + Math.random() * 500);
    }
  } finally {
    clearInterval(timer);
    pub.stdin.end();
    pub.kill('SIGTERM');
    await viewer.close();
  }
  return results;
}

/**
 * Source to screen for RTSP ingest: GStreamer's RTSP server (test/helpers/rtsp-server.py, live
 * 320x180 @ 15 fps H.264 + AAC, x264 zerolatency) changes its colour when told on stdin; the time
 * runs from that line to the viewer's first decoded frame (WebRTC) that shows it. Includes the
 * source's next frame (≤ 67 ms at 15 fps), its encode, RTP over TCP or UDP, ffmpeg's decode, the
 * composite tick and the WebRTC leg.
 */
async function rtspDelay(server: Server, transport: 'tcp' | 'udp'): Promise<number[]> {
  const roomId = `rtsp-bench-${transport}`;
  await ensureRoom(server, roomId);
  const hex = (c: Rgb) => [c.r, c.g, c.b].map((v) => v.toString(16).padStart(2, '0')).join('');
  const port = await freePort();
  const script = path.join(__dirname, '../../test/helpers/rtsp-server.py');
  const source = spawn('/usr/bin/python3', [script, String(port), hex(RED), '440'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    source.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    source.once('exit', (code) => reject(new Error(`RTSP server exited (${code})`)));
  });
  const viewer = await TestClient.connect(server.url, {
    roomId,
    displayName: 'viewer',
    role: 'viewer',
    token: await token(server, roomId, { identity: 'viewer', displayName: 'viewer', role: 'viewer' }),
  });
  const r = await api<{ id: string }>(server, `/api/rooms/${roomId}/ingress`, {
    method: 'POST',
    body: {
      type: 'url',
      displayName: 'camera',
      url: `rtsp://127.0.0.1:${port}/live`,
      rtspTransport: transport,
    },
  });
  if (r.status !== 201) throw new Error(`rtsp ingress: ${r.status} ${JSON.stringify(r.body)}`);
  const waitColour = async (c: Rgb, ms: number): Promise<boolean> => {
    const yuv = rgbToYuv(c);
    const end = performance.now() + ms;
    while (performance.now() < end) {
      if (viewer.latestFrame && frameContainsColour(viewer.latestFrame, yuv)) return true;
      await sleep(5);
    }
    return false;
  };
  const results: number[] = [];
  try {
    if (!(await waitColour(RED, 20000))) throw new Error('the RTSP source never showed up');
    await sleep(2000);
    for (let i = 0; i < settings.changes; i++) {
      const colour = i % 2 === 0 ? BLUE : GREEN;
      const t0 = performance.now();
      source.stdin.write(`${hex(colour)}\n`);
      const ok = await waitColour(colour, 10000);
      results.push(ok ? Math.round(performance.now() - t0) : -1);
      await sleep(1000 + Math.random() * 500);
    }
  } finally {
    await api(server, `/api/ingress/${r.body.id}`, { method: 'DELETE' });
    await viewer.close();
    source.kill('SIGTERM');
  }
  return results;
}

/** Runs the chosen sections against one server with one publisher (red, 440 Hz, noisy picture). */
export async function runEgressBench(opts: EgressBenchOptions): Promise<EgressBenchResult> {
  settings.measureS = opts.measureS;
  settings.changes = opts.changes;
  const has = (s: EgressSection): boolean => opts.sections.includes(s);
  const server = new ServerProcess();
  await server.start({ EGRESS_HLS_RETENTION_S: '1', RTMP_PORT: String(await freePort()) });
  serverPid = server.pid;
  registerAdminKey(server.url, server.adminApiKey);
  const roomId = 'egress-bench';
  const out: EgressBenchResult = {
    measureSeconds: opts.measureS,
    changes: opts.changes,
    cpus: os.cpus().length,
  };
  let client: TestClient | null = null;
  const recvDir = tempDir('egress-bench');
  try {
    await ensureRoom(server, roomId);
    const pub = await TestClient.connect(server.url, {
      roomId,
      displayName: 'pub',
      token: await token(server, roomId, { identity: 'pub', displayName: 'pub' }),
      colour: RED,
      toneHz: 440,
      noise: true,
      videoWidth: 640,
      videoHeight: 360,
    });
    client = pub;
    await sleep(4000);

    if (has('cpu')) {
      // 1. One HLS egress per profile: its encode and its remux.
      const perProfile: Record<string, Cpu> = {};
      for (const profile of ['low', 'standard', 'high'] as Profile[]) {
        const eg = await startEgress(server, roomId, { type: 'hls', profile });
        await sleep(2000);
        perProfile[profile] = await ffmpegCpu(opts.measureS);
        await stopEgress(server, eg.id);
        await sleep(2000);
        opts.progress(`egress ${profile}: ${JSON.stringify(perProfile[profile])}`);
      }
      out.perProfile = perProfile;

      // 2. A second destination of the same profile: one more remux, the encode shared.
      const port = await freePort();
      const receiver = spawn(
        'ffmpeg',
        [
          ...['-v', 'error', '-y', '-listen', '1', '-i', `rtmp://127.0.0.1:${port}/live/x`],
          ...['-c', 'copy', '-f', 'mpegts', path.join(recvDir, 'r.ts')],
        ],
        { stdio: 'ignore' },
      );
      try {
        const hls = await startEgress(server, roomId, { type: 'hls', profile: 'standard' });
        const rtmp = await startEgress(server, roomId, {
          type: 'rtmp',
          url: `rtmp://127.0.0.1:${port}/live/x`,
          profile: 'standard',
        });
        await sleep(2000);
        out.twoDestinations = await ffmpegCpu(opts.measureS);
        opts.progress(`egress two destinations: ${JSON.stringify(out.twoDestinations)}`);

        // 3. A recording beside them (RECORDING_PROFILE = high by default; here the same profile
        // would need the same settings): what its own encode costs, i.e. what sharing would save.
        const rec = await api<{ id: string }>(server, `/api/rooms/${roomId}/recordings`, {
          method: 'POST',
          body: {},
        });
        await sleep(2000);
        out.withRecording = await ffmpegCpu(opts.measureS);
        opts.progress(`egress with recording: ${JSON.stringify(out.withRecording)}`);
        await api(server, `/api/recordings/${rec.body.id}/stop`, { method: 'POST' });
        await stopEgress(server, rtmp.id);
        await stopEgress(server, hls.id);
      } finally {
        receiver.kill('SIGTERM');
      }
      await sleep(1000);
    }

    if (has('hls')) {
      // 4. HLS: colour change → first fetchable segment with it.
      out.hlsAvailableMs = (await hlsDelay(server, pub, roomId)).map((d) => d.availableMs);
      opts.progress(`hls segment delay: ${JSON.stringify(out.hlsAvailableMs)}`);
    }
    if (has('player')) {
      // 4b. Glass to glass through a real player (hls.js in Chromium): one segment behind the
      // live edge (the admin page's setting) and hls.js's default of three.
      out.hlsPlayerMs = {};
      for (const sync of opts.short ? [1] : [1, 3]) {
        out.hlsPlayerMs[`liveSyncDurationCount${sync}`] = await playerDelay(server, pub, roomId, sync);
        opts.progress(
          `hls player delay (sync ${sync}): ${JSON.stringify(out.hlsPlayerMs[`liveSyncDurationCount${sync}`])}`,
        );
      }
    }
    if (has('rtmp-ingest')) {
      // 5. RTMP ingest: a colour change in the raw frames a publisher encodes → a viewer's screen.
      out.rtmpIngestMs = await ingestDelay(server);
      opts.progress(`rtmp ingest delay: ${JSON.stringify(out.rtmpIngestMs)}`);
    }
    if (has('rtsp-ingest')) {
      // 6. RTSP ingest: a colour change at the RTSP source → a viewer's screen.
      out.rtspIngestMs = {};
      for (const t of opts.short ? (['tcp'] as const) : (['tcp', 'udp'] as const)) {
        out.rtspIngestMs[t] = await rtspDelay(server, t);
        opts.progress(`rtsp ingest delay (${t}): ${JSON.stringify(out.rtspIngestMs[t])}`);
      }
    }
  } finally {
    await client?.close();
    await server.stop();
    fs.rmSync(recvDir, { recursive: true, force: true });
  }
  return out;
}

const span = (xs: readonly number[] | undefined): string => {
  const seen = (xs ?? []).filter((x) => x >= 0);
  if (seen.length === 0) return 'n/a';
  const sorted = [...seen].sort((a, b) => a - b);
  const missed = (xs ?? []).length - seen.length;
  return `${sorted[0]}–${sorted[sorted.length - 1]} (median ${sorted[Math.floor(sorted.length / 2)]})${missed ? `, ${missed} not seen` : ''}`;
};

/** The egress section of a bench report. */
export function egressMarkdown(r: EgressBenchResult): string {
  const lines = [
    `CPU in % of one core over ${r.measureSeconds} s windows; delays in ms over ${r.changes} colour changes.`,
    '',
  ];
  if (r.perProfile) {
    lines.push('| what | encode CPU % | remux CPU % | recording encode CPU % |', '|---|---|---|---|');
    for (const [profile, c] of Object.entries(r.perProfile))
      lines.push(
        `| one HLS egress, ${profile} | ${c['egress-encode']?.cpu ?? 'n/a'} | ${c.remux?.cpu ?? 'n/a'} | |`,
      );
    const two = r.twoDestinations;
    if (two)
      lines.push(
        `| HLS + RTMP, standard (encodes: ${two['egress-encode']?.n ?? 0}) | ${two['egress-encode']?.cpu ?? 'n/a'} | ${two.remux?.cpu ?? 'n/a'} (${two.remux?.n ?? 0}) | |`,
      );
    const rec = r.withRecording;
    if (rec)
      lines.push(
        `| the same + a recording | ${rec['egress-encode']?.cpu ?? 'n/a'} | ${rec.remux?.cpu ?? 'n/a'} | ${rec.recording?.cpu ?? 'n/a'} |`,
      );
    lines.push('');
  }
  const delays: Array<[string, number[] | undefined]> = [
    ['HLS: colour change → first listed segment showing it', r.hlsAvailableMs],
    ...Object.entries(r.hlsPlayerMs ?? {}).map(
      ([k, v]) =>
        [`HLS glass to glass, hls.js ${k.replace('liveSyncDurationCount', 'liveSyncDurationCount ')}`, v] as [
          string,
          number[],
        ],
    ),
    ['RTMP ingest: source → a participant’s screen', r.rtmpIngestMs],
    ...Object.entries(r.rtspIngestMs ?? {}).map(
      ([k, v]) => [`RTSP ingest (${k}): source → a participant’s screen`, v] as [string, number[]],
    ),
  ];
  const shown = delays.filter(([, v]) => v !== undefined);
  if (shown.length > 0) {
    lines.push('| delay | ms (min–max) |', '|---|---|');
    for (const [what, v] of shown) lines.push(`| ${what} | ${span(v)} |`);
  }
  return lines.join('\n');
}

/**
 * `npm run bench:egress [-- --measure=S --changes=N]` runs every section in full and writes
 * bench/results/egress.{json,md}; `--player-only`, `--rtsp-only`, `--ingest-only` run one section
 * and print it (the player's also to bench/results/egress-player.json).
 */
async function main(): Promise<void> {
  const arg = (name: string, dflt: number): number => {
    const a = process.argv.find((x) => x.startsWith(`--${name}=`));
    return a ? Number(a.split('=')[1]) : dflt;
  };
  const only = process.argv.includes('--player-only')
    ? 'player'
    : process.argv.includes('--rtsp-only')
      ? 'rtsp-ingest'
      : process.argv.includes('--ingest-only')
        ? 'rtmp-ingest'
        : null;
  const r = await runEgressBench({
    measureS: arg('measure', 10),
    changes: arg('changes', 5),
    sections: only ? [only] : EGRESS_SECTIONS,
    short: false,
    progress: (l) => console.log(l),
  });
  const resultsDir = path.join(__dirname, '../../bench/results');
  fs.mkdirSync(resultsDir, { recursive: true });
  if (only === 'player')
    fs.writeFileSync(path.join(resultsDir, 'egress-player.json'), JSON.stringify(r, null, 2) + '\n');
  if (!only) {
    fs.writeFileSync(path.join(resultsDir, 'egress.json'), JSON.stringify(r, null, 2) + '\n');
    fs.writeFileSync(
      path.join(resultsDir, 'egress.md'),
      `# Egress and ingest (npm run bench:egress)\n\n${new Date().toISOString()}\n\n${egressMarkdown(r)}\n`,
    );
  }
  console.log(egressMarkdown(r));
  process.exit(0);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
