import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { IngressView } from '../../../src/ingress/ingress.schemas';
import { api } from '../../helpers/api';
import { BLUE, RED, joinRoom, type TestServer } from '../../helpers/live-room';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { startTestServer, tempDir } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (c: { r: number; g: number; b: number }) =>
  '0x' + [c.r, c.g, c.b].map((v) => v.toString(16).padStart(2, '0')).join('');

/**
 * A plain static HTTP server over `dir`, with single byte ranges (ffmpeg seeks an MP4 over HTTP
 * with `Range`, and `-stream_loop` goes back to the start that way). Records what was asked.
 */
function staticServer(dir: string): Promise<{ url: string; requests: string[]; close(): void }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const name = path.basename(decodeURIComponent((req.url ?? '/').split('?')[0]));
    requests.push(`${req.method} ${name}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    const file = path.join(dir, name);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const size = fs.statSync(file).size;
    const type = name.endsWith('.m3u8')
      ? 'application/vnd.apple.mpegurl'
      : name.endsWith('.ts')
        ? 'video/mp2t'
        : 'video/mp4';
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && range[1] !== '') {
      const start = Number(range[1]);
      const end = range[2] !== '' ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-type': type,
        'accept-ranges': 'bytes',
        'content-length': end - start + 1,
        'content-range': `bytes ${start}-${end}/${size}`,
      });
      fs.createReadStream(file, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { 'content-type': type, 'accept-ranges': 'bytes', 'content-length': size });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
        close: () => server.close(),
      }),
    ),
  );
}

/** A live HLS source: ffmpeg writes 1 s segments and a sliding playlist into `dir`, paced. */
function liveHls(dir: string): ChildProcess {
  return spawn(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-y'],
      ...['-re', '-f', 'lavfi', '-i', `color=c=${hex(BLUE)}:size=640x360:rate=15`],
      ...['-re', '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-pix_fmt', 'yuv420p', '-c:a', 'aac'],
      ...['-f', 'hls', '-hls_time', '1', '-hls_list_size', '5', '-hls_flags', 'delete_segments'],
      path.join(dir, 'live.m3u8'),
    ],
    { stdio: 'ignore' },
  );
}

describe('HTTP pull ingest (an MP4 file and a live HLS stream served over plain HTTP)', () => {
  const files = tempDir('http-ingest');
  let web: Awaited<ReturnType<typeof staticServer>>;
  let server: TestServer;
  let viewer: TestClient;
  let hlsSource: ChildProcess | null = null;

  beforeAll(async () => {
    // A 2 s clip with the moov atom first: red picture, 440 Hz tone.
    execFileSync('ffmpeg', [
      ...['-v', 'error', '-y'],
      ...['-f', 'lavfi', '-i', `color=c=${hex(RED)}:size=640x360:rate=15`],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
      ...['-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac'],
      ...['-movflags', '+faststart', path.join(files, 'clip.mp4')],
    ]);
    web = await staticServer(files);
    server = await startTestServer();
  });
  afterAll(async () => {
    hlsSource?.kill('SIGKILL');
    await viewer?.close();
    await server?.close();
    web?.close();
    fs.rmSync(files, { recursive: true, force: true });
  });

  it('pulls an MP4 over HTTP in a loop and a live HLS playlist: colours and tones reach a participant', async () => {
    viewer = await joinRoom(server, 'http-room', 'viewer', { role: 'viewer' });
    const post = (body: unknown) =>
      api<IngressView>(server, '/api/rooms/http-room/ingress', { method: 'POST', body });

    const mp4Url = `${web.url}/clip.mp4`;
    const clip = await post({ type: 'url', displayName: 'Clip', url: mp4Url, loop: true });
    expect(clip.status).toBe(201);
    expect(clip.body).toMatchObject({ type: 'url', url: mp4Url, loop: true });
    const red = rgbToYuv(RED);
    await waitFor(() => !!viewer.latestFrame && frameContainsColour(viewer.latestFrame, red), 30000, 'red');
    await waitFor(() => goertzel(viewer.recentAudio(1000), 48000, 440) > 0.1, 20000, '440 Hz');
    // Past the end of the 2 s clip: it plays again (ffmpeg reopens or seeks it over HTTP).
    const firstRequests = web.requests.filter((r) => r.includes('clip.mp4')).length;
    await sleep(5000);
    expect(frameContainsColour(viewer.latestFrame!, red)).toBe(true);
    expect(goertzel(viewer.recentAudio(1000), 48000, 440)).toBeGreaterThan(0.1);
    expect(web.requests.filter((r) => r.includes('clip.mp4')).length).toBeGreaterThan(firstRequests);

    // A live HLS stream: a sliding playlist of 1 s segments, fetched over HTTP as it grows.
    hlsSource = liveHls(files);
    await waitFor(() => fs.existsSync(path.join(files, 'live.m3u8')), 20000, 'the live playlist');
    await sleep(2000); // a few segments listed
    const live = await post({ type: 'url', displayName: 'Live', url: `${web.url}/live.m3u8` });
    expect(live.status).toBe(201);
    const blue = rgbToYuv(BLUE);
    await waitFor(
      () => !!viewer.latestFrame && frameContainsColour(viewer.latestFrame, blue),
      30000,
      'blue from the live HLS source',
    );
    await waitFor(() => goertzel(viewer.recentAudio(1000), 48000, 880) > 0.1, 20000, '880 Hz');
    // Both sources are in the room at once: the clip still plays beside the live stream.
    expect(frameContainsColour(viewer.latestFrame!, red)).toBe(true);
    const segmentsFetched = web.requests.filter((r) => /live\d+\.ts/.test(r)).length;
    await sleep(3000);
    expect(web.requests.filter((r) => /live\d+\.ts/.test(r)).length).toBeGreaterThan(segmentsFetched);

    const roster = await api<{ participants: Array<{ displayName: string; role: string }> }>(
      server,
      '/api/rooms/http-room/participants',
    );
    expect(roster.body.participants.map((p) => `${p.displayName}:${p.role}`).sort()).toEqual([
      'Clip:ingress',
      'Live:ingress',
      'viewer:viewer',
    ]);
    for (const id of [clip.body.id, live.body.id])
      expect((await api(server, `/api/ingress/${id}`, { method: 'DELETE' })).status).toBe(200);
    await waitFor(
      () =>
        !!viewer.latestFrame &&
        !frameContainsColour(viewer.latestFrame, red) &&
        !frameContainsColour(viewer.latestFrame, blue),
      20000,
      'both tiles gone',
    );
  });

  it('refuses an HTTP URL without a host, and a missing file over HTTP leaves the room as it was', async () => {
    const bad = await api<{ error: string }>(server, '/api/rooms/http-room/ingress', {
      method: 'POST',
      body: { type: 'url', displayName: 'Bad', url: 'http://' },
    });
    expect(bad.status).toBe(422);
    const missing = await api<IngressView>(server, '/api/rooms/http-room/ingress', {
      method: 'POST',
      body: { type: 'url', displayName: 'Missing', url: `${web.url}/nothing.mp4` },
    });
    // Accepted (a pull source may come later), retried in the background, never a crash.
    expect(missing.status).toBe(201);
    await waitFor(() => web.requests.filter((r) => r.includes('nothing.mp4')).length >= 2, 20000, 'a retry');
    expect(frameContainsColour(viewer.latestFrame!, rgbToYuv(RED))).toBe(false);
    expect((await api(server, `/api/ingress/${missing.body.id}`, { method: 'DELETE' })).status).toBe(200);
    const health = await fetch(`${server.url}/readyz`);
    expect(health.status).toBe(200);
  });
});
